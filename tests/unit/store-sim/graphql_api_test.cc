// The GraphQL orders connection as a connector sees it, through Simulator::Handle(): the same
// orders as REST, the cost bucket on the sim's clock, auth and the fault switches.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::Get;
using testing::GraphqlOrdersBody;
using testing::GraphqlPath;
using testing::LinkTarget;
using testing::MakeSim;
using testing::OrderIds;
using testing::OrdersPath;
using testing::ParseJson;
using testing::PostGraphql;
using testing::SmallConfig;

struct Page {
  std::vector<int64_t> ids;
  bool has_next = false;
  std::string end_cursor;
};

Page ReadPage(const Response& r) {
  Page p;
  auto j = ParseJson(r.body);
  EXPECT_TRUE(j->ok) << r.body.substr(0, 300);
  if (!j->ok) return p;
  auto conn = j->root["data"]["orders"];
  simdjson::dom::array nodes;
  if (conn["nodes"].get(nodes) != simdjson::SUCCESS) {
    ADD_FAILURE() << "no nodes: " << r.body.substr(0, 300);
    return p;
  }
  for (auto node : nodes) {
    std::string_view gid;
    EXPECT_EQ(node["id"].get(gid), simdjson::SUCCESS);
    p.ids.push_back(std::stoll(std::string(gid.substr(gid.rfind('/') + 1))));
  }
  EXPECT_EQ(conn["pageInfo"]["hasNextPage"].get(p.has_next), simdjson::SUCCESS);
  std::string_view cursor;
  if (conn["pageInfo"]["endCursor"].get(cursor) == simdjson::SUCCESS) p.end_cursor = cursor;
  return p;
}

std::string ErrorCode(const Response& r) {
  auto j = ParseJson(r.body);
  std::string_view code;
  if (!j->ok || j->root["errors"].at(0)["extensions"]["code"].get(code) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(code);
}

class GraphqlApiTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSim(SmallConfig(), &clock_); }

  std::vector<int64_t> RestWalk(const std::string& query) {
    std::vector<int64_t> all;
    std::string target = OrdersPath("shop", query);
    while (!target.empty()) {
      Response r = sim_->Handle(Get(target));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      std::vector<int64_t> ids = OrderIds(r);
      all.insert(all.end(), ids.begin(), ids.end());
      target = LinkTarget(r, "next");
    }
    return all;
  }
  // Pages like a connector: on THROTTLED it waits (on the fake clock) for the points it lacks.
  std::vector<int64_t> GraphqlWalk(int first, const std::string& search, int* throttles) {
    std::vector<int64_t> all;
    std::string after;
    *throttles = 0;
    for (int n = 0; n < 1000; ++n) {
      Response r = sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(first, after, search)));
      EXPECT_EQ(r.status, 200);
      if (ErrorCode(r) == "THROTTLED") {
        ++*throttles;
        auto j = ParseJson(r.body);
        auto cost = j->root["extensions"]["cost"];
        int64_t lacking = int64_t(cost["requestedQueryCost"]) -
                          int64_t(cost["throttleStatus"]["currentlyAvailable"]);
        clock_.Advance(absl::Seconds(static_cast<double>(lacking) /
                                     double(cost["throttleStatus"]["restoreRate"])));
        continue;
      }
      Page p = ReadPage(r);
      all.insert(all.end(), p.ids.begin(), p.ids.end());
      if (!p.has_next) break;
      after = p.end_cursor;
    }
    return all;
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(GraphqlApiTest, AFullPageIsTheRestPageInUpdatedOrderWithItsCost) {
  Response r = sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(250)));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.Header("Content-Type"), "application/json; charset=utf-8");
  Page p = ReadPage(r);
  EXPECT_EQ(p.ids.size(), 250u);
  EXPECT_TRUE(p.has_next);
  EXPECT_FALSE(p.end_cursor.empty());
  Response rest =
      sim_->Handle(Get(OrdersPath("shop", "status=any&order=updated_at%20asc&limit=250")));
  EXPECT_EQ(p.ids, OrderIds(rest));
  EXPECT_TRUE(
      absl::EndsWith(r.body,
                     "\"extensions\":{\"cost\":{\"requestedQueryCost\":252,\"actualQueryCost\":252,"
                     "\"throttleStatus\":{\"maximumAvailable\":2000.0,\"currentlyAvailable\":1748,"
                     "\"restoreRate\":100.0}}}}"))
      << r.body.substr(r.body.size() - 200);
  // GraphQL and REST have separate budgets: REST's call-limit header is not GraphQL's.
  EXPECT_FALSE(r.Header("X-Shopify-Shop-Api-Call-Limit").has_value());
}

TEST_F(GraphqlApiTest, WalkingEveryPageGivesExactlyTheRestOrders) {
  int throttles = 0;
  EXPECT_EQ(GraphqlWalk(250, "", &throttles),
            RestWalk("status=any&order=updated_at%20asc&limit=250"));
  // A bucket of 2000 covers 7 pages of 252 points; after that each of the 5 remaining pages
  // waits once, for exactly the points it lacks.
  EXPECT_EQ(throttles, 5);
  // With a window, both APIs still agree.
  const StoreData& shop = *sim_->FindStore("shop");
  const Order& pivot = shop.orders()[shop.by_updated()[1700]];
  std::string t = FormatUtcTime(pivot.updated_at);
  std::vector<int64_t> gql = GraphqlWalk(100, "updated_at:>='" + t + "'", &throttles);
  EXPECT_EQ(gql, RestWalk("status=any&order=updated_at%20asc&limit=250&updated_at_min=" + t));
  EXPECT_GE(gql.size(), 1300u);
}

TEST_F(GraphqlApiTest, ThrottledWhenTheCostBucketIsShortThenRestoredByTheClock) {
  SimConfig c = SmallConfig(600);
  c.graphql_bucket_size = 300;
  c.graphql_restore_rate = 50;
  auto sim = MakeSim(c, &clock_);
  ASSERT_EQ(sim->Handle(PostGraphql("shop", GraphqlOrdersBody(250))).status, 200);
  Response throttled = sim->Handle(PostGraphql("shop", GraphqlOrdersBody(250)));
  EXPECT_EQ(throttled.status, 200);
  EXPECT_EQ(ErrorCode(throttled), "THROTTLED");
  auto j = ParseJson(throttled.body);
  ASSERT_TRUE(j->ok);
  EXPECT_TRUE(j->root["extensions"]["cost"]["actualQueryCost"].is_null());
  EXPECT_EQ(int64_t(j->root["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]), 48);
  EXPECT_TRUE(j->root["data"].error() == simdjson::NO_SUCH_FIELD);
  // Another store has its own bucket; REST is not affected.
  EXPECT_EQ(ReadPage(sim->Handle(PostGraphql("east", GraphqlOrdersBody(250)))).ids.size(), 250u);
  EXPECT_EQ(sim->Handle(Get(OrdersPath("shop", "limit=1"))).status, 200);
  // 4 s at 50 points/s restores 200: 248 is still short of 252, 5 s is enough.
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(ErrorCode(sim->Handle(PostGraphql("shop", GraphqlOrdersBody(250)))), "THROTTLED");
  clock_.Advance(absl::Seconds(1));
  Response ok = sim->Handle(PostGraphql("shop", GraphqlOrdersBody(250)));
  EXPECT_EQ(ReadPage(ok).ids.size(), 250u);
}

TEST_F(GraphqlApiTest, BadTokenIs401LikeRest) {
  Response r = sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(10), "wrong"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, sim_->Handle(Get(OrdersPath("shop", ""), "wrong")).body);
  EXPECT_EQ(sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(10), "")).status, 401);
}

TEST_F(GraphqlApiTest, RoutingMethodsAndBadBodies) {
  Response get = sim_->Handle(Get(GraphqlPath("shop")));
  EXPECT_EQ(get.status, 406);
  EXPECT_EQ(sim_->Handle(PostGraphql("nope", GraphqlOrdersBody(10))).status, 404);
  Request latest = PostGraphql("shop", GraphqlOrdersBody(10));
  latest.target = "/shops/shop/admin/api/latest/graphql.json";
  EXPECT_EQ(sim_->Handle(latest).status, 404);
  Response not_json =
      sim_->Handle(PostGraphql("shop", "query { orders(first: 1) { nodes { id } } }"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_TRUE(ParseJson(not_json.body)->root["errors"].is_string()) << not_json.body;
  Response no_query = sim_->Handle(PostGraphql("shop", "{\"variables\":{}}"));
  EXPECT_EQ(no_query.status, 400);
  Response other = sim_->Handle(PostGraphql("shop", "{\"query\":\"{ shop { name } }\"}"));
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(ErrorCode(other), "UNSUPPORTED_QUERY");
}

TEST_F(GraphqlApiTest, FaultSwitchesApplyAsToRestOrders) {
  auto set = [&](const std::string& json) {
    ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults", json)).status, 200);
  };
  auto post = [&] { return sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(5))); };
  set(R"({"burst_429":1})");
  Response busy = post();
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.Header("Retry-After"), "2.0");
  EXPECT_EQ(post().status, 200);
  set(R"({"fail_5xx_every":2})");
  EXPECT_EQ(post().status, 200);
  EXPECT_EQ(post().status, 500);
  EXPECT_EQ(post().status, 200);
  EXPECT_EQ(post().status, 503);
  ASSERT_EQ(sim_->Handle(Call("DELETE", "/_sim/faults")).status, 200);
  set(R"({"drop_connection_on_page":2,"latency_ms":40})");
  EXPECT_FALSE(post().drop_connection);
  Response dropped = post();
  EXPECT_TRUE(dropped.drop_connection);
  EXPECT_EQ(dropped.delay_ms, 40);
  // REST and GraphQL pages count together.
  set(R"({"malformed_page":2})");
  EXPECT_TRUE(ParseJson(sim_->Handle(Get(OrdersPath("shop", "limit=1"))).body)->ok);
  Response bad = post();
  EXPECT_EQ(bad.status, 200);
  EXPECT_FALSE(ParseJson(bad.body)->ok);
  set(R"({"truncate_page":1})");
  Response cut = post();
  EXPECT_FALSE(ParseJson(cut.body)->ok);
  // GraphQL errors are not data pages: they do not use up a page fault.
  set(R"({"malformed_page":1})");
  EXPECT_EQ(ErrorCode(sim_->Handle(PostGraphql("shop", "{\"query\":\"{ shop { id } }\"}"))),
            "UNSUPPORTED_QUERY");
  EXPECT_FALSE(ParseJson(post().body)->ok);
}

}  // namespace
}  // namespace autosync::storesim
