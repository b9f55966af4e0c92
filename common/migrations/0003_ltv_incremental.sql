-- 0003: LTV cohorts kept up to date incrementally (issue #9). The worker keeps each store's cohort
-- cells (ltv_cells); every change to `orders`, by any writer, logs the version of the order the
-- cells counted (ltv_order_changes); the next recompute redoes only the customers those orders
-- belong to and adds the difference to the cells. A store without an ltv_state row is rebuilt from
-- every order. The statements are in sync-worker/pg_sync_store.cc.

-- A store whose ltv_cells count every order as it is now, except the orders in ltv_order_changes,
-- with months cut in `timezone`. Deleting the row (store deleted, TRUNCATE orders, time zone
-- changed, forced rebuild) drops the cells and the log with it.
CREATE TABLE ltv_state (
  store_id            text PRIMARY KEY REFERENCES stores (store_id) ON DELETE CASCADE,
  timezone            text NOT NULL,
  rebuilt_at          timestamptz NOT NULL DEFAULT now()
);

-- Per cohort month and month offset: customers active, counted orders, net revenue. The cohort
-- table (gaps filled, cumulative sums, ad spend) is derived from these and `ads`.
CREATE TABLE ltv_cells (
  store_id            text NOT NULL REFERENCES ltv_state (store_id) ON DELETE CASCADE,
  cohort_month        date NOT NULL,
  month_offset        integer NOT NULL,
  active_customers    bigint NOT NULL,
  orders              bigint NOT NULL,
  net_revenue         numeric(18, 2) NOT NULL,
  PRIMARY KEY (store_id, cohort_month, month_offset)
);

-- Orders changed since ltv_cells were last brought up to date, each with the version the cells
-- count (the first one logged: later changes keep it). existed = false: the order is new.
CREATE TABLE ltv_order_changes (
  store_id            text NOT NULL REFERENCES ltv_state (store_id) ON DELETE CASCADE,
  order_id            bigint NOT NULL,
  existed             boolean NOT NULL,
  counted             boolean NOT NULL,  -- had a customer, not test, cancelled or voided
  customer_id         bigint,
  created_at          timestamptz,
  net                 numeric(16, 2),
  PRIMARY KEY (store_id, order_id)
);

-- Counted orders in (customer, created_at) order with the money columns: a recompute reads a
-- store's orders customer by customer from this index alone (once the table is vacuumed), and the
-- incremental one finds a customer's orders here. It replaces orders_store_customer, which only
-- the LTV statements used.
DROP INDEX orders_store_customer;
CREATE INDEX orders_ltv ON orders (store_id, customer_id, created_at)
  INCLUDE (total_price, refunded_amount)
  WHERE customer_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
    AND financial_status <> 'voided';

-- Logs the versions before a statement's changes, for stores that have cells. Writers of a
-- store's orders hold this store's LTV lock shared from here to commit; a recompute holds it
-- exclusively, so no change commits between the recompute's snapshot and its claiming the log,
-- and a writer that waited here logs the version the recompute counted.
CREATE FUNCTION ltv_log_order_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM pg_advisory_xact_lock_shared(hashtext('autosync.ltv'), hashtext(s.store_id))
      FROM (SELECT DISTINCT store_id FROM old_orders ORDER BY 1) s;
    INSERT INTO ltv_order_changes (store_id, order_id, existed, counted, customer_id, created_at, net)
    SELECT o.store_id, o.order_id, true,
           o.customer_id IS NOT NULL AND NOT o.test AND o.cancelled_at IS NULL
             AND o.financial_status <> 'voided',
           o.customer_id, o.created_at, o.total_price - o.refunded_amount
    FROM old_orders o JOIN ltv_state USING (store_id)
    ON CONFLICT (store_id, order_id) DO NOTHING;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM pg_advisory_xact_lock_shared(hashtext('autosync.ltv'), hashtext(s.store_id))
      FROM (SELECT DISTINCT store_id FROM new_orders ORDER BY 1) s;
    -- For an UPDATE these rows are already logged, unless the key itself changed.
    INSERT INTO ltv_order_changes (store_id, order_id, existed, counted)
    SELECT n.store_id, n.order_id, false, false
    FROM new_orders n JOIN ltv_state USING (store_id)
    ON CONFLICT (store_id, order_id) DO NOTHING;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER orders_ltv_insert AFTER INSERT ON orders
  REFERENCING NEW TABLE AS new_orders
  FOR EACH STATEMENT EXECUTE FUNCTION ltv_log_order_changes();
CREATE TRIGGER orders_ltv_update AFTER UPDATE ON orders
  REFERENCING OLD TABLE AS old_orders NEW TABLE AS new_orders
  FOR EACH STATEMENT EXECUTE FUNCTION ltv_log_order_changes();
CREATE TRIGGER orders_ltv_delete AFTER DELETE ON orders
  REFERENCING OLD TABLE AS old_orders
  FOR EACH STATEMENT EXECUTE FUNCTION ltv_log_order_changes();

-- TRUNCATE logs nothing row by row: every store is rebuilt next time.
CREATE FUNCTION ltv_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ltv_state;
  RETURN NULL;
END
$$;
CREATE TRIGGER orders_ltv_truncate AFTER TRUNCATE ON orders
  FOR EACH STATEMENT EXECUTE FUNCTION ltv_forget_all();
