// The GraphQL orders connector: the query body, the answer parsed into the same Order rows as
// REST (gids, shop money, the lower-cased financial status, nulls), every shape error named by
// its path, the cost bucket waited for before a query runs dry, THROTTLED waited out, other
// GraphQL errors failing the page, and the HTTP failures shared with the REST client.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"
#include "sync-worker/connectors/graphql_orders_client.h"
#include "sync-worker/connectors/orders_page.h"
#include "tests/unit/sync-worker/connector_fakes.h"

namespace autosync::worker {
namespace {

using testing::FakeSleeper;
using testing::FakeTransport;

constexpr char kToken[] = "shpat_SECRET123";
constexpr char kBase[] = "http://127.0.0.1:8090/shops/buycosari";

std::string Cost(double requested, double actual, double available, double restore = 100) {
  return absl::StrCat(R"("extensions":{"cost":{"requestedQueryCost":)", requested,
                      R"(,"actualQueryCost":)", actual,
                      R"(,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":)",
                      available, R"(,"restoreRate":)", restore, "}}}");
}

std::string Node(int64_t id) {
  return absl::StrCat(
      R"({"id":"gid://shopify/Order/)", id, R"(","name":"#)", 1000 + id,
      R"(","email":"a@b.c","createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-02T00:00:00Z",)"
      R"("processedAt":"2024-01-01T00:00:01Z","cancelledAt":null,"test":false,)"
      R"("displayFinancialStatus":"PARTIALLY_REFUNDED","currencyCode":"USD",)"
      R"("totalPriceSet":{"shopMoney":{"amount":"10.50","currencyCode":"USD"}},)"
      R"("subtotalPriceSet":{"shopMoney":{"amount":"9.00"}},"totalTaxSet":{"shopMoney":{"amount":"1.50"}},)"
      R"("totalDiscountsSet":{"shopMoney":{"amount":"0.00"}},"currentTotalPriceSet":null,)"
      R"("totalRefundedSet":{"shopMoney":{"amount":"2.25"}},"customer":{"id":"gid://shopify/Customer/77"}})");
}

std::string Page(std::vector<int64_t> ids, bool has_next, const std::string& cursor,
                 const std::string& cost) {
  std::string nodes;
  for (size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&nodes, i ? "," : "", Node(ids[i]));
  return absl::StrCat(R"({"data":{"orders":{"pageInfo":{"hasNextPage":)",
                      has_next ? "true" : "false", R"(,"endCursor":)",
                      cursor.empty() ? "null" : absl::StrCat("\"", cursor, "\""), R"(},"nodes":[)",
                      nodes, "]}},", cost, "}");
}

TEST(GraphqlOrdersTest, BodyCarriesTheQueryAndItsVariables) {
  GraphqlOrdersRequest req;
  req.updated_min = absl::FromUnixSeconds(1705314600);
  req.first = 100;
  std::string body = GraphqlOrdersBody(req);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  std::string_view query;
  ASSERT_EQ(doc["query"].get(query), simdjson::SUCCESS);
  EXPECT_NE(query.find("sortKey: UPDATED_AT"), std::string_view::npos);
  EXPECT_NE(query.find("totalRefundedSet"), std::string_view::npos);
  int64_t first = 0;
  ASSERT_EQ(doc["variables"]["first"].get(first), simdjson::SUCCESS);
  EXPECT_EQ(first, 100);
  EXPECT_TRUE(doc["variables"]["after"].is_null());
  std::string_view filter;
  ASSERT_EQ(doc["variables"]["query"].get(filter), simdjson::SUCCESS);
  EXPECT_EQ(filter, "updated_at:>='2024-01-15T10:30:00Z'");

  req.after = "abc\"d";
  req.created_min = absl::FromUnixSeconds(1704067200);
  req.created_max = absl::FromUnixSeconds(1704153599);
  body = GraphqlOrdersBody(req);
  ASSERT_EQ(parser.parse(body).get(doc), simdjson::SUCCESS) << body;
  std::string_view after;
  ASSERT_EQ(doc["variables"]["after"].get(after), simdjson::SUCCESS);
  EXPECT_EQ(after, "abc\"d");
  ASSERT_EQ(doc["variables"]["query"].get(filter), simdjson::SUCCESS);
  EXPECT_EQ(filter,
            "updated_at:>='2024-01-15T10:30:00Z' created_at:>='2024-01-01T00:00:00Z' "
            "created_at:<='2024-01-01T23:59:59Z'");
}

TEST(GraphqlOrdersTest, ANodeBecomesTheSameOrderAsItsRestForm) {
  auto answer = ParseGraphqlOrders(Page({42}, true, "c1", Cost(252, 3, 1997)));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->orders.size(), 1u);
  const Order& o = answer->orders[0];
  // The same order as REST renders it.
  auto rest = ParseOrdersPage(
      R"({"orders":[{"id":42,"name":"#1042","email":"a@b.c","created_at":"2024-01-01T00:00:00Z",)"
      R"("updated_at":"2024-01-02T00:00:00Z","processed_at":"2024-01-01T00:00:01Z",)"
      R"("cancelled_at":null,"test":false,"financial_status":"partially_refunded","currency":"USD",)"
      R"("total_price":"10.50","subtotal_price":"9.00","total_tax":"1.50","total_discounts":"0.00",)"
      R"("refunds":[{"transactions":[{"kind":"refund","status":"success","amount":"2.25"}]}],)"
      R"("customer":{"id":77}}]})");
  ASSERT_TRUE(rest.ok()) << rest.status();
  const Order& r = (*rest)[0];
  EXPECT_EQ(o.id, r.id);
  EXPECT_EQ(o.name, r.name);
  EXPECT_EQ(o.email, r.email);
  EXPECT_EQ(o.customer_id, r.customer_id);
  EXPECT_EQ(o.created_at, r.created_at);
  EXPECT_EQ(o.updated_at, r.updated_at);
  EXPECT_EQ(o.processed_at, r.processed_at);
  EXPECT_EQ(o.cancelled_at, r.cancelled_at);
  EXPECT_EQ(o.currency, r.currency);
  EXPECT_EQ(o.total_price_cents, r.total_price_cents);
  EXPECT_EQ(o.subtotal_price_cents, r.subtotal_price_cents);
  EXPECT_EQ(o.total_tax_cents, r.total_tax_cents);
  EXPECT_EQ(o.total_discounts_cents, r.total_discounts_cents);
  EXPECT_EQ(o.current_total_price_cents, r.current_total_price_cents);
  EXPECT_EQ(o.refunded_cents, r.refunded_cents);
  EXPECT_EQ(o.financial_status, r.financial_status);
  EXPECT_EQ(o.test, r.test);
  EXPECT_TRUE(answer->has_next_page);
  EXPECT_EQ(answer->end_cursor, "c1");
  ASSERT_TRUE(answer->cost.has_value());
  EXPECT_EQ(answer->cost->requested, 252);
  EXPECT_EQ(answer->cost->currently_available, 1997);
}

TEST(GraphqlOrdersTest, ShapeErrorsNameTheirPath) {
  struct Case {
    std::string body;
    std::string message;
  };
  std::string bad_id = Page({1}, false, "", Cost(3, 3, 100));
  bad_id.replace(bad_id.find("gid://shopify/Order/1"), 21, "gid://shopify/Customer/1");
  std::string no_total = Page({1}, false, "", Cost(3, 3, 100));
  no_total.replace(no_total.find(R"("totalPriceSet")"), 15, R"("elsewhere")");
  std::string float_money = Page({1}, false, "", Cost(3, 3, 100));
  float_money.replace(float_money.find(R"("10.50")"), 7, "10.5");
  const std::vector<Case> cases = {
      {R"({"data":{"orders":)", "GraphQL answer"},
      {R"({"data":{}})", "data.orders: missing"},
      {R"({"data":{"orders":{"pageInfo":{"hasNextPage":true},"nodes":[]}}})",
       "endCursor: missing while hasNextPage is true"},
      {bad_id, "data.orders.nodes[0].id: expected a global id gid://shopify/Order/<digits>"},
      {no_total, "data.orders.nodes[0].totalPriceSet: missing"},
      {float_money, "data.orders.nodes[0].totalPriceSet.shopMoney.amount"},
  };
  for (const Case& c : cases) {
    auto answer = ParseGraphqlOrders(c.body);
    ASSERT_FALSE(answer.ok()) << c.body;
    EXPECT_TRUE(absl::StrContains(answer.status().message(), c.message))
        << answer.status() << " for " << c.body;
  }
  EXPECT_EQ(ParseGid("gid://shopify/Order/99999999999999999999", "Order", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseGid("gid://shopify/Customer/5", "Customer", "x"), 5);
}

class GraphqlOrdersClientTest : public ::testing::Test {
 protected:
  GraphqlOrdersClient MakeClient(OrdersClientOptions options = {}) {
    return GraphqlOrdersClient({kBase, "2025-01", kToken}, transport_, sleeper_,
                               {absl::Seconds(1), absl::Seconds(8), 2.0, 3}, options,
                               [this] { return now_; });
  }
  FakeTransport transport_;
  FakeSleeper sleeper_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(GraphqlOrdersClientTest, PagesByCursorWithTheTokenOnlyInTheHeader) {
  transport_.Then(200, Page({1, 2}, true, "cur-1", Cost(252, 4, 1996)));
  transport_.Then(200, Page({3}, false, "", Cost(252, 3, 1993)));
  GraphqlOrdersClient client = MakeClient();
  auto first = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->orders.size(), 2u);
  ASSERT_TRUE(first->next.has_value());
  auto second = client.NextPage(*first->next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->orders[0].id, 3);
  EXPECT_FALSE(second->next.has_value());
  ASSERT_EQ(transport_.requests().size(), 2u);
  const HttpRequest& req = transport_.requests()[1];
  EXPECT_EQ(req.url, std::string(kBase) + "/admin/api/2025-01/graphql.json");
  ASSERT_TRUE(req.post_body.has_value());
  EXPECT_TRUE(absl::StrContains(*req.post_body, R"("after":"cur-1")"));
  EXPECT_FALSE(absl::StrContains(*req.post_body, kToken));
  EXPECT_FALSE(absl::StrContains(req.url, kToken));
  bool token_header = false;
  for (const auto& [k, v] : req.headers)
    token_header |= k == "X-Shopify-Access-Token" && v == kToken;
  EXPECT_TRUE(token_header);
  EXPECT_TRUE(sleeper_.delays().empty());  // the bucket was never low
}

TEST_F(GraphqlOrdersClientTest, WaitsForTheBucketBeforeItRunsDry) {
  // After the first page the bucket holds 100 points and restores 50/s; the next query costs
  // 252: wait (252 - 100) / 50 = 3.04 s first, less what restored meanwhile (1 s: 50 points).
  transport_.Then(200, Page({1}, true, "c", Cost(252, 3, 100, 50)));
  transport_.Then(200, Page({2}, false, "", Cost(252, 3, 0, 50)));
  GraphqlOrdersClient client = MakeClient();
  auto first = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status();
  now_ += absl::Seconds(1);
  auto second = client.NextPage(*first->next);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Seconds((252.0 - 150.0) / 50.0));
}

TEST_F(GraphqlOrdersClientTest, ThrottledIsWaitedOutAndAskedAgain) {
  const std::string throttled = absl::StrCat(
      R"({"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],)",
      R"("extensions":{"cost":{"requestedQueryCost":252,"actualQueryCost":null,)",
      R"("throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":52,"restoreRate":100.0}}}})");
  transport_.Then(200, throttled);
  transport_.Then(200, Page({1}, false, "", Cost(252, 3, 0)));
  GraphqlOrdersClient client = MakeClient();
  auto page = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->orders.size(), 1u);
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Seconds(2));  // (252 - 52) / 100
  EXPECT_EQ(client.stats().throttled, 1);

  // Throttled every time: gives up after max_throttle_waits with UNAVAILABLE (retryable).
  FakeTransport always;
  for (int i = 0; i < 4; ++i) always.Then(200, throttled);
  GraphqlOrdersClient stuck({kBase, "2025-01", kToken}, always, sleeper_, {},
                            {.max_throttle_waits = 3}, [this] { return now_; });
  auto gave_up = stuck.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  EXPECT_EQ(gave_up.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(gave_up.status().message(), "throttled"));
}

TEST_F(GraphqlOrdersClientTest, OtherErrorsFailThePageNamingThem) {
  transport_.Then(200, R"({"errors":[{"message":"Access denied for orders field.",)"
                       R"("extensions":{"code":"ACCESS_DENIED"}}]})");
  GraphqlOrdersClient client = MakeClient();
  auto page = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(page.status().message(),
                                "Access denied for orders field. "
                                "(ACCESS_DENIED)"))
      << page.status();
  EXPECT_TRUE(absl::StrContains(page.status().message(), "read_orders"));

  // HTTP failures are the REST client's: a 401 names the token, never shows it.
  transport_.Then(
      401, R"json({"errors":"[API] Invalid API key or access token (shpat_SECRET123)"})json");
  auto denied = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(absl::StrContains(denied.status().message(), kToken));
  // An unreadable 200 is DATA_LOSS.
  transport_.Then(200, "<html>maintenance</html>");
  auto garbage = client.FirstPage(absl::FromUnixSeconds(1700000000), 250, std::nullopt);
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace autosync::worker
