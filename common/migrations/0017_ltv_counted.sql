-- 0017: one definition of the orders the LTV cohorts count (issue 20). Until now the rule was
-- written four times (the orders_ltv index predicate and ltv_log_order_changes here in 0003, and
-- twice in the worker's statements); now it is the column orders.ltv_counted, and the index, the
-- trigger function and the worker's LTV statements (sync-worker/pg_ltv.cc) read that column.

-- THE LTV RULE. An order counts towards a store's LTV cohorts when it belongs to a customer (not a
-- guest checkout), is not a test order, is not cancelled and is not voided. A stored generated
-- column: PostgreSQL computes it on every insert and update, by any writer, so no statement can
-- disagree with it. Adding it rewrites `orders` once. Never NULL (every column it reads but
-- customer_id is NOT NULL), yet not declared NOT NULL: the worker's staging table is
-- `LIKE orders`, which copies NOT NULL but not the generation, and the worker never fills it.
ALTER TABLE orders ADD COLUMN ltv_counted boolean GENERATED ALWAYS AS (
  customer_id IS NOT NULL AND NOT test AND cancelled_at IS NULL AND financial_status <> 'voided'
) STORED;

-- 0003's index, with the rule as its predicate. The recompute's statements say `ltv_counted` in
-- their WHERE, which the planner matches to this predicate (so it can still read a store's counted
-- orders customer by customer from the index alone).
DROP INDEX orders_ltv;
CREATE INDEX orders_ltv ON orders (store_id, customer_id, created_at)
  INCLUDE (total_price, refunded_amount)
  WHERE ltv_counted;

-- 0003's trigger function, the same but for reading `counted` from the column. CREATE OR REPLACE
-- keeps the owner and the privileges (0014 revoked EXECUTE from PUBLIC) but resets the other
-- properties: SECURITY DEFINER is restated here and the search_path set below, as 0014 did.
CREATE OR REPLACE FUNCTION ltv_log_order_changes() RETURNS trigger LANGUAGE plpgsql
  SECURITY DEFINER AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM pg_advisory_xact_lock_shared(hashtext('autosync.ltv'), hashtext(s.store_id))
      FROM (SELECT DISTINCT store_id FROM old_orders ORDER BY 1) s;
    INSERT INTO ltv_order_changes (store_id, order_id, existed, counted, customer_id, created_at, net)
    SELECT o.store_id, o.order_id, true, o.ltv_counted,
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
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION ltv_log_order_changes() SET search_path = %I, pg_temp',
                 current_schema());
END
$$;
