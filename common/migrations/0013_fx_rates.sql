-- 0013: money in one currency (issue 17). Orders are stored in the shop's currency (REST
-- `total_price` etc., GraphQL `…Set.shopMoney`); ad spend may be in another (the ad account's).
-- The operator loads daily reference rates (the ECB's, through Scheduler.ImportFxRates) into
-- fx_rates, and the cohorts convert each day's ad spend into the shop's currency before CAC.

-- Units of `currency` per 1 EUR on `day`, as the ECB quotes them. EUR itself is implicitly 1
-- and never stored.
CREATE TABLE fx_rates (
  day        date NOT NULL,
  currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$' AND currency <> 'EUR'),
  per_eur    numeric NOT NULL CHECK (per_eur > 0),
  loaded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (day, currency)
);
CREATE INDEX fx_rates_currency_day ON fx_rates (currency, day);

-- The rate of `code` for `on_day`: the latest one on that day or at most 4 days before it, or
-- NULL ("no rate"). The ECB publishes no rates on weekends and TARGET holidays; carrying the last
-- published rate forward over them is what accountants do with ECB rates, and 4 days covers the
-- longest closure (Good Friday to Easter Monday). Beyond that a rate is missing, not guessed:
-- the cohort's CAC stays empty with a note (customer_ltv_cohorts.cac_note).
-- Converting an amount from A to S on day d: amount * fx_per_eur(S, d) / fx_per_eur(A, d).
CREATE FUNCTION fx_per_eur(code text, on_day date) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN code = 'EUR' THEN 1::numeric
              ELSE (SELECT per_eur FROM fx_rates
                    WHERE currency = code AND day BETWEEN on_day - 4 AND on_day
                    ORDER BY day DESC LIMIT 1) END
$$;

-- A cohort whose month has ad spend that cannot be converted (no rate for a day, or a shop
-- currency nobody knows) has no ad_spend, cac or ltv_to_cac (NULL) and says why here, e.g.
-- "no EUR→USD rate for 2026-11-03 (…; load ECB rates: ImportFxRates)". ltv_cells (the
-- incremental path's cells) hold no money of the ads: both paths derive spend here, from `ads`
-- and fx_rates, at every recompute, so newly loaded rates count at the next one.
ALTER TABLE customer_ltv_cohorts
  ALTER COLUMN ad_spend DROP NOT NULL,
  ADD COLUMN cac_note text NOT NULL DEFAULT '';
