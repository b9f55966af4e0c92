-- 0015: the audit trail (issue 19). One row per change made through the scheduler's API: store
-- create / replace / delete, pause, resume, manual trigger, re-sync, backfill, fx-rates import.
-- Written by the scheduler-service in the transaction of the change it records, so a change that
-- rolls back (a stale version, a missing store) leaves no row. Read by Scheduler.ListAudit
-- (newest first, keyset on id). No GRANTs here: the database-roles migration adds them.
CREATE TABLE audit_log (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  -- The gateway caller's token `sub` ("dev" in dev mode), or "grpc:<peer identity>" /
  -- "grpc:anonymous" for a direct gRPC caller.
  actor     text NOT NULL,
  action    text NOT NULL,
  store_id  text NULL,          -- NULL for actions on no store (fx_rates.import)
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Where the call came from: "<client address> via <gateway peer>" or the gRPC peer.
  source    text NOT NULL,
  -- Whether `actor` was vouched for by an authenticated peer (TLS identity) or taken as given.
  actor_verified boolean NOT NULL DEFAULT false
);
-- No foreign key to stores: a deleted store's history stays.
CREATE INDEX audit_log_store_id ON audit_log (store_id, id DESC);
CREATE INDEX audit_log_action_id ON audit_log (action, id DESC);

-- Who may use it (migration 0014's roles): the scheduler writes and lists it; dashboards read it;
-- nobody updates or deletes it but its owner.
GRANT SELECT, INSERT ON audit_log TO autosync_scheduler;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO autosync_scheduler;
GRANT SELECT ON audit_log, audit_log_id_seq TO autosync_readonly;
