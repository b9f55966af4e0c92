// The worker's writes of orders and ads (SyncStore::WriteOrdersPage, DeleteOrders, WriteAdsPage).
// A page of orders is COPYed straight into `orders` on a store's first sync, else (or when that
// meets a stored order) into a per-connection temporary staging table from which one INSERT … ON
// CONFLICT merges it; the cursor is advanced in the same transaction. Ads are merged the same way
// through their own staging table. All values are parameters or COPY data, never spliced into SQL.
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/money.h"
#include "common/pg_pool.h"
#include "sync-worker/copy_text.h"
#include "sync-worker/pg_sync_store_parts.h"

namespace autosync::worker::pg {
namespace {

std::string Money(int64_t cents) { return common::FormatCents(cents); }

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

// One page of orders as COPY text for kOrderColumns, rows separated by newlines (no final one).
std::string OrdersCopyText(const std::string& store, const std::vector<Order>& orders) {
  std::string out;
  out.reserve(orders.size() * 320);
  std::string escaped_store;
  AppendCopyEscaped(escaped_store, store);
  for (const Order& o : orders) {
    if (&o != &orders.front()) out.push_back('\n');
    CopyRowWriter row(out);
    row.Escaped(escaped_store);
    row.Int(o.id);
    row.Text(o.name);
    row.Text(o.email);
    row.Int(o.customer_id);
    row.Time(o.created_at);
    row.Time(o.updated_at);
    row.Time(o.processed_at);
    row.Time(o.cancelled_at);
    row.Text(o.currency);
    row.Money(o.total_price_cents);
    row.Money(o.subtotal_price_cents);
    row.Money(o.total_tax_cents);
    row.Money(o.total_discounts_cents);
    row.Money(o.current_total_price_cents);
    row.Money(o.refunded_cents);
    row.Text(o.financial_status);
    row.Bool(o.test);
  }
  return out;
}

// The columns of `orders` the worker writes, in OrdersCopyText's order. Not ltv_counted: a
// generated column (migration 0017) that PostgreSQL computes, and that no COPY or INSERT may name.
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

// Staging tables (orders_stage, ads_stage) are per-connection temp tables created on first use
// and emptied by a DELETE in the transaction that filled them (an aborted one takes its rows
// back). Not `ON COMMIT DELETE ROWS`: that truncates them at every commit of the connection,
// any transaction's, which cost 7 ms a commit against 0.1 ms for the DELETE (BENCHMARKS.md,
// the fleet row).

}  // namespace

absl::StatusOr<int64_t> WriteOrdersPage(common::PgPool& pool, absl::string_view store_id,
                                        absl::string_view run_id, const std::vector<Order>& orders,
                                        absl::Time cursor, bool likely_new) {
  int64_t written = 0;
  const std::string store(store_id);
  std::string copy_text;
  if (!orders.empty()) copy_text = OrdersCopyText(store, orders);
  absl::Status s = pool.Run([&](pqxx::connection_base& c) {
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

absl::StatusOr<int64_t> DeleteOrders(common::PgPool& pool, absl::string_view store_id,
                                     absl::string_view run_id,
                                     const std::vector<int64_t>& order_ids, absl::Time cursor) {
  int64_t deleted = 0;
  const std::string store(store_id);
  const std::string ids = IdsArray(order_ids, [](int64_t id) { return id; });
  absl::Status s = pool.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c, "order_deletions");
    deleted = 0;
    if (!order_ids.empty()) {
      deleted = static_cast<int64_t>(
          tx.exec_params("DELETE FROM orders WHERE store_id = $1 AND order_id = ANY($2::bigint[])",
                         store, ids)
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

absl::StatusOr<int64_t> WriteAdsPage(common::PgPool& pool, absl::string_view store_id,
                                     const std::vector<AdRow>& rows) {
  if (rows.empty()) return 0;
  int64_t written = 0;
  const std::string store(store_id);
  absl::Status s = pool.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c, "ads_page");
    tx.exec(
        "CREATE TEMP TABLE IF NOT EXISTS ads_stage "
        "(LIKE ads INCLUDING DEFAULTS)");
    {
      pqxx::stream_to copy(tx, "ads_stage",
                           std::vector<std::string>{
                               "store_id", "date", "campaign_id", "campaign_name", "spend",
                               "impressions", "clicks", "purchases", "purchase_value", "currency"});
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

}  // namespace autosync::worker::pg
