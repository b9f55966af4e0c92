// LTV cohort math in PostgreSQL against a hand-computed fixture: cohort months in the store's
// time zone, test / cancelled / voided orders excluded, refunds subtracted, guests in no cohort,
// gaps filled, CAC from the cohort month's ad spend. Then the incremental recompute against a
// from-scratch one and against a straightforward query, after mixed changes written the way a
// sync writes them (and by plain SQL).
#include <atomic>
#include <chrono>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "gtest/gtest.h"
#include "sync-worker/sync_store.h"
#include "tests/support/migrated_db.h"

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
  std::string cac_note = {};  // "" when CAC is known or there is no ad spend
};

class LtvTest : public autosync::testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = MakePgSyncStore(*pool_);
    Exec("INSERT INTO stores (store_id, timezone) VALUES ('fx', 'America/New_York')");
  }

  // Inserts an order with plain SQL (no sync involved).
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
    for (const auto& r :
         tx.exec("SELECT to_char(cohort_month, 'YYYY-MM'), month_offset, cohort_customers, "
                 "active_customers, orders, net_revenue::text, "
                 "cumulative_revenue_per_customer::text, retention, coalesce(ad_spend::text, "
                 "'NULL'), cac::text, ltv_to_cac, cac_note FROM customer_ltv_cohorts "
                 "WHERE store_id = 'fx' ORDER BY 1, 2")) {
      out.push_back({r[0].as<std::string>(), r[1].as<int>(), r[2].as<int64_t>(), r[3].as<int64_t>(),
                     r[4].as<int64_t>(), r[5].as<std::string>(), r[6].as<std::string>(),
                     r[7].as<double>(), r[8].as<std::string>(),
                     r[9].is_null() ? std::nullopt : std::optional(r[9].as<std::string>()),
                     r[10].is_null() ? std::nullopt : std::optional(r[10].as<double>()),
                     r[11].as<std::string>()});
    }
    return out;
  }

  // Everything stored per cohort cell but computed_at.
  std::string Digest() {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    return tx
        .exec(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|', cohort_month, "
            "month_offset, cohort_customers, active_customers, orders, net_revenue, "
            "cumulative_revenue, cumulative_revenue_per_customer, retention, ad_spend, cac, "
            "ltv_to_cac, cac_note), ',' ORDER BY cohort_month, month_offset)), '') "
            "FROM customer_ltv_cohorts WHERE store_id = 'fx'")[0][0]
        .as<std::string>();
  }

  // The non-empty cells as stored, and as the query one would write first computes them.
  std::pair<std::string, std::string> StoredAndStraightforwardCells(const std::string& tz) {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    auto text = [](const pqxx::result& r) {
      std::string out;
      for (const auto& row : r) {
        for (const auto& f : row) absl::StrAppend(&out, f.c_str(), "|");
        out += "\n";
      }
      return out;
    };
    const std::string stored = text(tx.exec(
        "SELECT cohort_month, month_offset, active_customers, orders, net_revenue "
        "FROM customer_ltv_cohorts WHERE store_id = 'fx' AND active_customers > 0 ORDER BY 1, 2"));
    const std::string straightforward = text(tx.exec_params(
        "SELECT cohort::date, ((extract(year FROM month) - extract(year FROM cohort)) * 12 "
        "  + extract(month FROM month) - extract(month FROM cohort))::int, "
        "  count(DISTINCT customer_id), count(*), sum(net)::numeric(18, 2) "
        "FROM (SELECT customer_id, date_trunc('month', created_at AT TIME ZONE $1) AS month, "
        "        min(date_trunc('month', created_at AT TIME ZONE $1)) "
        "          OVER (PARTITION BY customer_id) AS cohort, "
        "        total_price - refunded_amount AS net FROM orders "
        "      WHERE store_id = 'fx' AND customer_id IS NOT NULL AND NOT test "
        "        AND cancelled_at IS NULL AND financial_status <> 'voided') o "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        tz));
    return {stored, straightforward};
  }

  std::string RebuiltAt() {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec("SELECT rebuilt_at::text FROM ltv_state WHERE store_id = 'fx'");
    return r.empty() ? "" : r[0][0].as<std::string>();
  }

  // Recomputes incrementally (checking that no rebuild happened when `expect_incremental`), and
  // checks the result against the straightforward query and against a from-scratch recompute.
  void ExpectIncrementalEqualsRebuild(const std::string& tz, bool expect_incremental = true) {
    const std::string rebuilt_at = RebuiltAt();
    absl::StatusOr<int64_t> rows = store_->RecomputeLtv("fx", tz);
    ASSERT_TRUE(rows.ok()) << rows.status();
    if (expect_incremental) {
      EXPECT_EQ(RebuiltAt(), rebuilt_at) << "the recompute rebuilt instead of applying changes";
    }
    const auto [stored, straightforward] = StoredAndStraightforwardCells(tz);
    EXPECT_EQ(stored, straightforward);
    const std::string incremental = Digest();
    absl::StatusOr<int64_t> rebuilt = store_->RebuildLtv("fx", tz);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(*rebuilt, *rows);
    EXPECT_EQ(Digest(), incremental);
  }

  // Writes orders as a sync does: a page through WriteOrdersPage, newest version wins.
  void WritePage(std::vector<worker::Order> page) {
    absl::Time cursor = absl::UnixEpoch();
    for (worker::Order& o : page) {
      o.updated_at = clock_ += absl::Seconds(1);
      cursor = std::max(cursor, o.updated_at);
    }
    absl::StatusOr<int64_t> written = store_->WriteOrdersPage("fx", "run", page, cursor,
                                                              /*likely_new=*/false);
    ASSERT_TRUE(written.ok()) << written.status();
    ASSERT_EQ(*written, static_cast<int64_t>(page.size()));
  }

  static worker::Order NewOrder(int64_t id, std::optional<int64_t> customer,
                                const std::string& created, int64_t cents) {
    worker::Order o;
    o.id = id;
    o.name = absl::StrCat("#", id);
    o.customer_id = customer;
    std::string err;
    EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, created, &o.created_at, &err)) << err;
    o.currency = "USD";
    o.total_price_cents = cents;
    o.subtotal_price_cents = cents;
    o.financial_status = "paid";
    return o;
  }

  std::unique_ptr<SyncStore> store_;
  absl::Time clock_ = absl::FromUnixSeconds(1800000000);  // updated_at of the next write
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
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend) VALUES "
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
    EXPECT_EQ(actual[i].cac_note, "");  // ads without a currency count as the shop's
  }
}

TEST_F(LtvTest, AdSpendInAnotherCurrencyIsConvertedIntoTheShopCurrency) {
  // A USD shop (its orders say so) whose ad account bills in EUR, with a GBP campaign and a USD
  // one. Nov cohort: customers 1 and 2; Dec cohort: customer 3.
  Order(1, 1, "2026-11-05T12:00:00-05:00", "100.00");
  Order(2, 2, "2026-11-20T12:00:00-05:00", "60.00");
  Order(3, 3, "2026-12-03T12:00:00-05:00", "90.00");
  Exec("UPDATE orders SET currency = 'USD' WHERE store_id = 'fx'");
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend, currency) VALUES "
      "('fx', '2026-11-02', 'e1', 100, 'EUR'), ('fx', '2026-11-08', 'e1', 50, 'EUR'), "
      "('fx', '2026-11-03', 'g1', 30, 'GBP'), ('fx', '2026-11-10', 'u1', 20, 'USD'), "
      "('fx', '2026-12-01', 'e1', 80, 'EUR'), ('fx', '2026-12-14', 'e1', 10, 'EUR')");
  // ECB-style rates (units per EUR). Nothing on Sunday 2026-11-08 (Friday's counts, 2 days
  // back) and nothing for 2026-12-10 … 12-14: Wednesday 12-09 is 5 days before Monday 12-14,
  // one too many.
  Exec(
      "INSERT INTO fx_rates (day, currency, per_eur) VALUES "
      "('2026-11-02', 'USD', 1.1000), ('2026-11-03', 'USD', 1.2000), "
      "('2026-11-03', 'GBP', 0.8000), ('2026-11-06', 'USD', 1.0800), "
      "('2026-12-01', 'USD', 1.0500), ('2026-12-09', 'USD', 1.0300)");

  ASSERT_TRUE(store_->RecomputeLtv("fx", "America/New_York").ok());
  // By hand, amount × per_eur(USD) / per_eur(currency), per day:
  //   Nov: 100 EUR × 1.10 = 110.00; 50 EUR on Sun 11-08 × 1.08 (Fri 11-06) = 54.00;
  //        30 GBP × 1.20 / 0.80 = 45.00; 20 USD as is. Spend 229.00 USD; CAC 229 / 2 = 114.50.
  //        M0 LTV (100 + 60) / 2 = 80 → LTV:CAC 80 / 114.5; M1 nothing new, the same.
  //   Dec: 80 EUR × 1.05 = 84.00, but 10 EUR on 12-14 has no rate within 4 days: no spend, no
  //        CAC, a note naming the day.
  const std::string dec_note =
      "no EUR→USD rate for 2026-12-14 (none that day or up to 4 days before; load ECB rates: "
      "ImportFxRates)";
  std::vector<Cell> cells = Cells();
  ASSERT_EQ(cells.size(), 3u);  // Nov +0, Nov +1, Dec +0
  for (int i : {0, 1}) {
    SCOPED_TRACE(i);
    EXPECT_EQ(cells[i].cohort, "2026-11");
    EXPECT_EQ(cells[i].per_customer, "80.0000");
    EXPECT_EQ(cells[i].spend, "229.00");
    EXPECT_EQ(cells[i].cac, "114.5000");
    ASSERT_TRUE(cells[i].ltv_to_cac.has_value());
    EXPECT_NEAR(*cells[i].ltv_to_cac, 80 / 114.5, 1e-9);
    EXPECT_EQ(cells[i].cac_note, "");
  }
  EXPECT_EQ(cells[2].cohort, "2026-12");
  EXPECT_EQ(cells[2].per_customer, "90.0000");
  EXPECT_EQ(cells[2].spend, "NULL");
  EXPECT_EQ(cells[2].cac, std::nullopt);
  EXPECT_EQ(cells[2].ltv_to_cac, std::nullopt);
  EXPECT_EQ(cells[2].cac_note, dec_note);

  // Rates loaded for Friday 12-11 (3 days before 12-14): the next recompute, with no order
  // changed (incremental, nothing to apply), uses them. Dec: 84.00 + 10 × 1.04 = 94.40 for one
  // customer; LTV:CAC 90 / 94.4.
  const std::string rebuilt_at = RebuiltAt();
  Exec("INSERT INTO fx_rates (day, currency, per_eur) VALUES ('2026-12-11', 'USD', 1.0400)");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "America/New_York").ok());
  EXPECT_EQ(RebuiltAt(), rebuilt_at);
  cells = Cells();
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[2].spend, "94.40");
  EXPECT_EQ(cells[2].cac, "94.4000");
  ASSERT_TRUE(cells[2].ltv_to_cac.has_value());
  EXPECT_NEAR(*cells[2].ltv_to_cac, 90 / 94.4, 1e-9);
  EXPECT_EQ(cells[2].cac_note, "");

  // A second missing day in the month is counted in the note; incremental equals from scratch.
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend, currency) VALUES "
      "('fx', '2026-12-20', 'e1', 5, 'EUR'), ('fx', '2026-12-28', 'e1', 5, 'EUR')");
  ExpectIncrementalEqualsRebuild("America/New_York");
  cells = Cells();
  EXPECT_EQ(cells[2].cac, std::nullopt);
  EXPECT_EQ(cells[2].cac_note,
            "no EUR→USD rate for 2026-12-20 and 1 more day of the month (none that day or up "
            "to 4 days before; load ECB rates: ImportFxRates)");
  EXPECT_EQ(cells[0].cac, "114.5000");  // November is unaffected
}

TEST_F(LtvTest, AdSpendInACurrencyWithoutAKnownShopCurrencyIsNotGuessed) {
  Order(1, 1, "2026-11-05T12:00:00Z", "100.00");  // no currency on the order
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend, currency) VALUES "
      "('fx', '2026-11-02', 'e1', 100, 'EUR')");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  const std::vector<Cell> cells = Cells();
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].cac, std::nullopt);
  EXPECT_EQ(cells[0].cac_note,
            "ad spend in EUR cannot be converted: the shop's currency is unknown (no order "
            "carries one)");
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

TEST_F(LtvTest, IncrementalRecomputeFollowsEveryKindOfChange) {
  // 2024-01: customers 1 and 2; 2024-02: customer 3; one guest.
  WritePage({NewOrder(1, 1, "2024-01-05T12:00:00-05:00", 10000),
             NewOrder(2, 1, "2024-02-10T12:00:00-05:00", 5000),
             NewOrder(3, 2, "2024-01-20T12:00:00-05:00", 8000),
             NewOrder(4, 3, "2024-02-03T12:00:00-05:00", 20000),
             NewOrder(5, std::nullopt, "2024-01-10T12:00:00-05:00", 30000)});
  ASSERT_TRUE(store_->RebuildLtv("fx", "America/New_York").ok());
  const std::string tz = "America/New_York";

  // New orders: a repeat purchase, a new customer, a guest, a test order.
  WritePage({NewOrder(6, 2, "2024-03-02T12:00:00-05:00", 4000),
             NewOrder(7, 4, "2024-03-04T12:00:00-05:00", 1500),
             NewOrder(8, std::nullopt, "2024-03-05T12:00:00-05:00", 900)});
  worker::Order test_order = NewOrder(9, 1, "2024-03-06T12:00:00-05:00", 99900);
  test_order.test = true;
  WritePage({test_order});
  ExpectIncrementalEqualsRebuild(tz);

  // A refund, a cancellation, a voided order.
  worker::Order refunded = NewOrder(2, 1, "2024-02-10T12:00:00-05:00", 5000);
  refunded.refunded_cents = 1250;
  worker::Order cancelled = NewOrder(7, 4, "2024-03-04T12:00:00-05:00", 1500);
  cancelled.cancelled_at = clock_;
  worker::Order voided = NewOrder(6, 2, "2024-03-02T12:00:00-05:00", 4000);
  voided.financial_status = "voided";
  WritePage({refunded, cancelled, voided});
  ExpectIncrementalEqualsRebuild(tz);

  // Customer 3's only order moves to customer 1 (customer 3 leaves the February cohort), and
  // customer 2's January order moves to March, so customer 2 changes cohort.
  WritePage({NewOrder(4, 1, "2024-02-03T12:00:00-05:00", 20000),
             NewOrder(3, 2, "2024-03-20T12:00:00-04:00", 8000)});
  ExpectIncrementalEqualsRebuild(tz);

  // An earlier first order moves customer 1 into a new cohort; a guest order gets a customer;
  // the test order stops being one; an order is edited twice before the next recompute.
  WritePage({NewOrder(10, 1, "2023-12-31T23:30:00-05:00", 700),
             NewOrder(5, 5, "2024-01-10T12:00:00-05:00", 30000),
             NewOrder(9, 1, "2024-03-06T12:00:00-05:00", 99900)});
  WritePage({NewOrder(10, 1, "2023-12-31T23:30:00-05:00", 800)});
  WritePage({NewOrder(10, 2, "2023-11-30T23:30:00-05:00", 900)});
  ExpectIncrementalEqualsRebuild(tz);

  // Plain SQL writers count too: an update, a delete, an insert.
  Exec("UPDATE orders SET refunded_amount = 3 WHERE store_id = 'fx' AND order_id = 1");
  Exec("DELETE FROM orders WHERE store_id = 'fx' AND order_id = 4");
  Order(11, 6, "2024-04-01T00:30:00-04:00", "12.00");
  ExpectIncrementalEqualsRebuild(tz);

  // Every order of a customer gone: the cohort empties and disappears.
  Exec("DELETE FROM orders WHERE store_id = 'fx' AND customer_id = 6");
  ExpectIncrementalEqualsRebuild(tz);

  // Nothing new: the recompute writes the same table.
  const std::string before = Digest();
  ASSERT_TRUE(store_->RecomputeLtv("fx", tz).ok());
  EXPECT_EQ(Digest(), before);
}

TEST_F(LtvTest, RandomChangesKeepIncrementalEqualToFromScratch) {
  // Orders around month starts in a zone with DST, including Havana's late month start.
  for (const std::string tz : {"America/New_York", "America/Havana", "Australia/Lord_Howe"}) {
    SCOPED_TRACE(tz);
    Exec("DELETE FROM orders WHERE store_id = 'fx'");
    ASSERT_TRUE(store_->RebuildLtv("fx", tz).ok());
    std::mt19937_64 rng(7);
    std::map<int64_t, worker::Order> orders;
    auto random_order = [&](int64_t id) {
      // Days within ±3 days of a month start of 2020, at any minute.
      const absl::CivilMinute start(2020, 1 + static_cast<int>(rng() % 12), 1);
      const absl::Time created =
          absl::FromCivil(start, absl::UTCTimeZone()) +
          absl::Minutes(static_cast<int64_t>(rng() % (6 * 24 * 60)) - 3 * 24 * 60);
      const int kind = static_cast<int>(rng() % 20);
      std::optional<int64_t> customer;
      if (kind > 1) customer = 1 + static_cast<int64_t>(rng() % 40);
      worker::Order o = NewOrder(id, customer, "2020-01-01T00:00:00Z", 100 + rng() % 10000);
      o.created_at = created;
      o.test = kind == 2;
      if (kind == 3) o.cancelled_at = created;
      if (kind == 4) o.financial_status = "voided";
      if (kind == 5) o.refunded_cents = o.total_price_cents / 2;
      return o;
    };
    for (int round = 0; round < 6; ++round) {
      std::vector<worker::Order> page;
      for (int i = 0; i < 60; ++i) {
        // Half new orders, half new versions of existing ones (any field may change).
        const int64_t id = orders.empty() || rng() % 2 == 0
                               ? static_cast<int64_t>(orders.size()) + 1000
                               : 1000 + static_cast<int64_t>(rng() % orders.size());
        bool seen = false;
        for (const worker::Order& p : page) seen = seen || p.id == id;
        if (seen) continue;
        orders[id] = random_order(id);
        page.push_back(orders[id]);
      }
      WritePage(page);
      if (round == 0) {
        ASSERT_TRUE(store_->RebuildLtv("fx", tz).ok());
        continue;
      }
      ExpectIncrementalEqualsRebuild(tz);
    }
  }
}

TEST_F(LtvTest, AChangedTimeZoneRebuilds) {
  Order(1, 1, "2024-01-31T23:30:00-05:00", "10.00");  // Feb 1 04:30 UTC
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  Order(2, 2, "2024-02-29T23:30:00-05:00", "20.00");  // Mar 1 04:30 UTC
  ASSERT_TRUE(store_->RecomputeLtv("fx", "America/New_York").ok());
  const auto [stored, straightforward] = StoredAndStraightforwardCells("America/New_York");
  EXPECT_EQ(stored, straightforward);
  ASSERT_EQ(Cells().size(), 3u);  // Jan +0, Jan +1, Feb +0
  EXPECT_EQ(Cells()[0].cohort, "2024-01");
  EXPECT_EQ(Cells()[2].cohort, "2024-02");
}

TEST_F(LtvTest, TruncatingOrdersAndDeletingTheStoreForgetTheCells) {
  Order(1, 1, "2024-05-05T12:00:00Z", "10.00");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  EXPECT_NE(RebuiltAt(), "");
  Exec("TRUNCATE orders");
  EXPECT_EQ(RebuiltAt(), "");
  Order(2, 2, "2024-06-05T12:00:00Z", "25.00");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  ASSERT_EQ(Cells().size(), 1u);
  EXPECT_EQ(Cells()[0].cohort, "2024-06");
  Exec("DELETE FROM stores WHERE store_id = 'fx'");
  pqxx::connection conn(url_);
  pqxx::read_transaction tx(conn);
  EXPECT_EQ(
      tx.exec("SELECT (SELECT count(*) FROM ltv_cells) + "
              "(SELECT count(*) FROM ltv_order_changes) + (SELECT count(*) FROM ltv_state)")[0][0]
          .as<int64_t>(),
      0);
}

TEST_F(LtvTest, AWriterWaitsForARecomputeAndIsCountedNextTime) {
  Order(1, 1, "2024-05-05T12:00:00Z", "10.00");
  ASSERT_TRUE(store_->RecomputeLtv("fx", "UTC").ok());
  // Hold the store's LTV lock as a recompute does; a page write must wait for it.
  pqxx::connection holder(url_);
  pqxx::work hold(holder);
  hold.exec("SELECT pg_advisory_xact_lock(hashtext('autosync.ltv'), hashtext('fx'))");
  std::atomic<bool> written{false};
  std::thread writer([&] {
    WritePage({NewOrder(2, 2, "2024-06-05T12:00:00Z", 2500)});
    written = true;
  });
  // The writer's insert is done and it now waits in the orders trigger for the lock.
  {
    pqxx::connection watch(url_);
    bool waiting = false;
    for (int i = 0; i < 500 && !waiting; ++i) {
      pqxx::nontransaction tx(watch);
      waiting = tx.exec(
                      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                      "AND NOT granted")[0][0]
                    .as<int64_t>() > 0;
      if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(waiting) << "the writer never waited for the LTV lock";
  }
  EXPECT_FALSE(written);
  hold.abort();
  writer.join();
  EXPECT_TRUE(written);
  ExpectIncrementalEqualsRebuild("UTC");
  ASSERT_EQ(Cells().size(), 3u);  // May +0, May +1, Jun +0
}

}  // namespace
}  // namespace autosync::worker
