// The business rules a parsed record must meet before it is stored (issue 17): each rule on its
// own, what a valid record looks like, and the order in which rules are checked.
#include "sync-worker/connectors/record_rules.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace autosync::worker {
namespace {

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 12, 7, 12, 0, 0), absl::UTCTimeZone());

Order Valid() {
  Order o;
  o.id = 1001;
  o.currency = "EUR";
  o.created_at = kNow - absl::Hours(48);
  o.updated_at = kNow - absl::Hours(24);
  o.total_price_cents = 10000;
  o.subtotal_price_cents = 9000;
  o.total_tax_cents = 1000;
  o.current_total_price_cents = 10000;
  o.refunded_cents = 2500;
  return o;
}

TEST(RecordRulesTest, AValidOrderBreaksNoRule) {
  EXPECT_FALSE(RuleForOrder(Valid(), kNow).has_value());
  Order fully_refunded = Valid();
  fully_refunded.refunded_cents = fully_refunded.total_price_cents;
  EXPECT_FALSE(RuleForOrder(fully_refunded, kNow).has_value());
  Order skewed = Valid();  // a store's clock a few minutes ahead of ours
  skewed.created_at = skewed.updated_at = kNow + absl::Minutes(10);
  EXPECT_FALSE(RuleForOrder(skewed, kNow).has_value());
}

TEST(RecordRulesTest, EachOrderRuleCatchesItsCase) {
  struct Case {
    std::string rule;
    std::function<void(Order&)> breaks;
  };
  const std::vector<Case> cases = {
      {"bad_id", [](Order& o) { o.id = 0; }},
      {"negative_amount", [](Order& o) { o.total_price_cents = -1; }},
      {"negative_amount", [](Order& o) { o.total_tax_cents = -500; }},
      {"negative_amount", [](Order& o) { o.current_total_price_cents = -1; }},
      {"refund_exceeds_total", [](Order& o) { o.refunded_cents = o.total_price_cents + 1; }},
      {"currency_not_iso4217", [](Order& o) { o.currency = "usd"; }},
      {"currency_not_iso4217", [](Order& o) { o.currency = "XXX"; }},
      {"currency_not_iso4217", [](Order& o) { o.currency = ""; }},
      {"created_too_early",
       [](Order& o) { o.created_at = absl::FromCivil(absl::CivilDay(1999, 12, 31), absl::UTCTimeZone()); }},
      {"created_in_future", [](Order& o) { o.created_at = o.updated_at = kNow + absl::Hours(1); }},
      {"updated_in_future", [](Order& o) { o.updated_at = kNow + absl::Hours(1); }},
      {"updated_before_created", [](Order& o) { o.updated_at = o.created_at - absl::Hours(1); }},
      {"cancelled_before_created",
       [](Order& o) { o.cancelled_at = o.created_at - absl::Hours(1); }},
  };
  for (const Case& c : cases) {
    Order o = Valid();
    c.breaks(o);
    const std::optional<RuleBreak> broken = RuleForOrder(o, kNow);
    ASSERT_TRUE(broken.has_value()) << c.rule;
    EXPECT_EQ(broken->rule, c.rule);
    EXPECT_FALSE(broken->detail.empty()) << c.rule;
  }
}

TEST(RecordRulesTest, DetailsSayWhatWasWrong) {
  Order o = Valid();
  o.refunded_cents = 12000;
  EXPECT_EQ(RuleForOrder(o, kNow)->detail, "refunded 120.00 of a 100.00 order");
  o = Valid();
  o.currency = std::string(1000, 'Z');
  EXPECT_LE(RuleForOrder(o, kNow)->detail.size(), 80u) << "hostile text is cut";
}

AdRow ValidRow() {
  AdRow r;
  r.campaign_id = "23850000000000001";
  r.date = absl::CivilDay(2026, 12, 1);
  r.spend_cents = 12345;
  r.impressions = 1000;
  r.clicks = 30;
  r.purchases = 2;
  r.purchase_value_cents = 9900;
  r.currency = "USD";
  return r;
}

TEST(RecordRulesTest, EachAdRuleCatchesItsCase) {
  const absl::CivilDay since(2026, 11, 10);
  const absl::CivilDay until(2026, 12, 7);
  EXPECT_FALSE(RuleForAdRow(ValidRow(), since, until).has_value());
  struct Case {
    std::string rule;
    std::function<void(AdRow&)> breaks;
  };
  const std::vector<Case> cases = {
      {"negative_metric", [](AdRow& r) { r.spend_cents = -1; }},
      {"negative_metric", [](AdRow& r) { r.purchase_value_cents = -100; }},
      {"clicks_exceed_impressions", [](AdRow& r) { r.clicks = r.impressions + 1; }},
      {"date_outside_range", [](AdRow& r) { r.date = absl::CivilDay(2026, 11, 9); }},
      {"date_outside_range", [](AdRow& r) { r.date = absl::CivilDay(2026, 12, 8); }},
      {"currency_not_iso4217", [](AdRow& r) { r.currency = "DOLLARS"; }},
  };
  for (const Case& c : cases) {
    AdRow r = ValidRow();
    c.breaks(r);
    const std::optional<RuleBreak> broken = RuleForAdRow(r, since, until);
    ASSERT_TRUE(broken.has_value()) << c.rule;
    EXPECT_EQ(broken->rule, c.rule);
  }
}

TEST(RecordRulesTest, Iso4217KnowsTheCodesInUse) {
  for (const char* code : {"USD", "EUR", "JPY", "GBP", "CHF", "XOF", "ZWG", "HRK"}) {
    EXPECT_TRUE(IsIso4217(code)) << code;
  }
  for (const char* code : {"", "US", "USDD", "usd", "XAU", "XTS", "XXX", "BTC"}) {
    EXPECT_FALSE(IsIso4217(code)) << code;
  }
}

}  // namespace
}  // namespace autosync::worker
