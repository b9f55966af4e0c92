// PgSyncStore: the worker's SQL. Orders pages go through COPY into a per-connection temporary
// staging table, then one INSERT … ON CONFLICT moves them into `orders`; the cursor is advanced
// in the same transaction. All values are parameters or COPY data, never spliced into SQL.
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker {
namespace {

std::string Timestamp(absl::Time t) {
  // %E4Y: PostgreSQL reads "24-01-01" as a two-digit year and refuses it; years 1-999 need
  // their leading zeros (the parsers accept years 0001-9999, see tests/fuzz).
  return absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone());
}

std::string Money(int64_t cents) {
  const bool negative = cents < 0;
  const uint64_t abs = negative ? -static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  return absl::StrFormat("%s%d.%02d", negative ? "-" : "", abs / 100, abs % 100);
}

std::string Day(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());  // see Timestamp
}

constexpr char kOrderColumns[] =
    "store_id, order_id, name, email, customer_id, created_at, updated_at, processed_at, "
    "cancelled_at, currency, total_price, subtotal_price, total_tax, total_discounts, "
    "current_total_price, refunded_amount, financial_status, test";

// Cohorts in one pass: orders are first reduced to one row per (customer, local month), each
// customer's first month is a window minimum over those rows, and the grid of every cohort ×
// month offset up to the store's latest month is filled so curves have no holes.
constexpr char kRecomputeLtvSql[] = R"sql(
WITH counted AS (
  SELECT customer_id,
         date_trunc('month', created_at AT TIME ZONE $2)::date AS month,
         total_price - refunded_amount AS net
  FROM orders
  WHERE store_id = $1 AND customer_id IS NOT NULL AND NOT test
    AND cancelled_at IS NULL AND financial_status <> 'voided'
), per_customer_month AS (
  SELECT customer_id, month, count(*) AS orders, sum(net) AS net
  FROM counted GROUP BY customer_id, month
), with_cohort AS (
  SELECT *, min(month) OVER (PARTITION BY customer_id) AS cohort FROM per_customer_month
), activity AS (
  SELECT cohort,
         ((extract(year FROM month) - extract(year FROM cohort)) * 12
           + extract(month FROM month) - extract(month FROM cohort))::int AS month_offset,
         count(*) AS active, sum(orders) AS orders, sum(net) AS net
  FROM with_cohort GROUP BY 1, 2
), sizes AS (
  SELECT cohort, active AS customers FROM activity WHERE month_offset = 0
), horizon AS (
  SELECT max(month) AS last_month FROM per_customer_month
), grid AS (
  SELECT s.cohort, s.customers, k AS month_offset
  FROM sizes s CROSS JOIN horizon h,
       generate_series(0, ((extract(year FROM h.last_month) - extract(year FROM s.cohort)) * 12
                           + extract(month FROM h.last_month) - extract(month FROM s.cohort))::int) k
), spend AS (
  SELECT date_trunc('month', date)::date AS month, sum(spend) AS spend
  FROM ads WHERE store_id = $1 GROUP BY 1
), cells AS (
  SELECT g.cohort, g.month_offset, g.customers,
         coalesce(a.active, 0) AS active, coalesce(a.orders, 0) AS orders,
         coalesce(a.net, 0) AS net,
         sum(coalesce(a.net, 0)) OVER (PARTITION BY g.cohort ORDER BY g.month_offset) AS cumulative,
         coalesce(sp.spend, 0) AS spend
  FROM grid g
  LEFT JOIN activity a ON a.cohort = g.cohort AND a.month_offset = g.month_offset
  LEFT JOIN spend sp ON sp.month = g.cohort
)
INSERT INTO customer_ltv_cohorts (
  store_id, cohort_month, month_offset, cohort_customers, active_customers, orders, net_revenue,
  cumulative_revenue, cumulative_revenue_per_customer, retention, ad_spend, cac, ltv_to_cac,
  computed_at)
SELECT $1, cohort, month_offset, customers, active, orders, net, cumulative,
       round(cumulative / customers, 4),
       active::float8 / customers,
       spend,
       CASE WHEN spend > 0 THEN round(spend / customers, 4) END,
       CASE WHEN spend > 0 THEN (cumulative / customers)::float8 / (spend / customers)::float8 END,
       now()
FROM cells
)sql";

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
          "ads_api_version, ad_account_id, credentials_ref FROM stores WHERE store_id = $1",
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
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (!found) return absl::NotFoundError(absl::StrCat("no store \"", store_id, "\" is registered"));
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
                                          const std::vector<Order>& orders,
                                          absl::Time cursor) override {
    int64_t written = 0;
    const std::string store(store_id);
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "orders_page");
      tx.exec(
          "CREATE TEMP TABLE IF NOT EXISTS orders_stage "
          "(LIKE orders INCLUDING DEFAULTS) ON COMMIT DELETE ROWS");
      if (!orders.empty()) {
        {
          pqxx::stream_to copy(tx, "orders_stage",
                               std::vector<std::string>{
                                   "store_id", "order_id", "name", "email", "customer_id",
                                   "created_at", "updated_at", "processed_at", "cancelled_at",
                                   "currency", "total_price", "subtotal_price", "total_tax",
                                   "total_discounts", "current_total_price", "refunded_amount",
                                   "financial_status", "test"});
          for (const Order& o : orders) {
            const std::string id = absl::StrCat(o.id);
            const std::string customer = o.customer_id ? absl::StrCat(*o.customer_id) : "";
            const std::string created = Timestamp(o.created_at);
            const std::string updated = Timestamp(o.updated_at);
            const std::string processed = o.processed_at ? Timestamp(*o.processed_at) : "";
            const std::string cancelled = o.cancelled_at ? Timestamp(*o.cancelled_at) : "";
            const std::string total = Money(o.total_price_cents);
            const std::string subtotal = Money(o.subtotal_price_cents);
            const std::string tax = Money(o.total_tax_cents);
            const std::string discounts = Money(o.total_discounts_cents);
            const std::string current =
                o.current_total_price_cents ? Money(*o.current_total_price_cents) : "";
            const std::string refunded = Money(o.refunded_cents);
            // nullptr fields are written as SQL NULL.
            const auto row = std::make_tuple(
                store.c_str(),
                id.c_str(),
                o.name.c_str(),
                o.email.c_str(),
                o.customer_id ? customer.c_str() : nullptr,
                created.c_str(),
                updated.c_str(),
                o.processed_at ? processed.c_str() : nullptr,
                o.cancelled_at ? cancelled.c_str() : nullptr,
                o.currency.c_str(),
                total.c_str(),
                subtotal.c_str(),
                tax.c_str(),
                discounts.c_str(),
                o.current_total_price_cents ? current.c_str() : nullptr,
                refunded.c_str(),
                o.financial_status.c_str(),
                o.test ? "t" : "f");
            copy << row;
          }
          copy.complete();
        }
        // An order can appear twice when it changes while we page: keep its newest version.
        const pqxx::result r = tx.exec(absl::StrCat(
            "INSERT INTO orders (", kOrderColumns, ") ",
            "SELECT DISTINCT ON (order_id) ", kOrderColumns,
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
      }
      tx.exec_params(
          "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_run_id, updated_at) "
          "VALUES ($1, 'orders', $2::timestamptz, $3, now()) "
          "ON CONFLICT (store_id, stage) DO UPDATE SET "
          "cursor_at = GREATEST(sync_tracking.cursor_at, excluded.cursor_at), "
          "last_run_id = excluded.last_run_id, updated_at = now()",
          store, Timestamp(cursor), std::string(run_id));
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return written;
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
          "(LIKE ads INCLUDING DEFAULTS) ON COMMIT DELETE ROWS");
      {
        pqxx::stream_to copy(tx, "ads_stage",
                             std::vector<std::string>{"store_id", "date", "campaign_id",
                                                      "campaign_name", "spend", "impressions",
                                                      "clicks", "purchases", "purchase_value",
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
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return written;
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
    int64_t rows = 0;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "ltv");
      tx.exec_params("DELETE FROM customer_ltv_cohorts WHERE store_id = $1",
                     std::string(store_id));
      const pqxx::result r =
          tx.exec_params(kRecomputeLtvSql, std::string(store_id), std::string(timezone));
      rows = static_cast<int64_t>(r.affected_rows());
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return rows;
  }

 private:
  common::PgPool& pool_;
};

}  // namespace

std::unique_ptr<SyncStore> MakePgSyncStore(common::PgPool& pool) {
  return std::make_unique<PgSyncStore>(pool);
}

}  // namespace autosync::worker
