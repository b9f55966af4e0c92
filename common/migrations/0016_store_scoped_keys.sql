-- 0016: every key of a store-scoped table includes store_id (issue 21, docs/SCALING.md). A table
-- distributed by store_id (Citus) may only have primary keys and unique indexes that contain the
-- distribution column; sync_runs was the one table keyed without it. Every statement on a run
-- names its store as well as its id, so it still reads one index entry. (0014 and 0015 are taken
-- by other changes.) Rebuilding the key locks sync_runs while it runs: seconds per million runs.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_pkey;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_pkey PRIMARY KEY (store_id, run_id);
