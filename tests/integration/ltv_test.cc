// LTV cohort math in PostgreSQL against a hand-computed fixture: cohort months in the store's
// time zone, test / cancelled / voided orders excluded, refunds subtracted, guests in no cohort,
// gaps filled, CAC from the cohort month's ad spend.
#include <pqxx/pqxx>

#include "common/migrations.h"
#include "common/pg_pool.h"
#include "gtest/gtest.h"
#include "sync-worker/sync_store.h"
#include "tests/support/pg_cluster.h"

namespace autosync::worker {
namespace {

struct Cell {
  std::string cohort;
  int offset;
  int64_t customers;
  int64_t active;
  int64_t orders;
  std::string net;
  std::string per_customer;
  double retention;
  std::string spend;
  std::optional<std::string> cac;
  std::optional<double> ltv_to_cac;
};

class LtvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = autosync::testing::FreshDatabaseUrl();
    auto pool = common::PgPool::Create({.url = url_, .size = 2});
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(*pool);
    ASSERT_TRUE(common::ApplyMigrations(*pool_, common::EmbeddedMigrations()).ok());
    store_ = MakePgSyncStore(*pool_);
    Exec("INSERT INTO stores (store_id, timezone) VALUES ('fx', 'America/New_York')");
  }

  void Exec(const std::string& sql) {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
  }

  void Order(int64_t id, std::optional<int64_t> customer, const std::string& created,
             const std::string& total, const std::string& refunded = "0", bool test = false,
             bool cancelled = false, const std::string& status = "paid") {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO orders (store_id, order_id, customer_id, created_at, updated_at, "
        "total_price, refunded_amount, test, cancelled_at, financial_status) "
        "VALUES ('fx', $1, $2, $3::timestamptz, $3::timestamptz, $4::numeric, $5::numeric, $6, "
        "CASE WHEN $7 THEN $3::timestamptz END, $8)",
        id, customer, created, total, refunded, test, cancelled, status);
    tx.commit();
  }

  std::vector<Cell> Cells() {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    std::vector<Cell> out;
    for (const auto& r : tx.exec(
             "SELECT to_char(cohort_month, 'YYYY-MM'), month_offset, cohort_customers, "
             "active_customers, orders, net_revenue::text, "
             "cumulative_revenue_per_customer::text, retention, ad_spend::text, cac::text, "
             "ltv_to_cac FROM customer_ltv_cohorts WHERE store_id = 'fx' ORDER BY 1, 2")) {
      out.push_back({r[0].as<std::string>(), r[1].as<int>(), r[2].as<int64_t>(),
                     r[3].as<int64_t>(), r[4].as<int64_t>(), r[5].as<std::string>(),
                     r[6].as<std::string>(), r[7].as<double>(), r[8].as<std::string>(),
                     r[9].is_null() ? std::nullopt : std::optional(r[9].as<std::string>()),
                     r[10].is_null() ? std::nullopt : std::optional(r[10].as<double>())});
    }
    return out;
  }

  std::string url_;
  std::unique_ptr<common::PgPool> pool_;
  std::unique_ptr<SyncStore> store_;
};

TEST_F(LtvTest, MatchesTheHandComputedCohortTable) {
  // Customer 1: Jan, Feb, and a Mar order with a $10 refund.
  Order(1, 1, "2024-01-05T12:00:00-05:00", "100.00");
  Order(2, 1, "2024-02-10T12:00:00-05:00", "50.00");
  Order(3, 1, "2024-03-15T12:00:00-04:00", "30.00", "10.00");
  // Customer 2: 23:30 on Jan 31 in New York is already February in UTC: cohort January.
  Order(4, 2, "2024-01-31T23:30:00-05:00", "80.00");
  Order(5, 2, "2024-03-01T09:00:00-05:00", "40.00");
  // Customer 3: one real order; a test order and a cancelled order do not count.
  Order(6, 3, "2024-02-01T10:00:00-05:00", "200.00");
  Order(7, 3, "2024-02-02T10:00:00-05:00", "999.00", "0", /*test=*/true);
  Order(8, 3, "2024-03-05T10:00:00-05:00", "500.00", "0", false, /*cancelled=*/true);
  // Customer 4: one order, and a voided one that does not count.
  Order(9, 4, "2024-02-15T10:00:00-05:00", "60.00");
  Order(10, 4, "2024-03-10T10:00:00-04:00", "70.00", "0", false, false, "voided");
  // A guest order: revenue, but no cohort.
  Order(11, std::nullopt, "2024-01-10T10:00:00-05:00", "300.00");
  // Ad spend: January $200 over two campaigns, February $100, March none.
  Exec("INSERT INTO ads (store_id, date, campaign_id, spend) VALUES "
       "('fx', '2024-01-03', 'c1', 120), ('fx', '2024-01-20', 'c2', 80), "
       "('fx', '2024-02-11', 'c1', 100)");

  absl::StatusOr<int64_t> rows = store_->RecomputeLtv("fx", "America/New_York");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 5);

  // Written out by hand (see the comments above for which orders count):
  //   Jan cohort {1, 2}: Jan 100+80, Feb 50, Mar 20+40; CAC 200/2 = 100.
  //   Feb cohort {3, 4}: Feb 200+60, Mar nothing; CAC 100/2 = 50.
  const std::vector<Cell> expected = {
      {"2024-01", 0, 2, 2, 2, "180.00", "90.0000", 1.0, "200.00", "100.0000", 0.9},
      {"2024-01", 1, 2, 1, 1, "50.00", "115.0000", 0.5, "200.00", "100.0000", 1.15},
      {"2024-01", 2, 2, 2, 2, "60.00", "145.0000", 1.0, "200.00", "100.0000", 1.45},
      {"2024-02", 0, 2, 2, 2, "260.00", "130.0000", 1.0, "100.00", "50.0000", 2.6},
      {"2024-02", 1, 2, 0, 0, "0.00", "130.0000", 0.0, "100.00", "50.0000", 2.6},
  };
  const std::vector<Cell> actual = Cells();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].cohort + " +" + std::to_string(expected[i].offset));
    EXPECT_EQ(actual[i].cohort, expected[i].cohort);
    EXPECT_EQ(actual[i].offset, expected[i].offset);
    EXPECT_EQ(actual[i].customers, expected[i].customers);
    EXPECT_EQ(actual[i].active, expected[i].active);
    EXPECT_EQ(actual[i].orders, expected[i].orders);
    EXPECT_EQ(actual[i].net, expected[i].net);
    EXPECT_EQ(actual[i].per_customer, expected[i].per_customer);
    EXPECT_DOUBLE_EQ(actual[i].retention, expected[i].retention);
    EXPECT_EQ(actual[i].spend, expected[i].spend);
    EXPECT_EQ(actual[i].cac, expected[i].cac);
    ASSERT_TRUE(actual[i].ltv_to_cac.has_value());
    EXPECT_NEAR(*actual[i].ltv_to_cac, *expected[i].ltv_to_cac, 1e-9);
  }
}

TEST_F(LtvTest, CohortMonthsFollowTheStoreTimeZone) {
  Order(1, 1, "2024-01-31T23:30:00-05:00", "10.00");  // Feb 1 04:30 UTC
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  ASSERT_EQ(Cells().size(), 1u);
  EXPECT_EQ(Cells()[0].cohort, "2024-02");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "America/New_York").ok());
  ASSERT_EQ(Cells().size(), 1u);
  EXPECT_EQ(Cells()[0].cohort, "2024-01");
}

TEST_F(LtvTest, NoAdSpendMeansNoCacAndRecomputeReplacesOldRows) {
  Order(1, 1, "2024-05-05T12:00:00Z", "10.00");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  ASSERT_EQ(Cells().size(), 1u);
  EXPECT_FALSE(Cells()[0].cac.has_value());
  EXPECT_FALSE(Cells()[0].ltv_to_cac.has_value());
  // The customer's order is refunded to zero and a new customer arrives a month later.
  Exec("UPDATE orders SET refunded_amount = 10 WHERE order_id = 1");
  Order(2, 2, "2024-06-05T12:00:00Z", "25.00");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  const auto cells = Cells();
  ASSERT_EQ(cells.size(), 3u);  // May +0, May +1, Jun +0
  EXPECT_EQ(cells[0].net, "0.00");
  EXPECT_EQ(cells[2].cohort, "2024-06");
  EXPECT_EQ(cells[2].net, "25.00");
}

TEST_F(LtvTest, AStoreWithoutOrdersHasNoCohorts) {
  absl::StatusOr<int64_t> rows = store_->RecomputeLtv("fx", "UTC");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 0);
}

}  // namespace
}  // namespace autosync::worker
