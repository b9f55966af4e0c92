-- 0012: per-store notification webhooks (issue 17). A store may name a URL the scheduler POSTs
-- a signed event to when a run fails for good or its data goes stale, and a reference to the
-- HMAC key (env:NAME or file:/path, like credentials_ref: never the key itself). Empty URL: no
-- notifications. (0011 is taken by another change.)
ALTER TABLE stores
  ADD COLUMN notify_webhook_url text NOT NULL DEFAULT '',
  ADD COLUMN notify_secret_ref text NOT NULL DEFAULT '',
  ADD CONSTRAINT stores_notify_secret_required
    CHECK (notify_webhook_url = '' OR notify_secret_ref <> '');

-- At most one notification per store, condition and hour, across scheduler replicas: a replica
-- sends only after claiming the row (INSERT … ON CONFLICT DO UPDATE … WHERE last_sent_at is an
-- hour old, RETURNING), so of two replicas seeing the same condition one sends and the other
-- counts it suppressed. The claim is made before the first attempt; last_outcome says how the
-- delivery ended ('sending' until then, 'delivered' or 'failed').
CREATE TABLE store_notifications (
  store_id text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
  condition text NOT NULL CHECK (condition IN ('run_failed', 'data_stale')),
  last_sent_at timestamptz NOT NULL,
  last_outcome text NOT NULL DEFAULT 'sending'
    CHECK (last_outcome IN ('sending', 'delivered', 'failed')),
  PRIMARY KEY (store_id, condition)
);
