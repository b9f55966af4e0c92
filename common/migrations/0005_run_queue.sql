-- 0005: the run queue (issue 15).
--
-- A run is a row of sync_runs from the moment it is wanted: a manual or API trigger, a claimed
-- cron tick, a retry after a failure or an interrupted run all insert it 'queued'. Any scheduler
-- replica dispatches queued rows to free worker slots (priority, then the oldest data first,
-- FOR UPDATE SKIP LOCKED under a transaction-scoped advisory lock), turning them 'running' and
-- setting started_at: the moment a worker slot took the run. A replica that dies loses nothing
-- queued (it is in the table) and nothing runs twice (one queued-or-running row per store).
--
-- priority: 0 a person or an API call (manual/api), 1 a scheduled fire, 2 low (backfills).
-- data_as_of: the store's last successful sync when the run was queued ('-infinity' if none):
--   among equal priorities the oldest data goes first.
-- not_before: a retry waits out its backoff here; the dispatcher skips it until then.
-- attempt: 1 for a first run, n for the (n-1)th retry after a failed or interrupted run.
-- refusals: how often a worker refused this run (RESOURCE_EXHAUSTED) and it went back.
-- status 'cancelled': a queued run dropped before it ran (its store was paused); error says why.

ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
  CHECK (status IN ('queued', 'running', 'completed', 'failed', 'skipped', 'cancelled'));

ALTER TABLE sync_runs
  ADD COLUMN queued_at  timestamptz,
  ADD COLUMN priority   smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2),
  ADD COLUMN data_as_of timestamptz NOT NULL DEFAULT '-infinity',
  ADD COLUMN not_before timestamptz NOT NULL DEFAULT '-infinity',
  ADD COLUMN attempt    integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  ADD COLUMN refusals   integer NOT NULL DEFAULT 0,
  ADD COLUMN force      boolean NOT NULL DEFAULT false;
-- History from before the queue was queued when it started.
UPDATE sync_runs SET queued_at = started_at;
ALTER TABLE sync_runs
  ALTER COLUMN queued_at SET NOT NULL,
  ALTER COLUMN queued_at SET DEFAULT now(),
  ALTER COLUMN started_at DROP NOT NULL,
  ALTER COLUMN started_at DROP DEFAULT;

-- One queued-or-running run per store (was: one running run).
DROP INDEX sync_runs_one_running;
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (store_id)
  WHERE status IN ('queued', 'running');
-- The dispatch order, over the queued rows only.
CREATE INDEX sync_runs_queue ON sync_runs (priority, data_as_of, queued_at, run_id)
  WHERE status = 'queued';
-- History is listed in queue order (started_at is unset while queued); pruning walks queued_at.
DROP INDEX sync_runs_store_started;
CREATE INDEX sync_runs_store_queued ON sync_runs (store_id, queued_at DESC, run_id DESC);
CREATE INDEX sync_runs_queued_at ON sync_runs (queued_at);

-- The cron state of a store, beside its latest claim: whether that claim was recorded (a run
-- queued or a skip counted; the recovery pass looks for claims that were not), and the skips.
-- A skipped fire no longer writes a sync_runs row: it is counted here, with the latest reason.
ALTER TABLE tick_claims
  ADD COLUMN recorded_at      timestamptz,
  ADD COLUMN skipped_fires    bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_skip_at     timestamptz,
  ADD COLUMN last_skip_reason text NOT NULL DEFAULT '';
UPDATE tick_claims SET recorded_at = claimed_at;

-- Each sync-worker process publishes its slots here every 2 s (and removes its row on a clean
-- stop). A row not seen for 10 s is a worker that went away; its slots stop counting.
CREATE TABLE worker_slots (
  worker_id           text PRIMARY KEY,
  slots               integer NOT NULL CHECK (slots >= 0),
  in_flight           integer NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
  started_at          timestamptz NOT NULL DEFAULT now(),
  seen_at             timestamptz NOT NULL DEFAULT now()
);
