-- 0007: a version of the stores table, and an index of completed runs by finish time
-- (issue 15: a scheduler with 1M stores idles at <= 0.01 cores).
--
-- Every replica refreshes its whole schedule from `stores` once a minute, a safety net behind the
-- per-store NOTIFY (a replica that missed one still converges). At 1M stores that reload (the
-- rows, a cron evaluation each, the new fire heap) was most of an idle scheduler's CPU. Now a
-- replica reads this version first and reloads only when it moved since its last load. The
-- version is a row, bumped by a statement trigger in the writing transaction, so a reader sees
-- it move exactly when the change is visible (a sequence would move before the commit, and a
-- refresh between the two would skip the change for good). Writes to `stores` are store
-- management (create, edit, pause, delete): rare, short, and serialized on this row, which is
-- cheap at that rate.
CREATE TABLE stores_version (
  id      integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  version bigint NOT NULL DEFAULT 0
);
INSERT INTO stores_version DEFAULT VALUES;

CREATE FUNCTION stores_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE stores_version SET version = version + 1 WHERE id = 1;
  RETURN NULL;
END
$$;

CREATE TRIGGER stores_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stores
  FOR EACH STATEMENT EXECUTE FUNCTION stores_version_bump();

-- The per-store freshness gauges follow completed runs: a minute's new successes are read by
-- finish time instead of every store's latest success each minute.
CREATE INDEX sync_runs_succeeded_at ON sync_runs (finished_at) WHERE status = 'completed';
