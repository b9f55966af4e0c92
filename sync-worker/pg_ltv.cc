// The worker's LTV statements (SyncStore::RecomputeLtv and RebuildLtv): a store's cohort cells
// kept incrementally from the orders change log, or rebuilt from every counted order on two
// connections, and the cohort table derived from the cells. Which orders count is the column
// orders.ltv_counted (migration 0017); migration 0003 describes the tables.
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg_pool.h"
#include "sync-worker/pg_sync_store_parts.h"

namespace autosync::worker::pg {
namespace {

// LTV cohorts (migration 0003 describes the tables). A recompute holds the store's LTV lock
// exclusively; writers of orders hold it shared (the orders triggers take it), so each statement
// below sees the orders and the change log as of one moment.
constexpr char kLtvLockSql[] =
    "SELECT pg_advisory_xact_lock(hashtext('autosync.ltv'), hashtext($1))";

// Orders that count are those with orders.ltv_counted: the LTV rule is defined once, in migration
// 0017, and the orders_ltv index has it as its predicate, so the planner can read a store's
// counted orders from that index alone.

// Months are numbered year * 12 + month - 1 in the store's time zone ($2).
#define AUTOSYNC_LTV_EXACT_MONTH(t)                                        \
  "(extract(year FROM " t " AT TIME ZONE $2) * 12 + extract(month FROM " t \
  " AT TIME ZONE $2) - 1)::int"
#define AUTOSYNC_LTV_MONTH_DATE(m) "make_date(" m " / 12, " m " % 12 + 1, 1)"

// From scratch, in one pass over the orders_ltv index: the store's counted orders customer by
// customer in created_at order, so a customer's cohort is the month of their first row and a row
// opens a customer-month when the customer's previous row is in another month (local months never
// run backwards in time: checked for every zone in PostgreSQL's tzdata, 1990-2100).
// Converting every created_at to local time costs as much as reading the row, so `edges` holds,
// for each local month 1990-01 … 2100-01, the instants 24 hours before and after PostgreSQL's
// start of that month, and one binary search (width_bucket) places an order: between two edge
// pairs `months` gives its month; within 24 hours of a month start (where a DST rule can put the
// true start an hour off, as in Havana) or out of range, `months` holds 0 and the exact conversion
// decides. Both ways give the same month for every instant.
constexpr char kRebuildLtvCellsSql[] = R"sql(
WITH bounds AS (
  SELECT array_agg(edge ORDER BY i, k) AS edges,
         array_agg(CASE WHEN k = 1 AND i < 1320 THEN 23880 + i ELSE 0 END ORDER BY i, k) AS months
  FROM (SELECT i, make_date(1990 + i / 12, i % 12 + 1, 1)::timestamp AT TIME ZONE $2 AS start
        FROM generate_series(0, 1320) i) s,
       LATERAL (VALUES (0, start - interval '24 hours'), (1, start + interval '24 hours')) e(k, edge)
), monthly AS (
  SELECT customer_id, created_at, total_price - refunded_amount AS net,
         coalesce(nullif(((SELECT months FROM bounds))[
                             width_bucket(created_at, (SELECT edges FROM bounds))], 0),
                  )sql" AUTOSYNC_LTV_EXACT_MONTH("created_at") R"sql() AS month
  FROM orders
  WHERE store_id = $1 AND ltv_counted AND customer_id BETWEEN $3 AND $4
  ORDER BY customer_id, created_at
  OFFSET 0  -- computes month once per row; the ORDER BY is the index's, so nothing sorts
), walked AS (
  SELECT month, net,
         first_value(month) OVER w AS cohort,
         month IS DISTINCT FROM lag(month) OVER w AS opens_month
  FROM monthly
  WINDOW w AS (PARTITION BY customer_id ORDER BY created_at ROWS UNBOUNDED PRECEDING)
)
SELECT $1, )sql" AUTOSYNC_LTV_MONTH_DATE("cohort") R"sql(, month - cohort,
       count(*) FILTER (WHERE opens_month), count(*), sum(net)
FROM walked
GROUP BY cohort, month
)sql";
constexpr char kInsertLtvCells[] =
    "INSERT INTO ltv_cells (store_id, cohort_month, month_offset, active_customers, orders, "
    "net_revenue) ";

// Cells computed on the helper connection (arrays of one column each), added to the ones there.
constexpr char kAddLtvCellsSql[] = R"sql(
INSERT INTO ltv_cells AS c (store_id, cohort_month, month_offset, active_customers, orders,
                            net_revenue)
SELECT $1, * FROM unnest($2::date[], $3::int[], $4::bigint[], $5::bigint[], $6::numeric[])
ON CONFLICT (store_id, cohort_month, month_offset) DO UPDATE SET
  active_customers = c.active_customers + excluded.active_customers,
  orders = c.orders + excluded.orders,
  net_revenue = c.net_revenue + excluded.net_revenue
)sql";

// The range of customer ids with counted orders, read from both ends of the orders_ltv index.
constexpr char kLtvCustomerRangeSql[] = R"sql(
SELECT min(customer_id), max(customer_id),
       (SELECT count(*) FROM (SELECT FROM orders WHERE store_id = $1 LIMIT $2) bounded)
FROM orders
WHERE store_id = $1 AND ltv_counted
)sql";
// A store with fewer orders than this is rebuilt on one connection: a second connection (its
// connect, authentication and exported snapshot, a few ms) costs more than it saves on a small
// store, and a fleet's onboarding is mostly small stores.
constexpr int64_t kLtvHelperMinOrders = 20'000;

// Incremental: claims the change log, finds the customers whose counted orders changed (the
// logged version's customer and the current one's), and adds to the cells the difference between
// what those customers contribute now and what they contributed in the version the cells count
// (their current orders with each logged order put back as it was). One statement, one snapshot.
constexpr char kApplyLtvChangesSql[] = R"sql(
WITH claimed AS (
  DELETE FROM ltv_order_changes WHERE store_id = $1
  RETURNING order_id, existed, counted, customer_id, created_at, net
), dirty AS (
  SELECT customer_id FROM claimed WHERE existed AND counted
  UNION
  SELECT o.customer_id FROM claimed c
  JOIN orders o ON o.store_id = $1 AND o.order_id = c.order_id
  WHERE o.ltv_counted
), now_counted AS (
  SELECT o.order_id, o.customer_id, o.created_at, o.total_price - o.refunded_amount AS net
  FROM dirty d
  JOIN orders o ON o.store_id = $1 AND o.customer_id = d.customer_id
  WHERE o.ltv_counted
), versions AS (
  SELECT 1 AS sign, customer_id, created_at, net FROM now_counted
  UNION ALL
  SELECT -1, customer_id, created_at, net FROM now_counted
  WHERE order_id NOT IN (SELECT order_id FROM claimed)
  UNION ALL
  SELECT -1, customer_id, created_at, net FROM claimed WHERE existed AND counted
), monthly AS (
  SELECT sign, customer_id, )sql" AUTOSYNC_LTV_EXACT_MONTH("created_at") R"sql( AS month,
         count(*) AS orders, sum(net) AS net
  FROM versions GROUP BY 1, 2, 3
), delta AS (
  SELECT cohort, month - cohort AS month_offset, sum(sign) AS active, sum(sign * orders) AS orders,
         sum(sign * net) AS net
  FROM (SELECT *, min(month) OVER (PARTITION BY sign, customer_id) AS cohort FROM monthly) m
  GROUP BY 1, 2
)
INSERT INTO ltv_cells AS c (store_id, cohort_month, month_offset, active_customers, orders,
                            net_revenue)
SELECT $1, )sql" AUTOSYNC_LTV_MONTH_DATE("cohort") R"sql(, month_offset, active, orders, net
FROM delta
WHERE active <> 0 OR orders <> 0 OR net <> 0
ON CONFLICT (store_id, cohort_month, month_offset) DO UPDATE SET
  active_customers = c.active_customers + excluded.active_customers,
  orders = c.orders + excluded.orders,
  net_revenue = c.net_revenue + excluded.net_revenue
)sql";

#undef AUTOSYNC_LTV_EXACT_MONTH
#undef AUTOSYNC_LTV_MONTH_DATE

// The cohort table from the cells: every cohort × month offset up to the store's latest month
// (so curves have no holes), cumulative revenue per customer, retention, CAC from the cohort
// month's ad spend in the shop's currency (migration 0013): the shop's currency is that of its
// most recently updated order (what GetLtvCohorts reports); ad rows in it, or in no currency,
// count as they are; each day's spend in another currency is converted with fx_per_eur (the
// day's rate or the latest up to 4 days before). A month with a day that cannot be converted
// gets no spend, CAC or LTV:CAC, and a note naming the first such day. Spend is derived from
// `ads` and fx_rates here at every recompute (incremental or not), never kept, so rates loaded
// since the last recompute count at the next one.
constexpr char kWriteCohortsSql[] = R"sql(
WITH cells AS (
  SELECT cohort_month AS cohort, month_offset, active_customers AS active, orders,
         net_revenue AS net
  FROM ltv_cells WHERE store_id = $1
), sizes AS (
  SELECT cohort, active AS customers FROM cells WHERE month_offset = 0
), horizon AS (
  SELECT max((cohort + make_interval(months => month_offset))::date) AS last_month FROM cells
), grid AS (
  SELECT s.cohort, s.customers, k AS month_offset
  FROM sizes s CROSS JOIN horizon h,
       generate_series(0, ((extract(year FROM h.last_month) - extract(year FROM s.cohort)) * 12
                           + extract(month FROM h.last_month) - extract(month FROM s.cohort))::int) k
), shop AS (
  SELECT coalesce((SELECT currency FROM orders WHERE store_id = $1 AND currency <> ''
                   ORDER BY updated_at DESC LIMIT 1), '') AS currency
), daily AS (
  SELECT a.date, a.currency, sum(a.spend) AS spend,
         CASE WHEN a.currency IN ('', s.currency) THEN sum(a.spend)
              ELSE sum(a.spend) * fx_per_eur(s.currency, a.date) / fx_per_eur(a.currency, a.date)
         END AS converted
  FROM ads a CROSS JOIN shop s
  WHERE a.store_id = $1
  GROUP BY a.date, a.currency, s.currency
), spend AS (
  SELECT date_trunc('month', d.date)::date AS month,
         CASE WHEN every(d.converted IS NOT NULL) THEN round(sum(d.converted), 2) END AS spend,
         CASE WHEN NOT every(d.converted IS NOT NULL) THEN
           CASE WHEN s.currency = '' THEN
             format('ad spend in %s cannot be converted: the shop''s currency is unknown '
                    '(no order carries one)', min(d.currency) FILTER (WHERE d.converted IS NULL))
           ELSE
             format('no %s→%s rate for %s%s (none that day or up to 4 days before; '
                    'load ECB rates: ImportFxRates)',
                    (array_agg(d.currency ORDER BY d.date, d.currency)
                       FILTER (WHERE d.converted IS NULL))[1],
                    s.currency, min(d.date) FILTER (WHERE d.converted IS NULL),
                    CASE count(DISTINCT d.date) FILTER (WHERE d.converted IS NULL)
                      WHEN 1 THEN ''
                      WHEN 2 THEN ' and 1 more day of the month'
                      ELSE format(' and %s more days of the month',
                                  count(DISTINCT d.date) FILTER (WHERE d.converted IS NULL) - 1)
                    END)
           END
         END AS note
  FROM daily d CROSS JOIN shop s
  GROUP BY 1, s.currency
), filled AS (
  SELECT g.cohort, g.month_offset, g.customers,
         coalesce(a.active, 0) AS active, coalesce(a.orders, 0) AS orders,
         coalesce(a.net, 0) AS net,
         sum(coalesce(a.net, 0)) OVER (PARTITION BY g.cohort ORDER BY g.month_offset) AS cumulative,
         CASE WHEN sp.note IS NULL THEN coalesce(sp.spend, 0) END AS spend,
         coalesce(sp.note, '') AS cac_note
  FROM grid g
  LEFT JOIN cells a ON a.cohort = g.cohort AND a.month_offset = g.month_offset
  LEFT JOIN spend sp ON sp.month = g.cohort
)
INSERT INTO customer_ltv_cohorts (
  store_id, cohort_month, month_offset, cohort_customers, active_customers, orders, net_revenue,
  cumulative_revenue, cumulative_revenue_per_customer, retention, ad_spend, cac, ltv_to_cac,
  cac_note, computed_at)
SELECT $1, cohort, month_offset, customers, active, orders, net, cumulative,
       round(cumulative / customers, 4),
       active::float8 / customers,
       spend,
       CASE WHEN spend > 0 THEN round(spend / customers, 4) END,
       CASE WHEN spend > 0 THEN (cumulative / customers)::float8 / (spend / customers)::float8 END,
       cac_note,
       now()
FROM filled
)sql";

// Past this many logged changes a rebuild is cheaper than replaying them (a rebuild of 1M orders
// costs about as much as replaying ~50k).
constexpr int64_t kMaxIncrementalChanges = 50000;

// The rebuild sorts when the orders_ltv index cannot be read alone; JIT compiling these
// statements costs more than it saves. Set on the LTV transaction and on the rebuild's helper.
constexpr char kLtvSessionSettings[] = "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off";

// Reading the orders_ltv index in order needs a heap visit per row where the table is not yet
// vacuumed (right after a first full sync): one random read each, several times slower than
// reading the table and sorting. The planner, without statistics then, does not know; tell it
// ("off"), for the rebuild's own statements only ("DEFAULT" after them): `SET LOCAL` lasts to
// the end of the transaction, and the statements after the rebuild (the store's cohorts: a
// delete and a query over ltv_cells and ads) need their indexes, or each reads the whole
// fleet's tables.
void IndexScans(pqxx::transaction_base& tx, absl::string_view value) {
  tx.exec(absl::StrCat("SET LOCAL enable_indexscan TO ", value,
                       "; SET LOCAL enable_indexonlyscan TO ", value,
                       "; SET LOCAL enable_bitmapscan TO ", value));
}

// Fills ltv_cells for the store from every counted order. The customers are split in two
// id ranges: this connection walks the lower one while a helper connection, in the same
// snapshot, walks the upper one; cells are sums over customers, so the two halves add up. On
// two cores this about halves the rebuild (issue #9). If the helper cannot connect or fails,
// this connection walks the upper range too.
void RebuildCells(common::PgPool& pool, pqxx::transaction_base& tx, const std::string& store,
                  const std::string& tz, bool vacuumed) {
  const pqxx::result range = tx.exec_params(kLtvCustomerRangeSql, store, kLtvHelperMinOrders);
  if (range[0][0].is_null()) return;  // no counted orders: no cells
  const int64_t lo = range[0][0].as<int64_t>();
  const int64_t hi = range[0][1].as<int64_t>();
  const int64_t mid =
      lo + static_cast<int64_t>((static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo)) / 2);
  const std::string insert = absl::StrCat(kInsertLtvCells, kRebuildLtvCellsSql);
  if (lo == hi || range[0][2].as<int64_t>() < kLtvHelperMinOrders) {
    tx.exec_params(insert, store, tz, lo, hi);
    return;
  }
  // The helper reads in this snapshot. This transaction holds the store's LTV lock, so no write
  // to the store's orders can commit until it ends: its own statements, each with a newer
  // snapshot, see the same orders. (Its own uncommitted writes are to other tables.)
  const std::string snapshot = tx.exec("SELECT pg_export_snapshot()")[0][0].as<std::string>();
  std::optional<pqxx::result> upper;
  std::string helper_error;
  std::thread helper([&] {
    try {
      // The pool's URL already carries its connect timeout and application name (PgPool::Create).
      pqxx::connection conn(pool.options().url);
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> htx(conn, "ltv_helper");
      htx.exec(absl::StrCat("SET TRANSACTION SNAPSHOT ", htx.quote(snapshot)));
      htx.exec(kLtvSessionSettings);
      if (!vacuumed) IndexScans(htx, "off");
      upper = htx.exec_params(kRebuildLtvCellsSql, store, tz, mid + 1, hi);
      htx.commit();
    } catch (const std::exception& e) {
      upper.reset();
      helper_error = e.what();
    }
  });
  try {
    tx.exec_params(insert, store, tz, lo, mid);
  } catch (...) {
    helper.join();
    throw;
  }
  helper.join();
  if (!upper.has_value()) {
    // Only the exception's class of failure is worth a line; libpq's text names the server.
    common::LogWarn("LTV rebuild: helper connection failed, walking every customer here",
                    {{"store_id", store}, {"error", helper_error.substr(0, 200)}});
    tx.exec_params(absl::StrCat(kInsertLtvCells, kRebuildLtvCellsSql,
                                " ON CONFLICT (store_id, cohort_month, month_offset) DO UPDATE SET "
                                "active_customers = ltv_cells.active_customers + "
                                "excluded.active_customers, orders = ltv_cells.orders + "
                                "excluded.orders, net_revenue = ltv_cells.net_revenue + "
                                "excluded.net_revenue"),
                   store, tz, mid + 1, hi);
    return;
  }
  if (upper->empty()) return;
  std::string months = "{", offsets = "{", active = "{", orders = "{", net = "{";
  for (pqxx::result::size_type i = 0; i < upper->size(); ++i) {
    const pqxx::row row = (*upper)[i];
    const char* sep = i == 0 ? "" : ",";
    absl::StrAppend(&months, sep, row[1].c_str());
    absl::StrAppend(&offsets, sep, row[2].c_str());
    absl::StrAppend(&active, sep, row[3].c_str());
    absl::StrAppend(&orders, sep, row[4].c_str());
    absl::StrAppend(&net, sep, row[5].c_str());
  }
  for (std::string* a : {&months, &offsets, &active, &orders, &net}) a->push_back('}');
  tx.exec_params(kAddLtvCellsSql, store, months, offsets, active, orders, net);
}

absl::StatusOr<int64_t> Ltv(common::PgPool& pool, absl::string_view store_id,
                            absl::string_view timezone, bool rebuild) {
  int64_t rows = 0;
  const std::string store(store_id);
  const std::string tz(timezone);
  absl::Status s = pool.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c, "ltv");
    tx.exec_params(kLtvLockSql, store);
    tx.exec(kLtvSessionSettings);
    if (!rebuild) {
      const pqxx::result state =
          tx.exec_params("SELECT timezone FROM ltv_state WHERE store_id = $1", store);
      const pqxx::result changes = tx.exec_params(
          "SELECT count(*) FROM (SELECT FROM ltv_order_changes WHERE store_id = $1 LIMIT $2) x",
          store, kMaxIncrementalChanges + 1);
      rebuild = state.empty() || state[0][0].as<std::string>() != tz ||
                changes[0][0].as<int64_t>() > kMaxIncrementalChanges;
    }
    if (!rebuild) {
      tx.exec_params(kApplyLtvChangesSql, store, tz);
      // Cells nobody is active in any more must be empty; anything else means the cells and
      // the orders disagree (which the tests look for), and a rebuild puts that right.
      const pqxx::result bad = tx.exec_params(
          "DELETE FROM ltv_cells WHERE store_id = $1 AND active_customers <= 0 "
          "RETURNING active_customers < 0 OR orders <> 0 OR net_revenue <> 0",
          store);
      for (const auto& row : bad) rebuild = rebuild || row[0].as<bool>();
    }
    if (rebuild) {
      tx.exec_params("DELETE FROM ltv_state WHERE store_id = $1", store);  // cascades
      tx.exec_params("INSERT INTO ltv_state (store_id, timezone) VALUES ($1, $2)", store, tz);
      // See IndexScans.
      const bool vacuumed =
          tx.exec(
                "SELECT relpages > 0 AND relallvisible >= 0.9 * relpages FROM pg_class "
                "WHERE oid = 'orders'::regclass")[0][0]
              .as<bool>();
      if (!vacuumed) IndexScans(tx, "off");
      RebuildCells(pool, tx, store, tz, vacuumed);
      if (!vacuumed) IndexScans(tx, "DEFAULT");
    }
    tx.exec_params("DELETE FROM customer_ltv_cohorts WHERE store_id = $1", store);
    rows = static_cast<int64_t>(tx.exec_params(kWriteCohortsSql, store).affected_rows());
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return rows;
}

}  // namespace

absl::StatusOr<int64_t> UpdateLtv(common::PgPool& pool, absl::string_view store_id,
                                  absl::string_view timezone, bool rebuild) {
  return Ltv(pool, store_id, timezone, rebuild);
}

}  // namespace autosync::worker::pg
