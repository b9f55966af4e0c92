-- 0004: the cron tick claim on a narrow table of its own (issue #9).
--
-- One row per store: the latest cron boundary a replica claimed, with the run id it will record
-- in sync_runs. Claiming a boundary is one upsert that only wins when the boundary is later than
-- the stored one, so exactly one replica wins each (store, boundary), and the row is updated in
-- place (HOT: fillfactor leaves room on the page, and no indexed column changes). The claim used
-- to be the sync_runs insert itself: a wide row with five indexes and a foreign key, about 40 us
-- of PostgreSQL time a tick here, which put the 10,000th claim of a busy boundary 160 ms late.
-- The run row now follows the claim (RecordTicks); a claim whose run row never appeared (its
-- replica stopped in between) is recorded by any replica's recovery pass.
--
-- store_id uses the "C" collation: ids are lower-case ASCII (stores' CHECK), so byte order is the
-- same order, and the comparisons are memcmp instead of strcoll. No foreign key: the claim path
-- stays one index; DeleteStore removes the row itself.
CREATE TABLE tick_claims (
  store_id            text COLLATE "C" PRIMARY KEY,
  boundary            timestamptz NOT NULL,
  run_id              text NOT NULL,
  owner               text NOT NULL DEFAULT '',
  claimed_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

-- Existing history: each store's latest claimed tick, so no boundary is claimed twice across the
-- upgrade and the schedule load keeps reading the last claimed tick.
INSERT INTO tick_claims (store_id, boundary, run_id, owner, claimed_at)
SELECT DISTINCT ON (store_id) store_id, scheduled_for, run_id, owner, started_at
FROM sync_runs
WHERE trigger = 'cron' AND scheduled_for IS NOT NULL
ORDER BY store_id, scheduled_for DESC;
