// The GraphQL orders connection's answers: node rendering (agreeing with the REST JSON), paging,
// cursors and the cost bucket.
#include "tools/store-sim/graphql_orders.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/orders_query.h"

namespace autosync::storesim {
namespace {

using testing::GraphqlOrdersBody;
using testing::GraphqlQueryBody;
using testing::ParseJson;

constexpr int64_t kEnd = 1767225600;  // 2026-01-01T00:00:00Z
constexpr int64_t kT = 1705332600;    // 2024-01-15T15:30:00Z
constexpr uint64_t kSecret = 0x5eed;

// ---------------------------------------------------------------------------------------------
// Nodes: the same order through REST and GraphQL

int64_t Cents(std::string amount) {
  // "12.34" / "-2.50" -> cents, exactly.
  bool negative = !amount.empty() && amount[0] == '-';
  if (negative) amount.erase(0, 1);
  size_t dot = amount.find('.');
  int64_t units = std::stoll(amount.substr(0, dot));
  int64_t cents = std::stoll(amount.substr(dot + 1));
  return (negative ? -1 : 1) * (units * 100 + cents);
}

absl::Time Instant(const std::string& text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << text;
  return t;
}

std::string Str(simdjson::dom::element e) {
  std::string_view s;
  EXPECT_EQ(e.get(s), simdjson::SUCCESS);
  return std::string(s);
}

class GraphqlNodeTest : public ::testing::Test {
 protected:
  // Renders `o` both ways and checks that every GraphQL member says what REST says.
  static void ExpectAgreement(const StoreData& data, const Order& o) {
    SCOPED_TRACE(absl::StrCat("order ", o.id));
    std::string rest_json, gql_json;
    AppendOrderJson(rest_json, data, o, {});
    AppendGraphqlOrderNode(gql_json, data, o);
    auto rest_doc = ParseJson(rest_json);
    auto gql_doc = ParseJson(gql_json);
    ASSERT_TRUE(rest_doc->ok);
    ASSERT_TRUE(gql_doc->ok) << gql_json.substr(0, 300);
    simdjson::dom::element rest = rest_doc->root;
    simdjson::dom::element gql = gql_doc->root;

    std::vector<std::string> keys;
    for (auto [k, v] : gql.get_object()) keys.emplace_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{
                        "id", "name", "email", "createdAt", "updatedAt", "processedAt",
                        "cancelledAt", "test", "displayFinancialStatus", "currencyCode",
                        "totalPriceSet", "subtotalPriceSet", "totalTaxSet", "totalDiscountsSet",
                        "currentTotalPriceSet", "totalRefundedSet", "customer"}));

    EXPECT_EQ(Str(gql["id"]), absl::StrCat("gid://shopify/Order/", int64_t(rest["id"])));
    EXPECT_EQ(Str(gql["name"]), Str(rest["name"]));
    EXPECT_EQ(Str(gql["email"]), Str(rest["email"]));
    const std::pair<const char*, const char*> times[] = {
        {"createdAt", "created_at"}, {"updatedAt", "updated_at"}, {"processedAt", "processed_at"}};
    for (const auto& [g, r] : times) {
      EXPECT_TRUE(absl::EndsWith(Str(gql[g]), "Z")) << Str(gql[g]);
      EXPECT_EQ(Instant(Str(gql[g])), Instant(Str(rest[r]))) << g;
    }
    if (rest["cancelled_at"].is_null()) {
      EXPECT_TRUE(gql["cancelledAt"].is_null());
    } else {
      EXPECT_EQ(Instant(Str(gql["cancelledAt"])), Instant(Str(rest["cancelled_at"])));
    }
    EXPECT_EQ(bool(gql["test"]), bool(rest["test"]));
    EXPECT_EQ(Str(gql["displayFinancialStatus"]),
              absl::AsciiStrToUpper(Str(rest["financial_status"])));
    EXPECT_EQ(Str(gql["currencyCode"]), Str(rest["currency"]));
    const std::pair<const char*, const char*> money[] = {
        {"totalPriceSet", "total_price"},
        {"subtotalPriceSet", "subtotal_price"},
        {"totalTaxSet", "total_tax"},
        {"totalDiscountsSet", "total_discounts"},
        {"currentTotalPriceSet", "current_total_price"}};
    for (const auto& [g, r] : money) {
      EXPECT_EQ(Str(gql[g]["shopMoney"]["amount"]), Str(rest[r])) << g;
      EXPECT_EQ(Str(gql[g]["shopMoney"]["currencyCode"]), "USD") << g;
    }
    int64_t refunded = 0;
    for (auto refund : rest["refunds"].get_array()) {
      for (auto t : refund["transactions"].get_array()) {
        if (Str(t["kind"]) == "refund" && Str(t["status"]) == "success") {
          refunded += Cents(Str(t["amount"]));
        }
      }
    }
    EXPECT_EQ(Cents(Str(gql["totalRefundedSet"]["shopMoney"]["amount"])), refunded);
    EXPECT_EQ(Str(gql["totalRefundedSet"]["shopMoney"]["amount"]), FormatMoney(refunded));
    if (rest["customer"].is_null()) {
      EXPECT_TRUE(gql["customer"].is_null());
    } else {
      EXPECT_EQ(Str(gql["customer"]["id"]),
                absl::StrCat("gid://shopify/Customer/", int64_t(rest["customer"]["id"])));
      EXPECT_EQ(gql["customer"].get_object().size(), 1u);
    }
  }
};

TEST_F(GraphqlNodeTest, EveryKindOfOrderAgreesWithItsRestJson) {
  // A store printed at -05:00, so the UTC conversion is exercised.
  StoreData data = StoreData::Generate(42, StoreSpec{"east", 3000, -300}, kEnd);
  bool guest = false, customer = false, cancelled = false, refunded = false, partial = false,
       plain = false, test = false;
  for (const Order& o : data.orders()) {
    bool interesting = (o.customer < 0 && !guest) || (o.customer >= 0 && !customer) ||
                       (o.cancelled_at != 0 && !cancelled) ||
                       (o.financial_status == FinancialStatus::kRefunded && !refunded) ||
                       (o.financial_status == FinancialStatus::kPartiallyRefunded && !partial) ||
                       (o.refund_at == 0 && o.cancelled_at == 0 && !plain) || (o.test && !test);
    if (!interesting) continue;
    guest |= o.customer < 0;
    customer |= o.customer >= 0;
    cancelled |= o.cancelled_at != 0;
    refunded |= o.financial_status == FinancialStatus::kRefunded;
    partial |= o.financial_status == FinancialStatus::kPartiallyRefunded;
    plain |= o.refund_at == 0 && o.cancelled_at == 0;
    test |= o.test;
    ExpectAgreement(data, o);
  }
  EXPECT_TRUE(guest && customer && cancelled && refunded && partial && plain && test);
  // And a sweep over many orders.
  for (size_t i = 0; i < data.orders().size(); i += 37) ExpectAgreement(data, data.orders()[i]);
}

TEST_F(GraphqlNodeTest, HostileTextStaysValidJsonAndAgrees) {
  StoreData data = StoreData::Generate(42, StoreSpec{"evil", 200, 0, /*hostile=*/true}, kEnd);
  for (size_t i = 0; i < data.orders().size(); i += 7) ExpectAgreement(data, data.orders()[i]);
}

TEST_F(GraphqlNodeTest, CancelledUnrefundedOrderHasNullsAndZeroRefunded) {
  StoreData data = StoreData::Generate(42, StoreSpec{"shop", 3000, 0}, kEnd);
  const Order* voided = nullptr;
  const Order* open = nullptr;
  for (const Order& o : data.orders()) {
    if (o.cancelled_at != 0 && o.refund_at == 0 && voided == nullptr) voided = &o;
    if (o.cancelled_at == 0 && o.refund_at == 0 && open == nullptr) open = &o;
  }
  ASSERT_NE(voided, nullptr);
  ASSERT_NE(open, nullptr);
  std::string json;
  AppendGraphqlOrderNode(json, data, *voided);
  auto j = ParseJson(json);
  ASSERT_TRUE(j->ok);
  EXPECT_EQ(Str(j->root["displayFinancialStatus"]), "VOIDED");
  EXPECT_EQ(Str(j->root["totalRefundedSet"]["shopMoney"]["amount"]), "0.00");
  EXPECT_EQ(Str(j->root["currentTotalPriceSet"]["shopMoney"]["amount"]), "0.00");
  EXPECT_EQ(Str(j->root["cancelledAt"]), FormatUtcTime(voided->cancelled_at));
  json.clear();
  AppendGraphqlOrderNode(json, data, *open);
  j = ParseJson(json);
  ASSERT_TRUE(j->ok);
  EXPECT_TRUE(j->root["cancelledAt"].is_null());
  EXPECT_EQ(Str(j->root["createdAt"]), FormatUtcTime(open->created_at));
}

// ---------------------------------------------------------------------------------------------
// Paging and cost, through AnswerGraphqlOrders

class GraphqlPagingTest : public ::testing::Test {
 protected:
  GraphqlPagingTest() : data_(StoreData::Generate(42, StoreSpec{"shop", 3000, 0}, kEnd)) {}

  GraphqlAnswer Answer(const std::string& body, QueryCostBucket& bucket,
                       const GraphqlOptions& options = {kSecret, true}) {
    return AnswerGraphqlOrders(body, data_, bucket, now_, options);
  }

  // Walks every page; returns the ids in order.
  std::vector<int64_t> WalkAll(const std::string& search, int first, int* pages,
                               const GraphqlOptions& options = {kSecret, true}) {
    QueryCostBucket unlimited(2000, 0);
    std::vector<int64_t> ids;
    std::string after;
    *pages = 0;
    while (*pages < 1000) {
      GraphqlAnswer a = Answer(GraphqlOrdersBody(first, after, search), unlimited, options);
      EXPECT_EQ(a.http_status, 200);
      EXPECT_TRUE(a.data_page) << a.body.substr(0, 300);
      if (!a.data_page) break;
      ++*pages;
      auto j = ParseJson(a.body);
      EXPECT_TRUE(j->ok);
      auto conn = j->root["data"]["orders"];
      for (auto node : conn["nodes"].get_array()) {
        std::string gid = Str(node["id"]);
        ids.push_back(std::stoll(gid.substr(gid.rfind('/') + 1)));
      }
      bool more = false;
      EXPECT_EQ(conn["pageInfo"]["hasNextPage"].get(more), simdjson::SUCCESS);
      if (!more) break;
      after = Str(conn["pageInfo"]["endCursor"]);
    }
    return ids;
  }

  StoreData data_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(GraphqlPagingTest, WalkingAllPagesReturnsEveryOrderOnceInUpdatedOrder) {
  int pages = 0;
  std::vector<int64_t> ids = WalkAll("", 250, &pages);
  EXPECT_EQ(pages, 12);
  ASSERT_EQ(ids.size(), 3000u);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 3000u);
  // Exactly the (updated_at, id) order of the data, every status included.
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_EQ(ids[i], data_.orders()[data_.by_updated()[i]].id) << i;
  }
  // Uneven pages cover the same sequence.
  EXPECT_EQ(WalkAll("", 7, &pages).size(), 3000u);
  EXPECT_EQ(pages, 429);  // ceil(3000 / 7)
}

TEST_F(GraphqlPagingTest, TheSearchQueryBoundsTheWalk) {
  const Order& lo = data_.orders()[data_.by_updated()[1000]];
  const Order& hi = data_.orders()[data_.by_updated()[2000]];
  int pages = 0;
  std::vector<int64_t> ids = WalkAll(absl::StrCat("updated_at:>='", FormatUtcTime(lo.updated_at),
                                                  "' updated_at:<", FormatUtcTime(hi.updated_at)),
                                     100, &pages);
  std::vector<int64_t> expected;
  for (uint32_t pos : data_.by_updated()) {
    const Order& o = data_.orders()[pos];
    if (o.updated_at >= lo.updated_at && o.updated_at < hi.updated_at) expected.push_back(o.id);
  }
  EXPECT_EQ(ids, expected);
  EXPECT_GT(expected.size(), 900u);
}

TEST_F(GraphqlPagingTest, WithoutReadAllOrdersOnlyRecentOrdersAreListed) {
  int pages = 0;
  std::vector<int64_t> ids = WalkAll("", 250, &pages, {kSecret, false});
  size_t expected = 0;
  for (const Order& o : data_.orders()) expected += o.created_at >= data_.now() - 60 * 86400;
  EXPECT_EQ(ids.size(), expected);
  EXPECT_LT(expected, 500u);
}

TEST_F(GraphqlPagingTest, TamperedForeignAndRestCursorsAreRefused) {
  QueryCostBucket bucket(2000, 0);
  GraphqlAnswer first = Answer(GraphqlOrdersBody(10), bucket);
  auto j = ParseJson(first.body);
  ASSERT_TRUE(j->ok);
  std::string cursor = Str(j->root["data"]["orders"]["pageInfo"]["endCursor"]);
  ASSERT_TRUE(DecodeGraphqlCursor(cursor, kSecret, "shop").ok());

  std::string tampered = cursor;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  PageCursor rest;
  rest.query.status = StatusFilter::kAny;
  rest.query.sort = SortOrder::kUpdatedAsc;
  rest.key = KeyOf(data_.orders()[data_.by_updated()[9]], SortOrder::kUpdatedAsc);
  const std::string rest_page_info = EncodePageInfo(rest, kSecret, "shop");
  for (const std::string& bad : {tampered, rest_page_info, std::string("!!!")}) {
    GraphqlAnswer a = Answer(GraphqlOrdersBody(10, bad), bucket);
    EXPECT_EQ(a.http_status, 200);
    EXPECT_FALSE(a.data_page);
    auto e = ParseJson(a.body);
    ASSERT_TRUE(e->ok) << a.body;
    EXPECT_EQ(Str(e->root["errors"].at(0)["extensions"]["code"]), "BAD_USER_INPUT");
    EXPECT_TRUE(absl::StartsWith(Str(e->root["errors"].at(0)["message"]), "after: "));
  }
  // Another store's cursor.
  EXPECT_FALSE(DecodeGraphqlCursor(cursor, kSecret, "east").ok());
  EXPECT_FALSE(DecodeGraphqlCursor(cursor, kSecret + 1, "shop").ok());
}

TEST_F(GraphqlPagingTest, AnswersAreShapedLikeShopifys) {
  QueryCostBucket bucket(2000, 100);
  GraphqlAnswer a = Answer(GraphqlOrdersBody(2), bucket);
  ASSERT_EQ(a.http_status, 200);
  auto j = ParseJson(a.body);
  ASSERT_TRUE(j->ok);
  std::vector<std::string> top, conn;
  for (auto [k, v] : j->root.get_object()) top.emplace_back(k);
  EXPECT_EQ(top, (std::vector<std::string>{"data", "extensions"}));
  for (auto [k, v] : j->root["data"]["orders"].get_object()) conn.emplace_back(k);
  EXPECT_EQ(conn, (std::vector<std::string>{"pageInfo", "nodes"}));
  EXPECT_TRUE(absl::StrContains(
      a.body,
      "\"extensions\":{\"cost\":{\"requestedQueryCost\":4,\"actualQueryCost\":4,"
      "\"throttleStatus\":{\"maximumAvailable\":2000.0,\"currentlyAvailable\":1996,"
      "\"restoreRate\":100.0}}}}"))
      << a.body.substr(a.body.size() - 200);
  // An empty page: endCursor null, hasNextPage false.
  GraphqlAnswer none = Answer(GraphqlOrdersBody(5, "", "updated_at:>2030-01-01T00:00:00Z"), bucket);
  EXPECT_TRUE(absl::StartsWith(none.body,
                               "{\"data\":{\"orders\":{\"pageInfo\":{\"hasNextPage\":false,"
                               "\"endCursor\":null},\"nodes\":[]}}"))
      << none.body;
  // Bad bodies are HTTP 400 {"errors":"…"}; bad queries are HTTP 200 with errors[].
  GraphqlAnswer bad_body = Answer("nope", bucket);
  EXPECT_EQ(bad_body.http_status, 400);
  EXPECT_TRUE(ParseJson(bad_body.body)->root["errors"].is_string());
  GraphqlAnswer other = Answer(GraphqlQueryBody("{ shop { name } }"), bucket);
  EXPECT_EQ(other.http_status, 200);
  EXPECT_EQ(Str(ParseJson(other.body)->root["errors"].at(0)["extensions"]["code"]),
            "UNSUPPORTED_QUERY");
  GraphqlAnswer big = Answer(GraphqlQueryBody("{ orders(first: 251) { nodes { id } } }"), bucket);
  EXPECT_EQ(Str(ParseJson(big.body)->root["errors"].at(0)["extensions"]["code"]), "BAD_USER_INPUT");
  EXPECT_TRUE(absl::StrContains(big.body, "first: "));
}

// ---------------------------------------------------------------------------------------------
// Cost bucket

TEST(QueryCostBucketTest, StartsFullAndRefusesWhatItCannotCoverWithoutCharging) {
  QueryCostBucket b(100, 10);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_EQ(b.currently_available(), 100);
  EXPECT_TRUE(b.TryReserve(60, t0));
  EXPECT_EQ(b.currently_available(), 40);
  EXPECT_FALSE(b.TryReserve(41, t0));
  EXPECT_EQ(b.currently_available(), 40);
  EXPECT_TRUE(b.TryReserve(40, t0));
  EXPECT_EQ(b.currently_available(), 0);
}

TEST(QueryCostBucketTest, RefundGivesBackTheUnusedPartUpToTheMaximum) {
  QueryCostBucket b(100, 10);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(b.TryReserve(52, t0));
  b.Refund(52 - 12);  // requested 52, used 12
  EXPECT_EQ(b.currently_available(), 88);
  b.Refund(1000);
  EXPECT_EQ(b.currently_available(), 100);
}

TEST(QueryCostBucketTest, RestoresAtTheRateUpToTheMaximum) {
  QueryCostBucket b(100, 10);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(b.TryReserve(100, t0));
  EXPECT_FALSE(b.TryReserve(16, t0 + absl::Milliseconds(1500)));  // 15 restored
  EXPECT_EQ(b.currently_available(), 15);
  EXPECT_TRUE(b.TryReserve(15, t0 + absl::Milliseconds(1500)));
  EXPECT_EQ(b.currently_available(), 0);
  EXPECT_TRUE(b.TryReserve(0, t0 + absl::Seconds(60)));
  EXPECT_EQ(b.currently_available(), 100);
  // A clock that steps back restores nothing.
  ASSERT_TRUE(b.TryReserve(50, t0 + absl::Seconds(60)));
  EXPECT_TRUE(b.TryReserve(0, t0));
  EXPECT_EQ(b.currently_available(), 50);
}

TEST(QueryCostBucketTest, ZeroRestoreRateIsUnlimited) {
  QueryCostBucket b(100, 0);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.TryReserve(100, t0));
  EXPECT_EQ(b.currently_available(), 100);
}

TEST_F(GraphqlPagingTest, CostIsReservedThenRefundedAndThrottlesWhenShort) {
  QueryCostBucket bucket(300, 50);
  // 3000 orders: a full page costs what it asked for.
  GraphqlAnswer full = Answer(GraphqlOrdersBody(250), bucket);
  EXPECT_TRUE(absl::StrContains(full.body,
                                "{\"requestedQueryCost\":252,\"actualQueryCost\":252,"
                                "\"throttleStatus\":{\"maximumAvailable\":300.0,"
                                "\"currentlyAvailable\":48,\"restoreRate\":50.0}}"))
      << full.body.substr(full.body.size() - 200);
  // 48 left: 2 + 250 does not fit; nothing is charged.
  GraphqlAnswer throttled = Answer(GraphqlOrdersBody(250), bucket);
  EXPECT_EQ(throttled.http_status, 200);
  EXPECT_FALSE(throttled.data_page);
  EXPECT_EQ(throttled.body,
            "{\"errors\":[{\"message\":\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\","
            "\"documentation\":\"https://shopify.dev/api/usage/rate-limits\"}}],"
            "\"extensions\":{\"cost\":{\"requestedQueryCost\":252,\"actualQueryCost\":null,"
            "\"throttleStatus\":{\"maximumAvailable\":300.0,\"currentlyAvailable\":48,"
            "\"restoreRate\":50.0}}}}");
  // A small query still fits; a page with fewer nodes than asked is refunded the difference.
  GraphqlAnswer tail =
      Answer(GraphqlOrdersBody(
                 40, "",
                 absl::StrCat("updated_at:>=",
                              FormatUtcTime(data_.orders()[data_.by_updated()[2995]].updated_at))),
             bucket);
  ASSERT_TRUE(tail.data_page) << tail.body;
  auto j = ParseJson(tail.body);
  ASSERT_TRUE(j->ok);
  int64_t nodes = static_cast<int64_t>(j->root["data"]["orders"]["nodes"].get_array().size());
  EXPECT_LE(nodes, 40);
  EXPECT_GE(nodes, 5);
  EXPECT_EQ(int64_t(j->root["extensions"]["cost"]["requestedQueryCost"]), 42);
  EXPECT_EQ(int64_t(j->root["extensions"]["cost"]["actualQueryCost"]), 2 + nodes);
  EXPECT_EQ(int64_t(j->root["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]),
            48 - 2 - nodes);
  // Time restores it: 5 s at 50/s.
  now_ += absl::Seconds(5);
  EXPECT_TRUE(Answer(GraphqlOrdersBody(250), bucket).data_page);
}

TEST_F(GraphqlPagingTest, AQueryCostingMoreThanTheBucketIsRefusedOutright) {
  QueryCostBucket bucket(100, 50);
  GraphqlAnswer a = Answer(GraphqlOrdersBody(250), bucket);
  EXPECT_EQ(a.http_status, 200);
  EXPECT_FALSE(a.data_page);
  EXPECT_EQ(Str(ParseJson(a.body)->root["errors"].at(0)["extensions"]["code"]),
            "MAX_COST_EXCEEDED");
  EXPECT_EQ(bucket.currently_available(), 100);
}

}  // namespace
}  // namespace autosync::storesim
