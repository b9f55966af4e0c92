-- 0001: the tables of docs/DESIGN.md ("Tables"). Applied once, inside a transaction, under the migration lock.

CREATE TABLE stores (
  store_id            text PRIMARY KEY CHECK (store_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  display_name        text NOT NULL DEFAULT '',
  schedule            text NOT NULL DEFAULT '0 * * * *',
  timezone            text NOT NULL DEFAULT 'UTC',
  enabled             boolean NOT NULL DEFAULT true,
  staleness_seconds   bigint NOT NULL DEFAULT 3600 CHECK (staleness_seconds >= 0),
  jitter_seconds      bigint NOT NULL DEFAULT 0 CHECK (jitter_seconds >= 0),
  pause_note          text NOT NULL DEFAULT '',
  orders_api_base     text NOT NULL DEFAULT '',
  orders_api_version  text NOT NULL DEFAULT '2024-01',
  ads_api_base        text NOT NULL DEFAULT '',
  ads_api_version     text NOT NULL DEFAULT 'v19.0',
  ad_account_id       text NOT NULL DEFAULT '',
  -- "env:NAME" or "file:/path": where the worker reads the API token; never the token itself.
  credentials_ref     text NOT NULL DEFAULT '',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Cursor and last success per store and stage (orders, ads, ltv).
CREATE TABLE sync_tracking (
  store_id            text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
  stage               text NOT NULL CHECK (stage IN ('orders', 'ads', 'ltv')),
  -- orders: max updated_at committed so far; ads: last day fetched.
  cursor_at           timestamptz,
  -- Opaque resume point within a run (e.g. the last order id at cursor_at).
  cursor_value        text NOT NULL DEFAULT '',
  last_success_at     timestamptz,
  last_run_id         text,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, stage)
);

-- Run history. One running run per store is enforced by sync_runs_one_running; a cron tick is
-- claimed once by sync_runs_one_per_tick.
CREATE TABLE sync_runs (
  run_id              text PRIMARY KEY,
  store_id            text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
  trigger             text NOT NULL CHECK (trigger IN ('cron', 'manual', 'api')),
  status              text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'skipped')),
  stage               text NOT NULL DEFAULT 'starting',
  scheduled_for       timestamptz,
  started_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  heartbeat_at        timestamptz NOT NULL DEFAULT now(),
  owner               text NOT NULL DEFAULT '',
  orders_fetched      bigint NOT NULL DEFAULT 0,
  orders_written      bigint NOT NULL DEFAULT 0,
  ads_fetched         bigint NOT NULL DEFAULT 0,
  ads_written         bigint NOT NULL DEFAULT 0,
  cohort_rows         bigint NOT NULL DEFAULT 0,
  pages               bigint NOT NULL DEFAULT 0,
  error               text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sync_runs_one_running ON sync_runs (store_id) WHERE status = 'running';
CREATE UNIQUE INDEX sync_runs_one_per_tick ON sync_runs (store_id, scheduled_for)
  WHERE trigger = 'cron';
CREATE INDEX sync_runs_store_started ON sync_runs (store_id, started_at DESC);
CREATE INDEX sync_runs_running_heartbeat ON sync_runs (heartbeat_at) WHERE status = 'running';

-- Orders as the store API returns them; money in the store's currency.
-- No foreign key to stores: bulk upserts stay fast; DeleteStore removes a store's rows itself.
CREATE TABLE orders (
  store_id            text NOT NULL,
  order_id            bigint NOT NULL,
  name                text NOT NULL DEFAULT '',
  email               text NOT NULL DEFAULT '',
  customer_id         bigint,               -- NULL: guest checkout
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  processed_at        timestamptz,
  cancelled_at        timestamptz,
  currency            text NOT NULL DEFAULT '',
  total_price         numeric(16, 2) NOT NULL DEFAULT 0,
  subtotal_price      numeric(16, 2) NOT NULL DEFAULT 0,
  total_tax           numeric(16, 2) NOT NULL DEFAULT 0,
  total_discounts     numeric(16, 2) NOT NULL DEFAULT 0,
  current_total_price numeric(16, 2),
  refunded_amount     numeric(16, 2) NOT NULL DEFAULT 0,
  financial_status    text NOT NULL DEFAULT '',
  test                boolean NOT NULL DEFAULT false,
  synced_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, order_id)
);
CREATE INDEX orders_store_customer ON orders (store_id, customer_id, created_at);
CREATE INDEX orders_store_updated ON orders (store_id, updated_at);

-- Daily ad spend per campaign (day in the ad account's time zone).
CREATE TABLE ads (
  store_id            text NOT NULL,
  date                date NOT NULL,
  campaign_id         text NOT NULL,
  campaign_name       text NOT NULL DEFAULT '',
  spend               numeric(16, 2) NOT NULL DEFAULT 0,
  impressions         bigint NOT NULL DEFAULT 0,
  clicks              bigint NOT NULL DEFAULT 0,
  purchases           bigint NOT NULL DEFAULT 0,
  purchase_value      numeric(16, 2) NOT NULL DEFAULT 0,
  currency            text NOT NULL DEFAULT '',
  synced_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, date, campaign_id)
);

-- Cohort table: cohort month (store's time zone) x months since first order.
CREATE TABLE customer_ltv_cohorts (
  store_id                         text NOT NULL,
  cohort_month                     date NOT NULL,
  month_offset                     integer NOT NULL CHECK (month_offset >= 0),
  cohort_customers                 bigint NOT NULL,
  active_customers                 bigint NOT NULL,
  orders                           bigint NOT NULL,
  net_revenue                      numeric(18, 2) NOT NULL,
  cumulative_revenue               numeric(18, 2) NOT NULL,
  cumulative_revenue_per_customer  numeric(18, 4) NOT NULL,
  retention                        double precision NOT NULL,
  ad_spend                         numeric(18, 2) NOT NULL DEFAULT 0,
  cac                              numeric(18, 4),
  ltv_to_cac                       double precision,
  computed_at                      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, cohort_month, month_offset)
);
