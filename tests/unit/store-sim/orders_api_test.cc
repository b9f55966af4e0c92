// The Shopify orders listing as a connector sees it, through Simulator::Handle().
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/orders_query.h"

namespace autosync::storesim {
namespace {

using testing::FakeClock;
using testing::Get;
using testing::LinkTarget;
using testing::MakeSim;
using testing::OrderIds;
using testing::OrdersPath;
using testing::ParseJson;
using testing::SmallConfig;

class OrdersApiTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSim(SmallConfig(), &clock_); }

  const StoreData& shop() { return *sim_->FindStore("shop"); }

  // Follows rel="next" from `first` and returns every id seen, in order.
  std::vector<int64_t> WalkAll(const std::string& first, int* pages = nullptr) {
    std::vector<int64_t> all;
    std::string target = first;
    int n = 0;
    while (!target.empty() && n < 1000) {
      Response r = sim_->Handle(Get(target));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      std::vector<int64_t> ids = OrderIds(r);
      all.insert(all.end(), ids.begin(), ids.end());
      target = LinkTarget(r, "next");
      ++n;
    }
    if (pages != nullptr) *pages = n;
    return all;
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(OrdersApiTest, PagingByUpdatedAtWalksEveryOrderExactlyOnce) {
  int pages = 0;
  std::vector<int64_t> ids =
      WalkAll(OrdersPath("shop", "status=any&order=updated_at%20asc&limit=250"), &pages);
  EXPECT_EQ(pages, 12);  // 3000 / 250
  std::set<int64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), 3000u);
  EXPECT_EQ(unique.size(), 3000u);
  // In updated_at order.
  std::map<int64_t, int64_t> updated;
  for (const Order& o : shop().orders()) updated[o.id] = o.updated_at;
  for (size_t i = 1; i < ids.size(); ++i) ASSERT_LE(updated[ids[i - 1]], updated[ids[i]]);
}

TEST_F(OrdersApiTest, PagingByIdWithPlusEncodedOrderAlsoCoversEverything) {
  std::vector<int64_t> ids = WalkAll(OrdersPath("shop", "status=any&limit=100"));
  EXPECT_EQ(ids.size(), 3000u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  std::vector<int64_t> desc = WalkAll(OrdersPath("shop", "status=any&limit=250&order=id+desc"));
  EXPECT_EQ(desc.size(), 3000u);
  EXPECT_TRUE(std::is_sorted(desc.rbegin(), desc.rend()));
}

TEST_F(OrdersApiTest, LinkHeaderHasPreviousOnlyAfterFirstAndNextOnlyBeforeLast) {
  Response first = sim_->Handle(Get(OrdersPath("shop", "status=any&limit=250")));
  EXPECT_EQ(LinkTarget(first, "previous"), "");
  std::string second_target = LinkTarget(first, "next");
  ASSERT_FALSE(second_target.empty());
  EXPECT_NE(second_target.find("limit=250&page_info="), std::string::npos);
  Response second = sim_->Handle(Get(second_target));
  ASSERT_EQ(second.status, 200);
  EXPECT_NE(LinkTarget(second, "next"), "");
  // Going back from page 2 gives page 1 again.
  Response back = sim_->Handle(Get(LinkTarget(second, "previous")));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(OrderIds(back), OrderIds(first));
  // The last page has previous but no next.
  std::string target = second_target;
  Response last;
  while (!target.empty()) {
    last = sim_->Handle(Get(target));
    target = LinkTarget(last, "next");
  }
  EXPECT_NE(LinkTarget(last, "previous"), "");
  EXPECT_EQ(LinkTarget(last, "next"), "");
}

TEST_F(OrdersApiTest, NoLinkHeaderWhenOnePageHoldsEverything) {
  Response r = sim_->Handle(Get("/shops/east/admin/api/2024-01/orders.json?status=any&limit=250"));
  ASSERT_EQ(r.status, 200);
  Response all =
      sim_->Handle(Get("/shops/east/admin/api/2024-01/orders.json?status=cancelled&limit=250"));
  ASSERT_EQ(all.status, 200);
  EXPECT_FALSE(all.Header("Link").has_value());
  EXPECT_LT(OrderIds(all).size(), 250u);
}

TEST_F(OrdersApiTest, PageInfoWithAFilterIsRefused) {
  Response first = sim_->Handle(Get(OrdersPath("shop", "status=any&limit=50")));
  std::string next = LinkTarget(first, "next");
  ASSERT_FALSE(next.empty());
  Response r = sim_->Handle(Get(next + "&status=any"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("page_info"), std::string::npos);
  // limit and fields may be added.
  EXPECT_EQ(sim_->Handle(Get(next + "&fields=id")).status, 200);
}

TEST_F(OrdersApiTest, TamperedOrForeignPageInfoIsRefused) {
  Response first = sim_->Handle(Get(OrdersPath("shop", "status=any&limit=50")));
  std::string next = LinkTarget(first, "next");
  size_t at = next.find("page_info=") + 14;
  std::string tampered = next;
  tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
  Response r = sim_->Handle(Get(tampered));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "{\"errors\":{\"page_info\":\"Invalid value.\"}}");
  std::string foreign = next;
  foreign.replace(foreign.find("/shops/shop/"), 12, "/shops/east/");
  EXPECT_EQ(sim_->Handle(Get(foreign)).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "page_info=!!!"))).status, 400);
}

TEST_F(OrdersApiTest, PageParameterAndBadLimitsAreRefused) {
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "page=2"))).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=251"))).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=0"))).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=abc"))).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=250"))).status, 200);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "status=bogus"))).status, 400);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "updated_at_min=yesterday"))).status, 400);
}

TEST_F(OrdersApiTest, DefaultLimitIsFiftyAndDefaultOrderIsId) {
  Response r = sim_->Handle(Get(OrdersPath("shop", "status=any")));
  std::vector<int64_t> ids = OrderIds(r);
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(ids.front(), shop().orders().front().id);
}

TEST_F(OrdersApiTest, DefaultStatusOpenHidesOldAndCancelledOrders) {
  std::vector<int64_t> open = WalkAll(OrdersPath("shop", "limit=250"));
  std::vector<int64_t> any = WalkAll(OrdersPath("shop", "status=any&limit=250"));
  EXPECT_GT(open.size(), 0u);
  EXPECT_LT(open.size(), any.size() / 10);
  std::set<int64_t> open_set(open.begin(), open.end());
  const int64_t cutoff = shop().now() - kClosedAfterSeconds;
  int64_t expected_open = 0;
  for (const Order& o : shop().orders()) {
    bool is_open = o.cancelled_at == 0 && o.created_at >= cutoff;
    expected_open += is_open;
    EXPECT_EQ(open_set.count(o.id) == 1, is_open) << o.id;
  }
  EXPECT_EQ(static_cast<int64_t>(open.size()), expected_open);
  // count.json agrees.
  Response count = sim_->Handle(Get("/shops/shop/admin/api/2024-01/orders/count.json"));
  EXPECT_EQ(count.body, absl::StrCat("{\"count\":", expected_open, "}"));
}

TEST_F(OrdersApiTest, CancelledAndClosedStatusesPartitionTheRest) {
  size_t open = WalkAll(OrdersPath("shop", "limit=250")).size();
  size_t closed = WalkAll(OrdersPath("shop", "status=closed&limit=250")).size();
  size_t cancelled = WalkAll(OrdersPath("shop", "status=cancelled&limit=250")).size();
  EXPECT_GT(cancelled, 0u);
  EXPECT_EQ(open + closed + cancelled, 3000u);
}

TEST_F(OrdersApiTest, UpdatedAtMinIsInclusive) {
  // An order in the middle of the updated_at order.
  const Order& pivot = shop().orders()[shop().by_updated()[1500]];
  std::string t = UrlEncode(FormatShopifyTime(pivot.updated_at, -300));  // any offset works
  Response r = sim_->Handle(
      Get(OrdersPath("shop", "status=any&order=updated_at%20asc&limit=250&updated_at_min=" + t)));
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<int64_t> ids = OrderIds(r);
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(std::find(ids.begin(), ids.end(), pivot.id), ids.end());
  for (int64_t id : ids) {
    auto it = std::find_if(shop().orders().begin(), shop().orders().end(),
                           [&](const Order& o) { return o.id == id; });
    EXPECT_GE(it->updated_at, pivot.updated_at);
  }
  // The whole tail from the pivot: exactly the orders with updated_at >= pivot's.
  std::vector<int64_t> tail = WalkAll(
      OrdersPath("shop", "status=any&order=updated_at%20asc&limit=250&updated_at_min=" + t));
  size_t expected = 0;
  for (const Order& o : shop().orders()) expected += o.updated_at >= pivot.updated_at;
  EXPECT_EQ(tail.size(), expected);
}

TEST_F(OrdersApiTest, CreatedAtMaxIsInclusiveAndSinceIdIsExclusive) {
  const Order& pivot = shop().orders()[1000];
  std::string t = UrlEncode(FormatShopifyTime(pivot.created_at, 0));
  std::vector<int64_t> ids =
      WalkAll(OrdersPath("shop", "status=any&limit=250&created_at_max=" + t));
  EXPECT_NE(std::find(ids.begin(), ids.end(), pivot.id), ids.end());
  size_t expected = 0;
  for (const Order& o : shop().orders()) expected += o.created_at <= pivot.created_at;
  EXPECT_EQ(ids.size(), expected);
  std::vector<int64_t> after =
      WalkAll(OrdersPath("shop", absl::StrCat("status=any&limit=250&since_id=", pivot.id)));
  EXPECT_EQ(after.size(), 3000u - 1001u);
  EXPECT_EQ(after.front(), shop().orders()[1001].id);
}

TEST_F(OrdersApiTest, FieldsLimitsTheKeys) {
  Response r = sim_->Handle(Get(OrdersPath("shop", "status=any&limit=3&fields=id,updated_at")));
  ASSERT_EQ(r.status, 200);
  auto j = ParseJson(r.body);
  ASSERT_TRUE(j->ok);
  for (auto o : j->root["orders"].get_array()) {
    EXPECT_EQ(o.get_object().size(), 2u);
    EXPECT_EQ(o["total_price"].error(), simdjson::NO_SUCH_FIELD);
  }
  EXPECT_NE(LinkTarget(r, "next").find("fields=id%2Cupdated_at"), std::string::npos);
}

TEST_F(OrdersApiTest, OrdersLookLikeShopifyOrders) {
  Response r = sim_->Handle(Get(OrdersPath("east", "status=any&limit=250")));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/json; charset=utf-8");
  auto j = ParseJson(r.body);
  ASSERT_TRUE(j->ok);
  const std::regex money(R"(^\d+\.\d\d$)");
  const std::regex ts(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00$)");
  int guests = 0;
  for (auto o : j->root["orders"].get_array()) {
    for (const char* f :
         {"total_price", "subtotal_price", "total_tax", "total_discounts", "current_total_price"}) {
      std::string_view v;
      ASSERT_EQ(o[f].get(v), simdjson::SUCCESS) << f;
      EXPECT_TRUE(std::regex_match(std::string(v), money)) << f << "=" << v;
    }
    for (const char* f : {"created_at", "updated_at", "processed_at"}) {
      std::string_view v;
      ASSERT_EQ(o[f].get(v), simdjson::SUCCESS);
      EXPECT_TRUE(std::regex_match(std::string(v), ts)) << v;
    }
    std::string_view name, currency;
    ASSERT_EQ(o["name"].get(name), simdjson::SUCCESS);
    EXPECT_EQ(name[0], '#');
    ASSERT_EQ(o["currency"].get(currency), simdjson::SUCCESS);
    EXPECT_EQ(currency, "USD");
    bool test = false;
    EXPECT_EQ(o["test"].get(test), simdjson::SUCCESS);
    EXPECT_EQ(o["refunds"].is_array(), true);
    if (o["customer"].is_null()) {
      ++guests;
    } else {
      int64_t cid = 0;
      EXPECT_EQ(o["customer"]["id"].get(cid), simdjson::SUCCESS);
    }
  }
  EXPECT_GT(guests, 0);
}

TEST_F(OrdersApiTest, RefundsAppearWithAmountsAndReduceCurrentTotal) {
  const Order* refunded = nullptr;
  for (const Order& o : shop().orders()) {
    if (o.refund_at != 0 && o.cancelled_at == 0 &&
        o.financial_status == FinancialStatus::kPartiallyRefunded) {
      refunded = &o;
      break;
    }
  }
  ASSERT_NE(refunded, nullptr);
  Response r = sim_->Handle(Get(OrdersPath("shop", absl::StrCat("status=any&ids=", refunded->id))));
  auto j = ParseJson(r.body);
  ASSERT_TRUE(j->ok);
  auto o = j->root["orders"].at(0);
  std::string_view amount, current, total, status;
  ASSERT_EQ(o["refunds"].at(0)["transactions"].at(0)["amount"].get(amount), simdjson::SUCCESS);
  ASSERT_EQ(o["current_total_price"].get(current), simdjson::SUCCESS);
  ASSERT_EQ(o["total_price"].get(total), simdjson::SUCCESS);
  ASSERT_EQ(o["financial_status"].get(status), simdjson::SUCCESS);
  EXPECT_EQ(status, "partially_refunded");
  EXPECT_NEAR(std::stod(std::string(total)) - std::stod(std::string(amount)),
              std::stod(std::string(current)), 0.001);
}

TEST_F(OrdersApiTest, BadTokenIs401AndUnknownStoreIs404) {
  Response r = sim_->Handle(Get(OrdersPath("shop", ""), "wrong"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body,
            "{\"errors\":\"[API] Invalid API key or access token (unrecognized login or wrong "
            "password)\"}");
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", ""), "")).status, 401);
  Response missing = sim_->Handle(Get(OrdersPath("nope", "")));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "{\"errors\":\"Not Found\"}");
  EXPECT_EQ(sim_->Handle(Get("/shops/shop/admin/api/latest/orders.json")).status, 404);
}

TEST_F(OrdersApiTest, LiveTicksShowUpForAnUpdatedAtCursor) {
  const int64_t before_now = shop().now();
  std::string t = UrlEncode(FormatShopifyTime(before_now, 0));
  ASSERT_TRUE(sim_->Tick("shop").ok());
  ASSERT_TRUE(sim_->Tick("shop").ok());
  std::vector<int64_t> ids = WalkAll(
      OrdersPath("shop", "status=any&order=updated_at%20asc&limit=250&updated_at_min=" + t));
  size_t expected = 0;
  for (const Order& o : shop().orders()) expected += o.updated_at >= before_now;
  EXPECT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.size(), expected);
}

TEST_F(OrdersApiTest, DeletedOrdersLeaveTheListingAndAppearAsDestroyEvents) {
  SimConfig c = SmallConfig(600);
  c.live_delete_probability = 1.0;
  auto sim = MakeSim(c, &clock_);
  const StoreData& data = *sim->FindStore("shop");
  std::string since = UrlEncode(FormatShopifyTime(data.now(), 0));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sim->Tick("shop").ok());
  ASSERT_EQ(data.events().size(), 3u);
  std::set<int64_t> listed;
  std::string target = OrdersPath("shop", "status=any&limit=250");
  while (!target.empty()) {
    Response r = sim->Handle(Get(target));
    for (int64_t id : OrderIds(r)) listed.insert(id);
    target = LinkTarget(r, "next");
  }
  for (const auto& e : data.events()) EXPECT_EQ(listed.count(e.order_id), 0u);
  EXPECT_EQ(static_cast<int64_t>(listed.size()), data.Summarize().count);

  // Two per page, so the Link header pages them.
  std::string events =
      "/shops/shop/admin/api/2024-01/events.json?filter=Order&verb=destroy&limit=2"
      "&created_at_min=" +
      since;
  Response first = sim->Handle(Get(events));
  ASSERT_EQ(first.status, 200) << first.body;
  auto j = ParseJson(first.body);
  ASSERT_TRUE(j->ok);
  int64_t subject = 0;
  std::string_view verb;
  ASSERT_EQ(j->root["events"].at(0)["subject_id"].get(subject), simdjson::SUCCESS);
  EXPECT_EQ(subject, data.events()[0].order_id);
  ASSERT_EQ(j->root["events"].at(0)["verb"].get(verb), simdjson::SUCCESS);
  EXPECT_EQ(verb, "destroy");
  Response second = sim->Handle(Get(LinkTarget(first, "next")));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(ParseJson(second.body)->root["events"].get_array().size(), 1u);
  EXPECT_EQ(LinkTarget(second, "next"), "");
  // Events created before the window are not returned; other verbs match nothing.
  std::string later = UrlEncode(FormatShopifyTime(data.now() + 1, 0));
  Response none = sim->Handle(
      Get("/shops/shop/admin/api/2024-01/events.json?filter=Order&verb=destroy&created_at_min=" +
          later));
  EXPECT_EQ(none.body, "{\"events\":[]}");
  Response create = sim->Handle(Get("/shops/shop/admin/api/2024-01/events.json?verb=create"));
  EXPECT_EQ(create.body, "{\"events\":[]}");
}

TEST_F(OrdersApiTest, WithoutReadAllOrdersOnlyTheLastSixtyDaysExist) {
  SimConfig c = SmallConfig();
  c.read_all_orders = false;
  auto sim = MakeSim(c, &clock_);
  const StoreData& data = *sim->FindStore("shop");
  Response r = sim->Handle(Get("/shops/shop/admin/api/2024-01/orders/count.json?status=any"));
  int64_t expected = 0;
  for (const Order& o : data.orders()) expected += o.created_at >= data.now() - 60 * 86400;
  EXPECT_EQ(r.body, absl::StrCat("{\"count\":", expected, "}"));
  EXPECT_LT(expected, 500);
}

class RateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimConfig c = SmallConfig(300);
    c.leak_per_second = 2;
    c.bucket_size = 40;
    sim_ = MakeSim(c, &clock_);
  }
  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(RateLimitTest, BucketFillsThen429WithRetryAfterAndDrainsOverTime) {
  for (int i = 1; i <= 40; ++i) {
    Response r = sim_->Handle(Get(OrdersPath("shop", "limit=1")));
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.Header("X-Shopify-Shop-Api-Call-Limit"), absl::StrCat(i, "/40"));
  }
  Response over = sim_->Handle(Get(OrdersPath("shop", "limit=1")));
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(over.Header("Retry-After"), "2.0");
  EXPECT_EQ(over.Header("X-Shopify-Shop-Api-Call-Limit"), "40/40");
  EXPECT_EQ(over.body,
            "{\"errors\":\"Exceeded 2 calls per second for api client. Reduce request rates to "
            "resume uninterrupted service.\"}");
  // Another store has its own bucket.
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("east", "limit=1"))).status, 200);
  // One second leaks two calls.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=1"))).status, 200);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=1"))).status, 200);
  EXPECT_EQ(sim_->Handle(Get(OrdersPath("shop", "limit=1"))).status, 429);
}

TEST_F(RateLimitTest, ClientPacedAtTheLeakRateNeverSees429) {
  for (int i = 0; i < 200; ++i) {
    Response r = sim_->Handle(Get(OrdersPath("shop", "limit=1")));
    ASSERT_EQ(r.status, 200) << i;
    clock_.Advance(absl::Milliseconds(500));
  }
}

}  // namespace
}  // namespace autosync::storesim
