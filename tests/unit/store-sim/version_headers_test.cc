// Which API version answered: Shopify's X-Shopify-API-Version (and the deprecation header for
// a version older than the sim's oldest), Meta's x-fb-api-version, on every route.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/store-sim/sim_test_util.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::Get;
using testing::GraphqlOrdersBody;
using testing::MakeSim;
using testing::PostGraphql;
using testing::SmallConfig;

constexpr const char* kDeprecated =
    "https://shopify.dev/api/usage/versioning#deprecation-practices";

class VersionHeadersTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSim(SmallConfig(300), &clock_); }

  Response Shopify(const std::string& version, const std::string& rest,
                   const std::string& token = "sim-token") {
    return sim_->Handle(Get("/shops/shop/admin/api/" + version + "/" + rest, token));
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(VersionHeadersTest, ShopifyServesAnOlderVersionAsItsOldestAndSaysItIsDeprecated) {
  for (const char* rest : {"orders.json?limit=1", "orders/count.json", "events.json"}) {
    Response old = Shopify("2024-01", rest);
    EXPECT_EQ(old.status, 200) << rest;
    EXPECT_EQ(old.Header("X-Shopify-API-Version"), "2025-10") << rest;
    EXPECT_EQ(old.Header("X-Shopify-API-Deprecated-Reason"), kDeprecated) << rest;
    Response current = Shopify("2026-01", rest);
    EXPECT_EQ(current.Header("X-Shopify-API-Version"), "2026-01") << rest;
    EXPECT_FALSE(current.Header("X-Shopify-API-Deprecated-Reason").has_value()) << rest;
  }
  EXPECT_EQ(Shopify("2025-10", "orders.json").Header("X-Shopify-API-Version"), "2025-10");
  EXPECT_FALSE(Shopify("2025-10", "orders.json").Header("X-Shopify-API-Deprecated-Reason"));
  // Errors too.
  Response denied = Shopify("2024-01", "orders.json", "wrong");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.Header("X-Shopify-API-Version"), "2025-10");
  // GraphQL (sim_test_util's path pins 2024-01), and a current version.
  Response graphql = sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(1)));
  EXPECT_EQ(graphql.status, 200);
  EXPECT_EQ(graphql.Header("X-Shopify-API-Version"), "2025-10");
  EXPECT_EQ(graphql.Header("X-Shopify-API-Deprecated-Reason"), kDeprecated);
  Request newer = PostGraphql("shop", GraphqlOrdersBody(1));
  newer.target = "/shops/shop/admin/api/2026-04/graphql.json";
  EXPECT_EQ(sim_->Handle(newer).Header("X-Shopify-API-Version"), "2026-04");
  // Not a version: no header (and 404 as before).
  Response latest = Shopify("latest", "orders.json");
  EXPECT_EQ(latest.status, 404);
  EXPECT_FALSE(latest.Header("X-Shopify-API-Version").has_value());
}

TEST_F(VersionHeadersTest, MetaServesAnOlderVersionAsItsOldest) {
  const std::string query = "/insights?access_token=sim-token&level=campaign";
  Response old = sim_->Handle(Call("GET", "/v19.0/act_shop" + query));
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(old.Header("x-fb-api-version"), "v22.0");
  EXPECT_EQ(sim_->Handle(Call("GET", "/v23.0/act_shop" + query)).Header("x-fb-api-version"),
            "v23.0");
  EXPECT_EQ(sim_->Handle(Call("GET", "/v22.0/act_shop" + query)).Header("x-fb-api-version"),
            "v22.0");
  Response denied = sim_->Handle(Call("GET", "/v19.0/act_shop/insights?access_token=x"));
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(denied.Header("x-fb-api-version"), "v22.0");
  Response report = sim_->Handle(Call("GET", "/v21.0/123?access_token=sim-token"));
  EXPECT_EQ(report.status, 400);
  EXPECT_EQ(report.Header("x-fb-api-version"), "v22.0");
  EXPECT_FALSE(
      sim_->Handle(Call("GET", "/v19/act_shop" + query)).Header("x-fb-api-version").has_value());
}

TEST_F(VersionHeadersTest, TheOldestVersionsAreConfigurable) {
  SimConfig c = SmallConfig(300);
  c.shopify_oldest_version = "2023-01";
  c.meta_oldest_version = "v18.0";
  auto sim = MakeSim(c, &clock_);
  Response r = sim->Handle(Get("/shops/shop/admin/api/2024-01/orders.json"));
  EXPECT_EQ(r.Header("X-Shopify-API-Version"), "2024-01");
  EXPECT_FALSE(r.Header("X-Shopify-API-Deprecated-Reason").has_value());
  EXPECT_EQ(sim->Handle(Call("GET", "/v19.0/act_shop/insights?access_token=sim-token"))
                .Header("x-fb-api-version"),
            "v19.0");
  c.shopify_oldest_version = "2025";
  EXPECT_FALSE(Simulator::Create(c, &clock_).ok());
  c.shopify_oldest_version = "2025-10";
  c.meta_oldest_version = "22.0";
  EXPECT_FALSE(Simulator::Create(c, &clock_).ok());
}

}  // namespace
}  // namespace autosync::storesim
