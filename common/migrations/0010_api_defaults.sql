-- 0010: the API versions a store registered by SQL alone gets (issue 18). The scheduler fills
-- these in itself for every store registered through it; the column defaults only say the same.
-- Shopify supports a stable version for at least twelve months and Meta a Graph API version for
-- about two years: 2024-01 and v19.0 are past both. Existing stores keep the versions they were
-- registered with (pinned per store): a store on a version past its support is served as the
-- oldest supported one, and the worker logs that once per store and counts it
-- (autosync_worker_source_deprecated_total).
-- orders_api keeps its column default ('rest'): stores registered through the scheduler get its
-- --default_orders_api (graphql); a row written by hand says which API it wants.
ALTER TABLE stores
  ALTER COLUMN orders_api_version SET DEFAULT '2026-10',
  ALTER COLUMN ads_api_version SET DEFAULT 'v24.0';
