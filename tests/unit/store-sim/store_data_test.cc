#include "tools/store-sim/store_data.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "tools/store-sim/format.h"

namespace autosync::storesim {
namespace {

constexpr int64_t kEnd = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

class StoreDataTest : public ::testing::Test {
 protected:
  static StoreData Make(int64_t n, uint64_t seed = 42, std::string id = "shop") {
    return StoreData::Generate(seed, StoreSpec{std::move(id), n, 0}, kEnd);
  }
};

TEST_F(StoreDataTest, SameSeedGivesIdenticalData) {
  StoreData a = Make(5000);
  StoreData b = Make(5000);
  ASSERT_EQ(a.orders().size(), b.orders().size());
  for (size_t i = 0; i < a.orders().size(); ++i) {
    const Order& x = a.orders()[i];
    const Order& y = b.orders()[i];
    ASSERT_EQ(x.id, y.id);
    ASSERT_EQ(x.updated_at, y.updated_at);
    ASSERT_EQ(x.customer, y.customer);
    ASSERT_EQ(x.current_total_cents(), y.current_total_cents());
  }
  EXPECT_EQ(a.Summarize().checksum, b.Summarize().checksum);
}

TEST_F(StoreDataTest, SeedAndStoreIdBothChangeTheData) {
  uint64_t base = Make(2000).Summarize().checksum;
  EXPECT_NE(Make(2000, 43).Summarize().checksum, base);
  EXPECT_NE(Make(2000, 42, "other").Summarize().checksum, base);
}

TEST_F(StoreDataTest, CountsAndShapesAreRealistic) {
  const int64_t n = 50000;
  StoreData d = Make(n);
  ASSERT_EQ(static_cast<int64_t>(d.orders().size()), n);
  EXPECT_EQ(d.customer_count(), 20000);  // N / 2.5
  int64_t guests = 0, tests = 0, cancelled = 0, refunded = 0;
  std::map<int32_t, int> per_customer;
  for (size_t i = 0; i < d.orders().size(); ++i) {
    const Order& o = d.orders()[i];
    if (i > 0) {
      ASSERT_GT(o.id, d.orders()[i - 1].id);
      ASSERT_GE(o.created_at, d.orders()[i - 1].created_at);
      ASSERT_EQ(o.number, d.orders()[i - 1].number + 1);
    }
    ASSERT_GE(o.created_at, kEnd - 730 * kDay);
    ASSERT_LT(o.created_at, kEnd);
    ASSERT_GE(o.updated_at, o.created_at);
    ASSERT_LE(o.updated_at, kEnd);
    guests += o.customer < 0;
    tests += o.test;
    if (o.cancelled_at != 0) {
      ++cancelled;
      EXPECT_EQ(o.current_total_cents(), 0);
      EXPECT_TRUE(o.financial_status == FinancialStatus::kVoided ||
                  o.financial_status == FinancialStatus::kRefunded);
      EXPECT_EQ(o.updated_at, std::max(o.updated_at, o.cancelled_at));
    } else if (o.refund_at != 0) {
      ++refunded;
      EXPECT_EQ(o.current_total_cents(), o.total_cents() - o.refund_cents);
      EXPECT_GT(o.refund_cents, 0);
      EXPECT_GE(o.updated_at, o.refund_at);
    }
    if (o.customer >= 0) ++per_customer[o.customer];
  }
  // Exactly 8% guests: the repeat model offers enough candidates that none spill into guests.
  EXPECT_EQ(guests, 4000);
  EXPECT_NEAR(static_cast<double>(tests) / n, 0.01, 0.004);
  EXPECT_NEAR(static_cast<double>(cancelled) / n, 0.02, 0.005);
  EXPECT_NEAR(static_cast<double>(refunded) / n, 0.06, 0.01);
  EXPECT_EQ(static_cast<int64_t>(per_customer.size()), d.customer_count());
  int repeaters = 0;
  for (const auto& [c, k] : per_customer) repeaters += k >= 2;
  double repeat_share = static_cast<double>(repeaters) / static_cast<double>(per_customer.size());
  EXPECT_GT(repeat_share, 0.30);
  EXPECT_LT(repeat_share, 0.80);
}

TEST_F(StoreDataTest, RetentionDecaysWithMonthsSinceFirstOrder) {
  StoreData d = Make(50000);
  std::map<int32_t, int64_t> first;
  std::map<int64_t, std::set<int32_t>> active_by_month_offset;
  for (const Order& o : d.orders()) {
    if (o.customer < 0) continue;
    auto [it, inserted] = first.emplace(o.customer, o.created_at);
    int64_t months = (o.created_at - it->second) / (30 * kDay);
    active_by_month_offset[months].insert(o.customer);
  }
  size_t m1 = active_by_month_offset[1].size();
  size_t m3 = active_by_month_offset[3].size();
  size_t m9 = active_by_month_offset[9].size();
  EXPECT_GT(m1, 0u);
  EXPECT_GT(m1, m3);
  EXPECT_GT(m3, m9);
  EXPECT_LT(m1, first.size() / 2);
}

TEST_F(StoreDataTest, UpdatedIndexIsSortedByUpdatedThenId) {
  StoreData d = Make(3000);
  ASSERT_EQ(d.by_updated().size(), d.orders().size());
  for (size_t i = 1; i < d.by_updated().size(); ++i) {
    const Order& a = d.orders()[d.by_updated()[i - 1]];
    const Order& b = d.orders()[d.by_updated()[i]];
    ASSERT_TRUE(a.updated_at < b.updated_at || (a.updated_at == b.updated_at && a.id < b.id));
  }
}

TEST_F(StoreDataTest, ChecksumIsFnvOverIdUpdatedAndCurrentTotalLines) {
  StoreData d = Make(300);
  // Recomputed here the way a test would from PostgreSQL rows.
  uint64_t h = 14695981039346656037ULL;
  for (const Order& o : d.orders()) {
    std::string line =
        absl::StrCat(o.id, ":", o.updated_at, ":", FormatMoney(o.current_total_cents()), "\n");
    for (unsigned char c : line) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  }
  StoreData::Summary s = d.Summarize();
  EXPECT_EQ(s.count, 300);
  EXPECT_EQ(s.checksum, h);
  EXPECT_EQ(ChecksumHex(0xabcULL), "0000000000000abc");
}

TEST_F(StoreDataTest, LiveStepsAreDeterministicAndMoveTheClock) {
  StoreData a = Make(3000);
  StoreData b = Make(3000);
  int created = 0, changed = 0;
  for (int i = 0; i < 50; ++i) {
    StoreData::StepResult r = a.Step(2);
    b.Step(2);
    created += r.created;
    changed += r.refunded + r.cancelled;
  }
  EXPECT_EQ(a.now(), kEnd + 100);
  EXPECT_EQ(a.steps(), 50);
  EXPECT_GE(created, 50);
  EXPECT_GT(changed, 0);
  EXPECT_EQ(static_cast<int>(a.orders().size()), 3000 + created);
  EXPECT_EQ(a.Summarize().checksum, b.Summarize().checksum);
  EXPECT_NE(a.Summarize().checksum, Make(3000).Summarize().checksum);
  // New orders keep ids and created_at increasing, and the updated index stays sorted.
  for (size_t i = 1; i < a.orders().size(); ++i) {
    ASSERT_GT(a.orders()[i].id, a.orders()[i - 1].id);
    ASSERT_GE(a.orders()[i].created_at, a.orders()[i - 1].created_at);
  }
  for (size_t i = 1; i < a.by_updated().size(); ++i) {
    const Order& x = a.orders()[a.by_updated()[i - 1]];
    const Order& y = a.orders()[a.by_updated()[i]];
    ASSERT_TRUE(x.updated_at < y.updated_at || (x.updated_at == y.updated_at && x.id < y.id));
  }
  // Changed orders carry the sim clock in updated_at.
  int at_now = 0;
  for (const Order& o : a.orders()) at_now += o.updated_at > kEnd;
  EXPECT_GE(at_now, created);
}

TEST_F(StoreDataTest, LiveDeletionsRemoveCancelledOrTestOrdersAndRecordEvents) {
  StoreData d = Make(3000);
  StoreData::Summary before = d.Summarize();
  int deleted = 0;
  for (int i = 0; i < 5; ++i) deleted += d.Step(2, /*delete_probability=*/1.0).deleted;
  EXPECT_EQ(deleted, 5);
  ASSERT_EQ(d.events().size(), 5u);
  int64_t flagged = 0;
  for (const Order& o : d.orders()) {
    if (!o.deleted) continue;
    ++flagged;
    EXPECT_TRUE(o.cancelled_at != 0 || o.test);
  }
  EXPECT_EQ(flagged, 5);
  for (size_t i = 1; i < d.events().size(); ++i) {
    EXPECT_GT(d.events()[i].id, d.events()[i - 1].id);
  }
  // The summary counts only what the listing still shows.
  EXPECT_EQ(d.Summarize().count, static_cast<int64_t>(d.orders().size()) - 5);
  EXPECT_NE(d.Summarize().checksum, before.checksum);
}

TEST_F(StoreDataTest, EmptyStoreIsFine) {
  StoreData d = Make(0);
  EXPECT_TRUE(d.orders().empty());
  EXPECT_EQ(d.Summarize().count, 0);
  d.Step(2);
  EXPECT_FALSE(d.orders().empty());
}

TEST(StoreSpecTest, ParsesIdsCountsAndOffsets) {
  auto specs = ParseStoreSpecs("buycosari:200000, acme:5000:-05:00,x_1:0:+05:30");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].id, "buycosari");
  EXPECT_EQ((*specs)[0].order_count, 200000);
  EXPECT_EQ((*specs)[0].utc_offset_minutes, 0);
  EXPECT_EQ((*specs)[1].utc_offset_minutes, -300);
  EXPECT_EQ((*specs)[2].utc_offset_minutes, 330);
}

TEST(StoreSpecTest, RejectsBadSpecs) {
  EXPECT_FALSE(ParseStoreSpecs("").ok());
  EXPECT_FALSE(ParseStoreSpecs("acme").ok());
  EXPECT_FALSE(ParseStoreSpecs("acme:-1").ok());
  EXPECT_FALSE(ParseStoreSpecs("acme:ten").ok());
  EXPECT_FALSE(ParseStoreSpecs("ac/me:10").ok());
  EXPECT_FALSE(ParseStoreSpecs("acme:10,acme:20").ok());
  EXPECT_FALSE(ParseStoreSpecs("acme:10:0500").ok());
}

}  // namespace
}  // namespace autosync::storesim
