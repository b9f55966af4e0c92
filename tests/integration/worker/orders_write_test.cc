// PgSyncStore::WriteOrdersPage against PostgreSQL, both ways a page can go in: straight into
// `orders` (likely_new, a store's first sync) and through the staging table and merge. Both must
// store the same bytes (hand-written COPY text: escapes, NULLs, timestamps at the calendar's
// edges, negative money), keep the newest version of an order, count what changed and advance the
// cursor with the page; a wrong hint must fall back to the merge without losing or doubling rows.
#include <limits>
#include <pqxx/pqxx>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "gtest/gtest.h"
#include "sync-worker/sync_store.h"
#include "tests/support/migrated_db.h"

namespace autosync::worker {
namespace {

absl::Time At(const char* text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) ADD_FAILURE() << text << error;
  return t;
}

// Every column as PostgreSQL stores it, one row per order, in order_id order.
constexpr char kRowsSql[] = R"sql(
SELECT order_id || '|' || name || '|' || email || '|' || coalesce(customer_id::text, 'NULL') || '|'
       || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '|'
       || to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '|'
       || coalesce(to_char(processed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), 'NULL')
       || '|'
       || coalesce(to_char(cancelled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), 'NULL')
       || '|' || currency || '|' || total_price || '|' || subtotal_price || '|' || total_tax || '|'
       || total_discounts || '|' || coalesce(current_total_price::text, 'NULL') || '|'
       || refunded_amount || '|' || financial_status || '|' || test
FROM orders WHERE store_id = $1 ORDER BY order_id
)sql";

class OrdersWriteTest : public autosync::testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = MakePgSyncStore(*pool_);
    Exec("INSERT INTO stores (store_id) VALUES ('direct'), ('merged')");
  }

  std::vector<std::string> Rows(const std::string& store) {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(kRowsSql, store)) out.push_back(r[0].as<std::string>());
    return out;
  }

  // The store's cohort cells, one "month|offset|customers|active|orders|revenue" per cell.
  std::string CohortCells(const std::string& store) {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    return tx
        .exec_params(
            "SELECT string_agg(concat_ws('|', cohort_month, month_offset, "
            "cohort_customers, active_customers, orders, net_revenue), ',' ORDER BY "
            "cohort_month, month_offset) FROM customer_ltv_cohorts "
            "WHERE store_id = $1",
            store)[0][0]
        .as<std::string>();
  }

  std::string Cursor(const std::string& store) {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec_params(
        "SELECT to_char(cursor_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') "
        "FROM sync_tracking WHERE store_id = $1 AND stage = 'orders'",
        store);
    return r.empty() ? "none" : r[0][0].as<std::string>();
  }

  // Writes the page to both stores, `direct` with the hint and `merged` without; both must
  // report `expect_written` and end up with the same rows and cursor.
  void WriteBoth(const std::vector<Order>& page, absl::Time cursor, int64_t expect_written) {
    absl::StatusOr<int64_t> direct = store_->WriteOrdersPage("direct", "run", page, cursor, true);
    ASSERT_TRUE(direct.ok()) << direct.status();
    absl::StatusOr<int64_t> merged = store_->WriteOrdersPage("merged", "run", page, cursor, false);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_EQ(*direct, expect_written);
    EXPECT_EQ(*merged, expect_written);
    EXPECT_EQ(Rows("direct"), Rows("merged"));
    EXPECT_EQ(Cursor("direct"), Cursor("merged"));
  }

  static Order Plain(int64_t id, absl::Time updated) {
    Order o;
    o.id = id;
    o.name = absl::StrCat("#", id);
    o.email = absl::StrCat("c", id, "@example.com");
    o.customer_id = 1000 + id % 7;
    o.created_at = updated - absl::Hours(1);
    o.updated_at = updated;
    o.processed_at = o.created_at;
    o.currency = "USD";
    o.total_price_cents = 1000 + id;
    o.subtotal_price_cents = 900 + id;
    o.total_tax_cents = 100;
    o.current_total_price_cents = o.total_price_cents;
    o.financial_status = "paid";
    return o;
  }

  std::unique_ptr<SyncStore> store_;
};

TEST_F(OrdersWriteTest, EveryValueIsStoredExactlyBothWays) {
  std::vector<Order> page;
  Order a = Plain(1, At("2024-02-29T23:59:59.999999Z"));
  a.name =
      "tab\there, newline\nthere, cr\rback\\slash \\N \"quote\" 'single' \xE2\x82\xAC "
      "\xF0\x9F\x98\x80";
  a.email = "\\.";  // the end-of-data marker of old COPY clients
  a.customer_id.reset();
  a.processed_at.reset();
  a.cancelled_at = At("1969-12-31T23:59:59.5Z");  // before the epoch, with a fraction
  a.currency = "\t";
  a.total_price_cents = -123456789012;
  a.subtotal_price_cents = -1;
  a.total_tax_cents = 0;
  a.total_discounts_cents = 99;
  a.current_total_price_cents.reset();
  a.refunded_cents = 5;
  a.financial_status = "";
  a.test = true;
  page.push_back(a);
  Order b = Plain(2, At("9999-12-31T23:59:59.999999Z"));
  b.created_at = At("0001-01-01T00:00:00Z");
  b.processed_at = At("1900-03-01T12:34:56.000001Z");
  page.push_back(b);
  Order c = Plain(3, At("2000-02-29T00:00:00Z"));
  c.id = std::numeric_limits<int64_t>::max();
  c.name = "#c";
  c.email = "";
  c.customer_id = std::numeric_limits<int64_t>::min();
  c.created_at = At("2100-03-01T00:00:00+05:30");  // 2100 is no leap year
  c.total_price_cents = 9999999999999999;          // the most numeric(16, 2) holds
  c.subtotal_price_cents = -9999999999999999;
  c.current_total_price_cents = 0;
  page.push_back(c);
  WriteBoth(page, At("2030-01-01T00:00:00Z"), 3);

  const std::vector<std::string> rows = Rows("direct");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            "1|tab\there, newline\nthere, cr\rback\\slash \\N \"quote\" 'single' \xE2\x82\xAC "
            "\xF0\x9F\x98\x80|\\.|NULL|2024-02-29 22:59:59.999999|2024-02-29 23:59:59.999999|NULL|"
            "1969-12-31 23:59:59.500000|\t|-1234567890.12|-0.01|0.00|0.99|NULL|0.05||true");
  EXPECT_EQ(rows[1],
            "2|#2|c2@example.com|1002|0001-01-01 00:00:00.000000|9999-12-31 23:59:59.999999|"
            "1900-03-01 12:34:56.000001|NULL|USD|10.02|9.02|1.00|0.00|10.02|0.00|paid|false");
  EXPECT_EQ(rows[2],
            "9223372036854775807|#c||-9223372036854775808|2100-02-28 18:30:00.000000|"
            "2000-02-29 00:00:00.000000|2000-02-28 23:00:00.000000|NULL|USD|"
            "99999999999999.99|-99999999999999.99|1.00|0.00|0.00|0.00|paid|false");
  EXPECT_EQ(Cursor("direct"), "2030-01-01 00:00:00.000000");
}

TEST_F(OrdersWriteTest, RandomTimestampsMatchPostgresql) {
  // The hand-written timestamp text against PostgreSQL's own reading of the same instant.
  std::mt19937_64 rng(7);
  std::vector<Order> page;
  for (int i = 0; i < 250; ++i) {
    // Anywhere in years 0001-9999, to the microsecond.
    const int64_t lo = absl::ToUnixMicros(At("0001-01-01T00:00:00Z"));
    const int64_t hi = absl::ToUnixMicros(At("9999-12-31T23:59:59.999999Z"));
    Order o = Plain(i + 1, absl::FromUnixMicros(
                               lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo))));
    o.created_at = absl::FromUnixMicros(lo + static_cast<int64_t>(rng() % 1000000));
    page.push_back(o);
  }
  WriteBoth(page, At("2030-01-01T00:00:00Z"), 250);
  pqxx::connection conn(url_);
  pqxx::read_transaction tx(conn);
  for (const auto& r :
       tx.exec("SELECT order_id, (extract(epoch FROM updated_at) * 1000000)::numeric(30,0)::text, "
               "(extract(epoch FROM created_at) * 1000000)::numeric(30,0)::text "
               "FROM orders WHERE store_id = 'direct' ORDER BY order_id")) {
    const Order& o = page[r[0].as<size_t>() - 1];
    EXPECT_EQ(r[1].as<std::string>(), absl::StrCat(absl::ToUnixMicros(o.updated_at)));
    EXPECT_EQ(r[2].as<std::string>(), absl::StrCat(absl::ToUnixMicros(o.created_at)));
  }
}

TEST_F(OrdersWriteTest, AWrongHintFallsBackToTheMergeAndKeepsTheNewestVersion) {
  const absl::Time t0 = At("2024-01-01T00:00:00Z");
  std::vector<Order> first;
  for (int i = 1; i <= 100; ++i) first.push_back(Plain(i, t0 + absl::Seconds(i)));
  WriteBoth(first, t0 + absl::Seconds(100), 100);

  // Half of these are stored already: 1-25 changed since (newer), 26-50 are stale copies
  // (older), 101-150 are new. The direct COPY hits order 1 and must give way to the merge.
  std::vector<Order> second;
  for (int i = 1; i <= 25; ++i) {
    Order o = Plain(i, t0 + absl::Hours(1) + absl::Seconds(i));
    o.total_price_cents = 5;
    second.push_back(o);
  }
  for (int i = 26; i <= 50; ++i) {
    Order o = Plain(i, t0 - absl::Hours(1));
    o.total_price_cents = 7;
    second.push_back(o);
  }
  for (int i = 101; i <= 150; ++i)
    second.push_back(Plain(i, t0 + absl::Hours(2) + absl::Seconds(i)));
  WriteBoth(second, t0 + absl::Hours(3), 75);
  const std::vector<std::string> rows = Rows("direct");
  ASSERT_EQ(rows.size(), 150u);
  EXPECT_NE(rows[0].find("|0.05|"), std::string::npos) << rows[0];    // changed: newest wins
  EXPECT_EQ(rows[30].find("|0.07|"), std::string::npos) << rows[30];  // stale copy ignored

  // The same order twice in one page (it changed while we paged): the newer one is kept.
  std::vector<Order> third = {Plain(200, t0 + absl::Hours(5)), Plain(200, t0 + absl::Hours(4))};
  third[0].total_price_cents = 11;
  third[1].total_price_cents = 13;
  WriteBoth(third, t0 + absl::Hours(5), 1);
  EXPECT_NE(Rows("direct").back().find("|0.11|"), std::string::npos);

  // The cursor never goes back.
  WriteBoth({Plain(1, t0)}, t0, 0);
  EXPECT_EQ(Cursor("direct"), "2024-01-01 05:00:00.000000");
  EXPECT_EQ(Cursor("merged"), "2024-01-01 05:00:00.000000");
}

TEST_F(OrdersWriteTest, APageThePostgresqlRefusesWritesNothingEitherWay) {
  const absl::Time t0 = At("2024-01-01T00:00:00Z");
  std::vector<Order> page = {Plain(1, t0), Plain(2, t0)};
  page[1].total_price_cents = 10000000000000000;  // one cent past numeric(16, 2)
  for (bool likely_new : {true, false}) {
    absl::StatusOr<int64_t> written =
        store_->WriteOrdersPage("direct", "run", page, t0 + absl::Hours(1), likely_new);
    EXPECT_FALSE(written.ok());
    EXPECT_TRUE(Rows("direct").empty());
    EXPECT_EQ(Cursor("direct"), "none");
  }
}

TEST_F(OrdersWriteTest, AnEmptyPageOnlyMovesTheCursor) {
  WriteBoth({}, At("2024-05-01T00:00:00Z"), 0);
  EXPECT_TRUE(Rows("direct").empty());
  EXPECT_EQ(Cursor("direct"), "2024-05-01 00:00:00.000000");
}

TEST_F(OrdersWriteTest, ADirectPageFeedsTheLtvChangeLog) {
  // A store with LTV state logs every insert, also the ones that skip the staging table, so the
  // incremental recompute equals a rebuild.
  Exec("UPDATE stores SET timezone = 'UTC' WHERE store_id = 'direct'");
  const absl::Time t0 = At("2024-01-01T00:00:00Z");
  ASSERT_TRUE(store_->WriteOrdersPage("direct", "run", {Plain(1, t0)}, t0, true).ok());
  ASSERT_TRUE(store_->RecomputeLtv("direct", "UTC").ok());
  std::vector<Order> page;
  for (int i = 2; i <= 40; ++i) page.push_back(Plain(i, t0 + absl::Hours(24 * i)));
  ASSERT_TRUE(store_->WriteOrdersPage("direct", "run", page, t0 + absl::Hours(24 * 40), true).ok());
  ASSERT_TRUE(store_->RecomputeLtv("direct", "UTC").ok());
  const std::string incremental = CohortCells("direct");
  ASSERT_TRUE(store_->RebuildLtv("direct", "UTC").ok());
  EXPECT_EQ(incremental, CohortCells("direct"));
}

TEST_F(OrdersWriteTest, AnLtvRebuildWithoutItsHelperConnectionGivesTheSameCells) {
  // The rebuild of a store with 20k orders or more walks half the customers on a second
  // connection; when that cannot connect, the first connection walks them too, with the same
  // result.
  Exec("UPDATE stores SET timezone = 'UTC' WHERE store_id = 'direct'");
  const absl::Time t0 = At("2024-01-01T00:00:00Z");
  constexpr int kOrders = 20'000;
  std::vector<Order> page;
  for (int i = 1; i <= kOrders; ++i) page.push_back(Plain(i, t0 + absl::Minutes(7 * i)));
  ASSERT_TRUE(
      store_->WriteOrdersPage("direct", "run", page, t0 + absl::Minutes(7 * kOrders), true).ok());
  ASSERT_TRUE(store_->RebuildLtv("direct", "UTC").ok());
  const std::string with_helper = CohortCells("direct");
  EXPECT_NE(with_helper.find("|7|"), std::string::npos) << with_helper;  // all 7 customers

  std::string database;
  {
    pqxx::connection conn(url_);
    database = conn.dbname();
  }
  // A database's own sessions may not close it; the cluster's maintenance database may.
  auto alter = [&](bool allow) {
    const std::string admin_url = url_.substr(0, url_.rfind('/') + 1) + "postgres";
    pqxx::connection conn(admin_url);
    pqxx::nontransaction tx(conn);
    tx.exec(absl::StrCat("ALTER DATABASE ", tx.quote_name(database), " ALLOW_CONNECTIONS ",
                         allow ? "true" : "false"));
  };
  alter(false);
  // The pool's connections are open already; new ones (the helper's) are refused.
  EXPECT_THROW(pqxx::connection refused(url_), std::exception);
  absl::StatusOr<int64_t> rows = store_->RebuildLtv("direct", "UTC");
  alter(true);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(CohortCells("direct"), with_helper);
}

}  // namespace
}  // namespace autosync::worker
