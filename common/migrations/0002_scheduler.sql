-- 0002: scheduler-service: browser connection counts reported by gateways (kept 45 s), and
-- indexes for the status lookups (last finished / last successful run of a store).

CREATE TABLE gateway_connections (
  store_id            text NOT NULL,
  gateway_id          text NOT NULL,
  connections         integer NOT NULL CHECK (connections >= 0),
  reported_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (store_id, gateway_id)
);
CREATE INDEX gateway_connections_gateway ON gateway_connections (gateway_id);

CREATE INDEX sync_runs_store_finished ON sync_runs (store_id, finished_at DESC)
  WHERE status IN ('completed', 'failed');
CREATE INDEX sync_runs_store_succeeded ON sync_runs (store_id, finished_at DESC)
  WHERE status = 'completed';
