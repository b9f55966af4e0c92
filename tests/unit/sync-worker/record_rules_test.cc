// The business rules a parsed record must meet before it is stored (issue 17): each rule on its
// own, what a valid record looks like, and the order in which rules are checked.
#include "sync-worker/connectors/record_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/graphql_orders.h"
#include "sync-worker/connectors/insights_page.h"
#include "sync-worker/connectors/orders_page.h"

namespace autosync::worker {
namespace {

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 12, 7, 12, 0, 0), absl::UTCTimeZone());

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
      // An over-refund also makes the current total negative: the refund is named.
      {"refund_exceeds_total",
       [](Order& o) {
         o.refunded_cents = o.total_price_cents + 5000;
         o.current_total_price_cents = -5000;
       }},
      {"currency_not_iso4217", [](Order& o) { o.currency = "usd"; }},
      {"currency_not_iso4217", [](Order& o) { o.currency = "XXX"; }},
      {"currency_not_iso4217", [](Order& o) { o.currency = ""; }},
      {"created_too_early",
       [](Order& o) {
         o.created_at = absl::FromCivil(absl::CivilDay(1999, 12, 31), absl::UTCTimeZone());
       }},
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

// A REST order as the API writes it; `total` and `created` vary.
std::string RestOrder(int64_t id, absl::string_view total, absl::string_view created,
                      absl::string_view name = "#1") {
  return absl::StrCat(R"({"id":)", id, R"(, "name":")", name, R"(", "created_at":")", created,
                      R"(", "updated_at":")", created, R"(", "currency":"EUR",)",
                      R"( "total_price":")", total, R"("})");
}

RecordScreen ScreenInto(std::vector<QuarantinedRecord>* out) {
  RecordScreen screen;
  screen.now = kNow;
  screen.page = "orders page 2";
  screen.quarantined = out;
  return screen;
}

TEST(RecordScreenTest, ARestPageKeepsTheValidOrdersAndQuarantinesTheRestWithTheirJson) {
  const std::string body =
      absl::StrCat(R"({"orders":[)", RestOrder(1, "10.00", "2026-12-01T10:00:00Z"), ",",
                   RestOrder(2, "-5.00", "2026-12-01T10:00:00Z"), ",",
                   RestOrder(3, "10.00", "2031-01-01T00:00:00Z"), ",",
                   RestOrder(4, "10.00", "2026-12-01T10:00:00Z"), "]}");
  std::vector<QuarantinedRecord> quarantined;
  const RecordScreen screen = ScreenInto(&quarantined);
  absl::StatusOr<std::vector<Order>> orders = ParseOrdersPage(body, &screen);
  ASSERT_TRUE(orders.ok()) << orders.status();
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].id, 1);
  EXPECT_EQ((*orders)[1].id, 4);
  ASSERT_EQ(quarantined.size(), 2u);
  EXPECT_EQ(quarantined[0].record_key, "2");
  EXPECT_EQ(quarantined[0].rule, "negative_amount");
  EXPECT_EQ(quarantined[0].source, "orders page 2, orders[1]");
  // Minified: the spaces between members are gone, the values are untouched.
  EXPECT_EQ(
      quarantined[0].raw,
      R"({"id":2,"name":"#1","created_at":"2026-12-01T10:00:00Z","updated_at":"2026-12-01T10:00:00Z","currency":"EUR","total_price":"-5.00"})");
  EXPECT_EQ(quarantined[1].record_key, "3");
  EXPECT_EQ(quarantined[1].rule, "created_in_future");
  // Without a screen, every order that parses is returned (the shape check alone).
  EXPECT_EQ(ParseOrdersPage(body)->size(), 4u);
}

TEST(RecordScreenTest, AHugeRecordIsCutBeforeACharacterNeverInsideOne) {
  std::string name = "#";
  while (name.size() < kMaxRawBytes + 100) name += "€";  // three bytes each
  const std::string body =
      absl::StrCat(R"({"orders":[)", RestOrder(9, "-1.00", "2026-12-01T10:00:00Z", name), "]}");
  std::vector<QuarantinedRecord> quarantined;
  const RecordScreen screen = ScreenInto(&quarantined);
  ASSERT_TRUE(ParseOrdersPage(body, &screen).ok());
  ASSERT_EQ(quarantined.size(), 1u);
  const std::string& raw = quarantined[0].raw;
  EXPECT_TRUE(quarantined[0].raw_truncated);
  EXPECT_LE(raw.size(), kMaxRawBytes);
  EXPECT_GE(raw.size(), kMaxRawBytes - 2);
  EXPECT_TRUE(absl::EndsWith(raw, "€")) << "cut inside a character";
}

TEST(RecordScreenTest, AGraphqlPageQuarantinesByTheSameRules) {
  const std::string body =
      R"({"data":{"orders":{"pageInfo":{"hasNextPage":false,"endCursor":null},"nodes":[
    {"id":"gid://shopify/Order/5","name":"#5","createdAt":"2026-12-01T10:00:00Z","updatedAt":"2026-11-01T10:00:00Z","currencyCode":"EUR","totalPriceSet":{"shopMoney":{"amount":"10.00"}}},
    {"id":"gid://shopify/Order/6","name":"#6","createdAt":"2026-12-01T10:00:00Z","updatedAt":"2026-12-01T10:00:00Z","currencyCode":"EUR","totalPriceSet":{"shopMoney":{"amount":"10.00"}}}]}}})";
  std::vector<QuarantinedRecord> quarantined;
  const RecordScreen screen = ScreenInto(&quarantined);
  absl::StatusOr<GraphqlOrdersAnswer> answer = ParseGraphqlOrders(body, &screen);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->orders.size(), 1u);
  EXPECT_EQ(answer->orders[0].id, 6);
  ASSERT_EQ(quarantined.size(), 1u);
  EXPECT_EQ(quarantined[0].record_key, "5");
  EXPECT_EQ(quarantined[0].rule, "updated_before_created");
  EXPECT_EQ(quarantined[0].source, "orders page 2, data.orders.nodes[0]");
  EXPECT_TRUE(absl::StartsWith(quarantined[0].raw, R"({"id":"gid://shopify/Order/5")"));
}

TEST(RecordScreenTest, AnAdRowOutsideTheRangeAskedForIsQuarantined) {
  const std::string body = R"({"data":[
    {"campaign_id":"c1","campaign_name":"A","date_start":"2026-12-01","date_stop":"2026-12-01","spend":"5.00","impressions":"100","clicks":"3","account_currency":"EUR"},
    {"campaign_id":"c1","campaign_name":"A","date_start":"2026-10-01","date_stop":"2026-10-01","spend":"5.00","impressions":"100","clicks":"3","account_currency":"EUR"},
    {"campaign_id":"c2","campaign_name":"B","date_start":"2026-12-02","date_stop":"2026-12-02","spend":"5.00","impressions":"10","clicks":"30","account_currency":"EUR"}]})";
  std::vector<QuarantinedRecord> quarantined;
  RecordScreen screen;
  screen.ad_range.emplace(absl::CivilDay(2026, 11, 9), absl::CivilDay(2026, 12, 6));
  screen.page = "ads page 1";
  screen.quarantined = &quarantined;
  absl::StatusOr<ParsedInsights> page = ParseInsightsPage(body, &screen);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->rows.size(), 1u);
  EXPECT_EQ(page->rows[0].date, absl::CivilDay(2026, 12, 1));
  ASSERT_EQ(quarantined.size(), 2u);
  EXPECT_EQ(quarantined[0].kind, "ad");
  EXPECT_EQ(quarantined[0].record_key, "c1/2026-10-01");
  EXPECT_EQ(quarantined[0].rule, "date_outside_range");
  EXPECT_EQ(quarantined[1].record_key, "c2/2026-12-02");
  EXPECT_EQ(quarantined[1].rule, "clicks_exceed_impressions");
}

}  // namespace
}  // namespace autosync::worker
