// PgSyncStore: the worker's SQL. A page of orders is COPYed straight into `orders` on a store's
// first sync, else (or when that meets a stored order) into a per-connection temporary staging
// table from which one INSERT … ON CONFLICT merges it; the cursor is advanced in the same
// transaction. LTV cohorts are kept incrementally and rebuilt on two connections. All values are
// parameters or COPY data, never spliced into SQL.
#include <algorithm>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/money.h"
#include "common/pg_pool.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker {
namespace {

std::string Timestamp(absl::Time t) {
  // %E4Y: PostgreSQL reads "24-01-01" as a two-digit year and refuses it; years 1-999 need
  // their leading zeros (the parsers accept years 0001-9999, see tests/fuzz).
  return absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone());
}

std::string Day(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());  // see Timestamp
}

// COPY text format (PostgreSQL docs, COPY "File Formats"): backslash, tab, newline and carriage
// return escaped, fields split by tabs, \N for NULL. Written by hand rather than through
// pqxx::stream_to, whose per-field escaping and formatting was the worker's largest cost while
// ingesting (issue #9 profile).
void AppendCopyEscaped(std::string& out, absl::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\' && c != '\t' && c != '\n' && c != '\r') continue;
    out.append(text.data() + start, i - start);
    out.push_back('\\');
    out.push_back(c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
    start = i + 1;
  }
  out.append(text.data() + start, text.size() - start);
}

void AppendDigits(std::string& out, int64_t value, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

// The same text as Timestamp() (years 0001-9999, which the parsers guarantee), without a time
// zone lookup: days to civil date after H. Hinnant's "chrono-compatible low-level date
// algorithms" (public domain description of the proleptic Gregorian calendar arithmetic).
void AppendTimestamp(std::string& out, absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t of_day = seconds % 86400;
  if (of_day < 0) {
    of_day += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  AppendDigits(out, year, 4);
  out.push_back('-');
  AppendDigits(out, month, 2);
  out.push_back('-');
  AppendDigits(out, day, 2);
  out.push_back(' ');
  AppendDigits(out, of_day / 3600, 2);
  out.push_back(':');
  AppendDigits(out, of_day / 60 % 60, 2);
  out.push_back(':');
  AppendDigits(out, of_day % 60, 2);
  out.push_back('.');
  AppendDigits(out, fraction, 6);
  out.append("+00");
}

// Money in COPY rows and SQL text: the services' one formatter (common/money.h).
void AppendMoney(std::string& out, int64_t cents) { common::AppendCents(out, cents); }
std::string Money(int64_t cents) { return common::FormatCents(cents); }

// `value`, or \N (COPY's NULL) when there is none.
template <typename T, typename Append>
void AppendOrNull(std::string& out, const std::optional<T>& value, Append append) {
  if (value.has_value()) {
    append(out, *value);
  } else {
    out.append("\\N");
  }
}

// One page of orders as COPY text for kOrderColumns, rows separated by newlines (no final one).
// Order ids as a PostgreSQL array literal ({1,2,3}: digits need no quoting), for a bigint[] or
// a text[] parameter. `id_of` gives an element's id.
template <typename T, typename IdOf>
std::string IdsArray(const std::vector<T>& items, IdOf id_of) {
  std::string out = "{";
  for (const T& item : items) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, id_of(item));
  }
  out.push_back('}');
  return out;
}

// Orders that arrived valid, or that the source deleted, leave quarantine. `ids` as IdsArray
// makes it. An index probe per order, on an index that is empty for almost every store.
void ReleaseQuarantinedOrders(pqxx::transaction_base& tx, const std::string& store,
                              const std::string& ids) {
  tx.exec_params(
      "DELETE FROM quarantined_records WHERE store_id = $1 AND kind = 'order' "
      "AND record_key = ANY($2::text[])",
      store, ids);
}

// Moves the store's `stage` cursor in sync_tracking to `cursor`, never backwards.
void AdvanceCursor(pqxx::transaction_base& tx, const std::string& store, const char* stage,
                   absl::Time cursor, absl::string_view run_id) {
  tx.exec_params(
      "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_run_id, updated_at) "
      "VALUES ($1, $2, $3::timestamptz, $4, now()) "
      "ON CONFLICT (store_id, stage) DO UPDATE SET "
      "cursor_at = GREATEST(sync_tracking.cursor_at, excluded.cursor_at), "
      "last_run_id = excluded.last_run_id, updated_at = now()",
      store, std::string(stage), Timestamp(cursor), std::string(run_id));
}

std::string OrdersCopyText(const std::string& store, const std::vector<Order>& orders) {
  std::string out;
  out.reserve(orders.size() * 320);
  std::string escaped_store;
  AppendCopyEscaped(escaped_store, store);
  for (const Order& o : orders) {
    if (&o != &orders.front()) out.push_back('\n');
    out.append(escaped_store);
    out.push_back('\t');
    absl::StrAppend(&out, o.id);
    out.push_back('\t');
    AppendCopyEscaped(out, o.name);
    out.push_back('\t');
    AppendCopyEscaped(out, o.email);
    out.push_back('\t');
    AppendOrNull(out, o.customer_id, [](std::string& to, int64_t id) { absl::StrAppend(&to, id); });
    out.push_back('\t');
    AppendTimestamp(out, o.created_at);
    out.push_back('\t');
    AppendTimestamp(out, o.updated_at);
    out.push_back('\t');
    AppendOrNull(out, o.processed_at, AppendTimestamp);
    out.push_back('\t');
    AppendOrNull(out, o.cancelled_at, AppendTimestamp);
    out.push_back('\t');
    AppendCopyEscaped(out, o.currency);
    out.push_back('\t');
    AppendMoney(out, o.total_price_cents);
    out.push_back('\t');
    AppendMoney(out, o.subtotal_price_cents);
    out.push_back('\t');
    AppendMoney(out, o.total_tax_cents);
    out.push_back('\t');
    AppendMoney(out, o.total_discounts_cents);
    out.push_back('\t');
    AppendOrNull(out, o.current_total_price_cents, AppendMoney);
    out.push_back('\t');
    AppendMoney(out, o.refunded_cents);
    out.push_back('\t');
    AppendCopyEscaped(out, o.financial_status);
    out.push_back('\t');
    out.push_back(o.test ? 't' : 'f');
  }
  return out;
}

constexpr char kOrderColumns[] =
    "store_id, order_id, name, email, customer_id, created_at, updated_at, processed_at, "
    "cancelled_at, currency, total_price, subtotal_price, total_tax, total_discounts, "
    "current_total_price, refunded_amount, financial_status, test";

// COPYs `text` (OrdersCopyText) into `table` in one write. tablewriter is libpqxx 6.4's only
// public way to send preformatted COPY data (stream_to's raw write is private).
void CopyRows(pqxx::transaction_base& tx, const std::string& table, const std::string& text) {
  static const std::vector<std::string> kColumns = absl::StrSplit(kOrderColumns, ", ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter copy(tx, table, kColumns.begin(), kColumns.end());
#pragma GCC diagnostic pop
  copy.write_raw_line(text);
  copy.complete();
}

// LTV cohorts (migration 0003 describes the tables). A recompute holds the store's LTV lock
// exclusively; writers of orders hold it shared (the orders triggers take it), so each statement
// below sees the orders and the change log as of one moment.
constexpr char kLtvLockSql[] =
    "SELECT pg_advisory_xact_lock(hashtext('autosync.ltv'), hashtext($1))";

// Orders that count: a customer's, not test, not cancelled, not voided (the predicate of the
// orders_ltv index, so the planner can read the store from that index alone).
#define AUTOSYNC_LTV_COUNTED(o)                                                      \
  o "customer_id IS NOT NULL AND NOT " o "test AND " o "cancelled_at IS NULL AND " o \
    "financial_status <> 'voided'"

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
  WHERE store_id = $1 AND customer_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
    AND financial_status <> 'voided' AND customer_id BETWEEN $3 AND $4
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
WHERE store_id = $1 AND customer_id IS NOT NULL AND NOT test AND cancelled_at IS NULL
  AND financial_status <> 'voided'
)sql";
// A store with fewer orders than this is rebuilt on one connection: a second connection (its
// connect, authentication and exported snapshot, a few ms) costs more than it saves on a small
// store, and a fleet's onboarding is mostly small stores.
constexpr int64_t kLtvHelperMinOrders = 20'000;

// Staging tables (orders_stage, ads_stage) are per-connection temp tables created on first use
// and emptied by a DELETE in the transaction that filled them (an aborted one takes its rows
// back). Not `ON COMMIT DELETE ROWS`: that truncates them at every commit of the connection,
// any transaction's, which cost 7 ms a commit against 0.1 ms for the DELETE (BENCHMARKS.md,
// the fleet row).

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
  WHERE )sql" AUTOSYNC_LTV_COUNTED("o.") R"sql(
), now_counted AS (
  SELECT o.order_id, o.customer_id, o.created_at, o.total_price - o.refunded_amount AS net
  FROM dirty d
  JOIN orders o ON o.store_id = $1 AND o.customer_id = d.customer_id
  WHERE )sql" AUTOSYNC_LTV_COUNTED("o.") R"sql(
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

#undef AUTOSYNC_LTV_COUNTED
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

class PgSyncStore final : public SyncStore {
 public:
  explicit PgSyncStore(common::PgPool& pool) : pool_(pool) {}

  absl::StatusOr<StoreConfig> LoadStore(absl::string_view store_id) override {
    StoreConfig config;
    bool found = false;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT store_id, timezone, orders_api_base, orders_api_version, ads_api_base, "
          "ads_api_version, ad_account_id, credentials_ref, orders_api FROM stores "
          "WHERE store_id = $1",
          std::string(store_id));
      if (r.empty()) return absl::OkStatus();
      found = true;
      config.store_id = r[0][0].as<std::string>();
      config.timezone = r[0][1].as<std::string>();
      config.orders_api_base = r[0][2].as<std::string>();
      config.orders_api_version = r[0][3].as<std::string>();
      config.ads_api_base = r[0][4].as<std::string>();
      config.ads_api_version = r[0][5].as<std::string>();
      config.ad_account_id = r[0][6].as<std::string>();
      config.credentials_ref = r[0][7].as<std::string>();
      config.orders_api = r[0][8].as<std::string>();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (!found)
      return absl::NotFoundError(absl::StrCat("no store \"", store_id, "\" is registered"));
    return config;
  }

  absl::StatusOr<std::optional<absl::Time>> OrdersCursor(absl::string_view store_id) override {
    std::optional<absl::Time> cursor;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT extract(epoch FROM cursor_at)::float8 FROM sync_tracking "
          "WHERE store_id = $1 AND stage = 'orders' AND cursor_at IS NOT NULL",
          std::string(store_id));
      if (!r.empty()) cursor = absl::FromUnixMicros(std::llround(r[0][0].as<double>() * 1e6));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return cursor;
  }

  absl::StatusOr<int64_t> WriteOrdersPage(absl::string_view store_id, absl::string_view run_id,
                                          const std::vector<Order>& orders, absl::Time cursor,
                                          bool likely_new) override {
    int64_t written = 0;
    const std::string store(store_id);
    std::string copy_text;
    if (!orders.empty()) copy_text = OrdersCopyText(store, orders);
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      written = 0;
      pqxx::work tx(c, "orders_page");
      bool inserted = false;
      if (likely_new && !orders.empty()) {
        // Straight into `orders`, as a plain COPY would (no staging, no sort, no conflict
        // checks). An order stored already (it changed while we paged, or the hint was wrong)
        // makes the COPY fail; the savepoint takes it back and the page is merged below.
        try {
          pqxx::subtransaction direct(tx, "orders_direct");
          CopyRows(direct, "orders", copy_text);
          direct.commit();
          written = static_cast<int64_t>(orders.size());
          inserted = true;
        } catch (const pqxx::unique_violation&) {
        }
      }
      if (!inserted && !orders.empty()) {
        tx.exec(
            "CREATE TEMP TABLE IF NOT EXISTS orders_stage "
            "(LIKE orders INCLUDING DEFAULTS)");
        CopyRows(tx, "orders_stage", copy_text);
        // An order can appear twice when it changes while we page: keep its newest version.
        const pqxx::result r = tx.exec(absl::StrCat(
            "INSERT INTO orders (", kOrderColumns, ") ", "SELECT DISTINCT ON (order_id) ",
            kOrderColumns,
            " FROM orders_stage ORDER BY order_id, updated_at DESC "
            "ON CONFLICT (store_id, order_id) DO UPDATE SET "
            "name = excluded.name, email = excluded.email, customer_id = excluded.customer_id, "
            "created_at = excluded.created_at, updated_at = excluded.updated_at, "
            "processed_at = excluded.processed_at, cancelled_at = excluded.cancelled_at, "
            "currency = excluded.currency, total_price = excluded.total_price, "
            "subtotal_price = excluded.subtotal_price, total_tax = excluded.total_tax, "
            "total_discounts = excluded.total_discounts, "
            "current_total_price = excluded.current_total_price, "
            "refunded_amount = excluded.refunded_amount, "
            "financial_status = excluded.financial_status, test = excluded.test, "
            "synced_at = now() "
            "WHERE excluded.updated_at > orders.updated_at"));
        written = static_cast<int64_t>(r.affected_rows());
        tx.exec("DELETE FROM orders_stage");  // see "Staging tables" above
      }
      if (!orders.empty()) {
        ReleaseQuarantinedOrders(tx, store, IdsArray(orders, [](const Order& o) { return o.id; }));
      }
      AdvanceCursor(tx, store, "orders", cursor, run_id);
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return written;
  }

  absl::StatusOr<std::optional<absl::Time>> DeletionsCursor(absl::string_view store_id) override {
    return CursorTime(store_id, "deletions");
  }

  absl::StatusOr<std::optional<absl::Time>> SweptAt(absl::string_view store_id,
                                                    absl::string_view kind) override {
    return CursorTime(store_id, absl::StrCat(kind, "_sweep"));
  }

  absl::Status MarkSwept(absl::string_view store_id, absl::string_view kind,
                         absl::string_view run_id, absl::Time at) override {
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "swept");
      tx.exec_params(
          "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_run_id, last_success_at, "
          "updated_at) VALUES ($1, $2, $3::timestamptz, $4, now(), now()) "
          "ON CONFLICT (store_id, stage) DO UPDATE SET "
          "cursor_at = GREATEST(sync_tracking.cursor_at, excluded.cursor_at), "
          "last_run_id = excluded.last_run_id, last_success_at = now(), updated_at = now()",
          std::string(store_id), absl::StrCat(kind, "_sweep"), Timestamp(at), std::string(run_id));
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> DeleteOrders(absl::string_view store_id, absl::string_view run_id,
                                       const std::vector<int64_t>& order_ids,
                                       absl::Time cursor) override {
    int64_t deleted = 0;
    const std::string store(store_id);
    const std::string ids = IdsArray(order_ids, [](int64_t id) { return id; });
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "order_deletions");
      deleted = 0;
      if (!order_ids.empty()) {
        deleted = static_cast<int64_t>(
            tx.exec_params(
                  "DELETE FROM orders WHERE store_id = $1 AND order_id = ANY($2::bigint[])", store,
                  ids)
                .affected_rows());
        ReleaseQuarantinedOrders(tx, store, ids);
      }
      AdvanceCursor(tx, store, "deletions", cursor, run_id);
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return deleted;
  }

  absl::StatusOr<std::optional<absl::CivilDay>> AdsCursor(absl::string_view store_id) override {
    std::optional<absl::CivilDay> cursor;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT to_char(cursor_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM sync_tracking "
          "WHERE store_id = $1 AND stage = 'ads' AND cursor_at IS NOT NULL",
          std::string(store_id));
      if (!r.empty()) {
        absl::CivilDay day;
        if (absl::ParseCivilTime(r[0][0].as<std::string>(), &day)) cursor = day;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return cursor;
  }

  absl::StatusOr<int64_t> WriteAdsPage(absl::string_view store_id,
                                       const std::vector<AdRow>& rows) override {
    if (rows.empty()) return 0;
    int64_t written = 0;
    const std::string store(store_id);
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "ads_page");
      tx.exec(
          "CREATE TEMP TABLE IF NOT EXISTS ads_stage "
          "(LIKE ads INCLUDING DEFAULTS)");
      {
        pqxx::stream_to copy(
            tx, "ads_stage",
            std::vector<std::string>{"store_id", "date", "campaign_id", "campaign_name", "spend",
                                     "impressions", "clicks", "purchases", "purchase_value",
                                     "currency"});
        for (const AdRow& a : rows) {
          copy << std::make_tuple(store, Day(a.date), a.campaign_id, a.campaign_name,
                                  Money(a.spend_cents), a.impressions, a.clicks, a.purchases,
                                  Money(a.purchase_value_cents), a.currency);
        }
        copy.complete();
      }
      const pqxx::result r = tx.exec(
          "INSERT INTO ads (store_id, date, campaign_id, campaign_name, spend, impressions, "
          "clicks, purchases, purchase_value, currency) "
          "SELECT DISTINCT ON (date, campaign_id) store_id, date, campaign_id, campaign_name, "
          "spend, impressions, clicks, purchases, purchase_value, currency FROM ads_stage "
          "ORDER BY date, campaign_id "
          "ON CONFLICT (store_id, date, campaign_id) DO UPDATE SET "
          "campaign_name = excluded.campaign_name, spend = excluded.spend, "
          "impressions = excluded.impressions, clicks = excluded.clicks, "
          "purchases = excluded.purchases, purchase_value = excluded.purchase_value, "
          "currency = excluded.currency, synced_at = now() "
          "WHERE (ads.campaign_name, ads.spend, ads.impressions, ads.clicks, ads.purchases, "
          "ads.purchase_value, ads.currency) IS DISTINCT FROM (excluded.campaign_name, "
          "excluded.spend, excluded.impressions, excluded.clicks, excluded.purchases, "
          "excluded.purchase_value, excluded.currency)");
      written = static_cast<int64_t>(r.affected_rows());
      tx.exec_params(
          "DELETE FROM quarantined_records q USING ads_stage s WHERE q.store_id = $1 "
          "AND q.kind = 'ad' AND q.record_key = s.campaign_id || '/' || to_char(s.date, "
          "'YYYY-MM-DD')",
          store);
      tx.exec("DELETE FROM ads_stage");  // see "Staging tables" above
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return written;
  }

  absl::Status Quarantine(absl::string_view store_id, absl::string_view run_id,
                          const std::vector<QuarantinedRecord>& records) override {
    if (records.empty()) return absl::OkStatus();
    const std::string store(store_id);
    const std::string run(run_id);
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "quarantine");
      for (const QuarantinedRecord& q : records) {
        tx.exec_params(
            "INSERT INTO quarantined_records AS q (store_id, kind, record_key, rule, detail, "
            "run_id, source, raw, raw_truncated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (store_id, kind, record_key) DO UPDATE SET rule = excluded.rule, "
            "detail = excluded.detail, run_id = excluded.run_id, source = excluded.source, "
            "raw = excluded.raw, raw_truncated = excluded.raw_truncated, last_seen = now(), "
            "times_seen = q.times_seen + 1",
            store, q.kind, q.record_key, q.rule, q.detail, run, q.source, q.raw, q.raw_truncated);
      }
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::Status MarkStageDone(absl::string_view store_id, absl::string_view stage,
                             absl::string_view run_id,
                             std::optional<absl::CivilDay> ads_until) override {
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "stage_done");
      const std::optional<std::string> until =
          ads_until ? std::optional<std::string>(Day(*ads_until)) : std::nullopt;
      tx.exec_params(
          "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_success_at, last_run_id, "
          "updated_at) VALUES ($1, $2, $3::date::timestamp AT TIME ZONE 'UTC', now(), $4, now()) "
          "ON CONFLICT (store_id, stage) DO UPDATE SET "
          "cursor_at = coalesce(excluded.cursor_at, sync_tracking.cursor_at), "
          "last_success_at = now(), last_run_id = excluded.last_run_id, updated_at = now()",
          std::string(store_id), std::string(stage), until, std::string(run_id));
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> RecomputeLtv(absl::string_view store_id,
                                       absl::string_view timezone) override {
    return Ltv(store_id, timezone, /*rebuild=*/false);
  }

  absl::StatusOr<int64_t> RebuildLtv(absl::string_view store_id,
                                     absl::string_view timezone) override {
    return Ltv(store_id, timezone, /*rebuild=*/true);
  }

 private:
  // The store's `stage` cursor in sync_tracking as an instant (microseconds), if set.
  absl::StatusOr<std::optional<absl::Time>> CursorTime(absl::string_view store_id,
                                                       const std::string& stage) {
    std::optional<absl::Time> at;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      at.reset();
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT (extract(epoch FROM cursor_at) * 1000000)::bigint FROM sync_tracking "
          "WHERE store_id = $1 AND stage = $2 AND cursor_at IS NOT NULL",
          std::string(store_id), stage);
      if (!r.empty()) at = absl::FromUnixMicros(r[0][0].as<int64_t>());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return at;
  }

  absl::StatusOr<int64_t> Ltv(absl::string_view store_id, absl::string_view timezone,
                              bool rebuild) {
    int64_t rows = 0;
    const std::string store(store_id);
    const std::string tz(timezone);
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
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
        RebuildCells(tx, store, tz, vacuumed);
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

  // Fills ltv_cells for the store from every counted order. The customers are split in two
  // id ranges: this connection walks the lower one while a helper connection, in the same
  // snapshot, walks the upper one; cells are sums over customers, so the two halves add up. On
  // two cores this about halves the rebuild (issue #9). If the helper cannot connect or fails,
  // this connection walks the upper range too.
  void RebuildCells(pqxx::transaction_base& tx, const std::string& store, const std::string& tz,
                    bool vacuumed) {
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
        pqxx::connection conn(pool_.options().url);
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
      tx.exec_params(
          absl::StrCat(kInsertLtvCells, kRebuildLtvCellsSql,
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

  // The rebuild sorts when the orders_ltv index cannot be read alone; JIT compiling these
  // statements costs more than it saves. Set on the LTV transaction and on the rebuild's helper.
  static constexpr char kLtvSessionSettings[] = "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off";

  // Reading the orders_ltv index in order needs a heap visit per row where the table is not yet
  // vacuumed (right after a first full sync): one random read each, several times slower than
  // reading the table and sorting. The planner, without statistics then, does not know; tell it
  // ("off"), for the rebuild's own statements only ("DEFAULT" after them): `SET LOCAL` lasts to
  // the end of the transaction, and the statements after the rebuild (the store's cohorts: a
  // delete and a query over ltv_cells and ads) need their indexes, or each reads the whole
  // fleet's tables.
  static void IndexScans(pqxx::transaction_base& tx, absl::string_view value) {
    tx.exec(absl::StrCat("SET LOCAL enable_indexscan TO ", value,
                         "; SET LOCAL enable_indexonlyscan TO ", value,
                         "; SET LOCAL enable_bitmapscan TO ", value));
  }

  common::PgPool& pool_;
};

}  // namespace

std::unique_ptr<SyncStore> MakePgSyncStore(common::PgPool& pool) {
  return std::make_unique<PgSyncStore>(pool);
}

}  // namespace autosync::worker
