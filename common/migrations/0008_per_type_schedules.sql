-- 0008: a schedule per data type, a version per store, and what each run syncs (issue 16).
--
-- A store had one schedule for orders, ads and LTV. Now orders keep `schedule` and ads get their
-- own (`ads_schedule`, `ads_staleness_seconds`); existing stores take their one schedule and
-- staleness for both, so nothing changes for them. A fire syncs the types whose schedule is due
-- at that instant and whose data is stale; `sync_runs.data_types` records which (history from
-- before this migration synced both). Freshness per type is the last completed run that synced
-- it.
--
-- `version` moves on every change of a store: an edit based on an older read is refused
-- (UpsertStoreRequest.expected_version, HTTP PUT's 409) instead of silently undoing another.
--
-- A backfill re-reads the orders created on a range of days: the range travels with its run.
ALTER TABLE stores
  ADD COLUMN ads_schedule          text,
  ADD COLUMN ads_staleness_seconds bigint,
  ADD COLUMN version               bigint NOT NULL DEFAULT 1 CHECK (version >= 1);
UPDATE stores SET ads_schedule = schedule, ads_staleness_seconds = staleness_seconds;
ALTER TABLE stores
  ALTER COLUMN ads_schedule SET NOT NULL,
  ALTER COLUMN ads_schedule SET DEFAULT '0 */6 * * *',
  ALTER COLUMN ads_staleness_seconds SET NOT NULL,
  ALTER COLUMN ads_staleness_seconds SET DEFAULT 3600,
  ADD CONSTRAINT stores_ads_staleness_check CHECK (ads_staleness_seconds >= 0);

ALTER TABLE sync_runs
  ADD COLUMN data_types    text[] NOT NULL DEFAULT '{orders,ads}'
    CHECK (data_types <@ '{orders,ads}'::text[] AND cardinality(data_types) > 0),
  ADD COLUMN backfill_from date,
  ADD COLUMN backfill_to   date,
  ADD CONSTRAINT sync_runs_backfill_check
    CHECK ((backfill_from IS NULL) = (backfill_to IS NULL) AND backfill_from <= backfill_to);
