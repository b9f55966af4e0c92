-- 0014: least privilege in PostgreSQL (issue 19). Every service used to connect as one role
-- that owns the schema and may do anything. Now three NOLOGIN group roles hold exactly what each
-- service's SQL needs; deployers make each service's LOGIN user a member of its group
-- (GRANT autosync_worker TO worker_login) and give each service its own URL.
--
--   autosync_scheduler  store management, schedules, tick claims, the run queue and sync_runs,
--                       notifications, the fx_rates import; reads quarantine, cohorts, worker
--                       slots and the schema version (its start-up check); deletes a deleted
--                       store's data (orders, ads, cohorts).
--   autosync_worker     writes orders, ads, cohorts, the LTV cells and its own bookkeeping
--                       (sync_tracking, quarantined_records, worker_slots); reads stores and
--                       fx_rates; never changes stores and never touches sync_runs (the
--                       scheduler records runs from the worker's stream).
--   autosync_readonly   SELECT on every table, EXECUTE on fx_per_eur: dashboards.
--
-- There is no autosync_owner role: the migrations run as the role that owns the schema objects
-- (the migration job's URL; the one role of older deployments), and that role must own them — it
-- alone may create, alter or truncate tables. It needs CREATEROLE once, for this migration to
-- create the group roles (roles are cluster-wide: they are created only if absent, so several
-- databases of one cluster share them); where it may not create roles (some managed services),
-- a DBA creates them first and the migration is run again.
--
-- Every later migration that adds a table, sequence or function grants it here-style; the rule
-- test (tests/integration/security/pg_roles_test.cc) fails, naming the table, until it does.

DO $$
DECLARE
  wanted CONSTANT text[] := ARRAY['autosync_scheduler', 'autosync_worker', 'autosync_readonly'];
  missing text[];
  role_name text;
BEGIN
  SELECT array_agg(w ORDER BY w) INTO missing
  FROM unnest(wanted) w WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = w);
  IF missing IS NULL THEN
    RETURN;
  END IF;
  IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
    RAISE EXCEPTION 'migration 0014: the group roles % do not exist and role "%" may not create '
                    'roles (no CREATEROLE)', array_to_string(missing, ', '), current_user
      USING HINT = format('Have a DBA run: %s; then run the migration again.',
                          (SELECT string_agg(format('CREATE ROLE %I NOLOGIN', m), '; ')
                           FROM unnest(missing) m));
  END IF;
  FOREACH role_name IN ARRAY missing LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- another database of this cluster created it meanwhile
    END;
  END LOOP;
END
$$;

-- Grants on an object are given by its owner: a table owned by another role would get none
-- (PostgreSQL only warns), so say so instead.
DO $$
DECLARE
  foreign_owned text;
BEGIN
  SELECT string_agg(format('%s (owned by %s)', c.relname, pg_get_userbyid(c.relowner)), ', '
                    ORDER BY c.relname)
  INTO foreign_owned
  FROM pg_class c
  WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
    AND NOT pg_has_role(current_user, c.relowner, 'USAGE');
  IF foreign_owned IS NOT NULL THEN
    RAISE EXCEPTION 'migration 0014: the migrations must run as the owner of the schema objects, '
                    'but role "%" does not own %', current_user, foreign_owned
      USING HINT = 'Run the migration job with the owner''s URL, or ALTER TABLE … OWNER TO it.';
  END IF;
END
$$;

-- The schema: only the owner creates objects in it (PUBLIC may create in `public` on PostgreSQL
-- 14 and older), and only our roles look up names in it. The trigger functions that keep
-- invariants for every writer run as the owner with a fixed search_path (pg_temp last, so no
-- caller's temporary table can stand in for ours):
--   ltv_log_order_changes: any change to orders is logged for the LTV cells (0003). The
--     scheduler deletes a deleted store's orders; as SECURITY DEFINER it needs no rights on the
--     LTV tables for that, and no writer can skip or forge the log.
--   stores_version_bump: the stores version (0007) moves with every change to stores; the
--     scheduler only reads stores_version and cannot move it by hand.
-- ltv_forget_all (TRUNCATE orders) stays SECURITY INVOKER: only the owner may TRUNCATE.
-- fx_per_eur stays SECURITY INVOKER (an inlinable SQL function): its callers read fx_rates.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', current_schema());
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO autosync_scheduler, autosync_worker, '
                 'autosync_readonly', current_schema());
  EXECUTE format('ALTER FUNCTION ltv_log_order_changes() SECURITY DEFINER '
                 'SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION stores_version_bump() SECURITY DEFINER '
                 'SET search_path = %I, pg_temp', current_schema());
END
$$;

-- Functions are executable by PUBLIC by default: not ours. (Trigger functions need no EXECUTE
-- from the writers whose statements fire them.) Future functions of the owner start closed too.
REVOKE EXECUTE ON FUNCTION ltv_log_order_changes(), ltv_forget_all(), stores_version_bump(),
  fx_per_eur(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fx_per_eur(text, date) TO autosync_worker, autosync_readonly;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Tables. DELETE … WHERE and UPDATE read the columns they filter on, and SELECT … FOR UPDATE
-- needs UPDATE: hence SELECT beside every write. No table has a sequence yet; a table that gets
-- one grants USAGE on it to the role that inserts.
GRANT SELECT ON schema_migrations, stores, stores_version, sync_tracking, sync_runs, orders, ads,
  customer_ltv_cohorts, gateway_connections, ltv_state, ltv_cells, ltv_order_changes, tick_claims,
  tick_group_claims, worker_slots, quarantined_records, store_notifications, fx_rates
  TO autosync_readonly;

-- The scheduler (scheduler-service/pg_*.cc). schema_migrations: the start-up version check.
-- orders, ads, customer_ltv_cohorts: DeleteStore clears a store's data (no foreign key there;
-- the tables with one follow by ON DELETE CASCADE, which runs as their owner); GetCohorts reads.
GRANT SELECT ON schema_migrations, stores_version, worker_slots, quarantined_records
  TO autosync_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON stores, sync_runs, tick_claims, tick_group_claims,
  gateway_connections TO autosync_scheduler;
GRANT SELECT, INSERT, UPDATE ON store_notifications, fx_rates TO autosync_scheduler;
GRANT SELECT, DELETE ON orders, ads, customer_ltv_cohorts TO autosync_scheduler;

-- The worker (sync-worker/pg_*.cc). It also needs TEMPORARY on the database for its staging
-- tables (orders_stage, ads_stage), which PUBLIC has by default.
GRANT SELECT ON stores, fx_rates TO autosync_worker;
GRANT SELECT, INSERT, UPDATE ON sync_tracking, ads TO autosync_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders, ltv_cells, quarantined_records, worker_slots
  TO autosync_worker;
GRANT SELECT, INSERT, DELETE ON ltv_state, customer_ltv_cohorts TO autosync_worker;
GRANT SELECT, DELETE ON ltv_order_changes TO autosync_worker;
