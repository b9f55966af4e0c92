-- 0011: data quality (issue 17): quarantine, and the counts of what runs kept out or removed.
--
-- Quarantine. A record that parses but breaks a business rule
-- (sync-worker/connectors/record_rules.h) is not written to `orders` or `ads`: it is kept here,
-- one row per store, kind and record, with the rule it broke, the run and source page it came
-- from and its raw JSON (minified, cut at 16 KiB). A later sighting replaces the row (last_seen,
-- times_seen move); the record arriving valid deletes it (the worker's page write does).
CREATE TABLE quarantined_records (
  store_id       text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
  kind           text NOT NULL CHECK (kind IN ('order', 'ad')),
  record_key     text NOT NULL,  -- the order id; "<campaign_id>/<YYYY-MM-DD>" for an ad row
  rule           text NOT NULL,
  detail         text NOT NULL DEFAULT '',
  run_id         text NOT NULL DEFAULT '',
  source         text NOT NULL DEFAULT '',
  raw            text NOT NULL DEFAULT '',
  raw_truncated  boolean NOT NULL DEFAULT false,
  first_seen     timestamptz NOT NULL DEFAULT now(),
  last_seen      timestamptz NOT NULL DEFAULT now(),
  times_seen     bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (store_id, kind, record_key)
);
CREATE INDEX quarantined_records_store_last_seen ON quarantined_records (store_id, last_seen DESC);

-- A run's counts say how many records it quarantined ("completed with warnings") and how many
-- orders it removed because the source deleted them (Shopify's order destroy events).
ALTER TABLE sync_runs
  ADD COLUMN orders_quarantined bigint NOT NULL DEFAULT 0,
  ADD COLUMN ads_quarantined bigint NOT NULL DEFAULT 0,
  ADD COLUMN orders_deleted bigint NOT NULL DEFAULT 0;

-- More cursors per store: 'deletions' (the newest order destroy event applied), and
-- 'orders_sweep' / 'ads_sweep' (when the daily late-change sweep last re-read the store's recent
-- orders / ad days, in the worker's clock).
ALTER TABLE sync_tracking DROP CONSTRAINT sync_tracking_stage_check;
ALTER TABLE sync_tracking ADD CONSTRAINT sync_tracking_stage_check
  CHECK (stage IN ('orders', 'ads', 'ltv', 'deletions', 'orders_sweep', 'ads_sweep'));
