-- 0006: the cron claim per (group of stores, boundary) (issue 15).
--
-- A boundary of the whole fleet (100k stores on `0 * * * *`) claimed store by store costs a row
-- operation per store before the first run can be queued. Now the claim is one row per (tick
-- group, boundary): a store's group is a fixed hash of its id (scheduler-service/tick_group.h,
-- 1024 groups), and of several replicas popping the same boundary exactly one inserts each
-- group's row and records that group's ticks. The per-store row (tick_claims) is written when the
-- tick is recorded, and only moves to a later boundary: it is the guard that a store's tick is
-- recorded once, whoever records it. A replica that lost a group checks after a grace that each
-- of its lost ticks was recorded, and records the ones that were not (their winner stopped, or
-- did not know the store yet): that replaces 0005's recovery of unrecorded per-store claims.
-- Rows older than two days are pruned (catch-up never reaches back further than a day).
CREATE TABLE tick_group_claims (
  group_id            integer NOT NULL CHECK (group_id >= 0),
  boundary            timestamptz NOT NULL,
  owner               text NOT NULL DEFAULT '',
  claimed_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, boundary)
);
CREATE INDEX tick_group_claims_claimed ON tick_group_claims (claimed_at);
