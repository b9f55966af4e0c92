// Fault switches and the admin routes, through Simulator::Handle().
#include "tools/store-sim/faults.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/http_types.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::Get;
using testing::MakeSim;
using testing::OrdersPath;
using testing::ParseJson;
using testing::SmallConfig;

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSim(SmallConfig(), &clock_); }

  void SetFaults(const std::string& json) {
    Response r = sim_->Handle(Call("POST", "/_sim/faults", json));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Response Page() { return sim_->Handle(Get(OrdersPath("shop", "status=any&limit=10"))); }
  Response Insights() {
    return sim_->Handle(
        Call("GET", "/v19.0/act_shop/insights?access_token=sim-token&level=campaign"));
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(FaultsTest, Fail5xxEveryNthRequestAlternates500And503) {
  SetFaults(R"({"fail_5xx_every":3})");
  std::vector<int> statuses;
  for (int i = 0; i < 7; ++i) statuses.push_back(Page().status);
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 500, 200, 200, 503, 200}));
  // Insights requests count too.
  EXPECT_EQ(Insights().status, 200);
  EXPECT_EQ(Insights().status, 500);
}

TEST_F(FaultsTest, Burst429RefusesTheNextNWithRetryAfter) {
  SetFaults(R"({"burst_429":2})");
  Response a = Page();
  EXPECT_EQ(a.status, 429);
  EXPECT_EQ(a.Header("Retry-After"), "2.0");
  EXPECT_TRUE(a.Header("X-Shopify-Shop-Api-Call-Limit").has_value());
  EXPECT_EQ(Page().status, 429);
  EXPECT_EQ(Page().status, 200);
}

TEST_F(FaultsTest, DropConnectionOnTheNthPageOnly) {
  SetFaults(R"({"drop_connection_on_page":2})");
  EXPECT_FALSE(Page().drop_connection);
  EXPECT_TRUE(Page().drop_connection);
  EXPECT_FALSE(Page().drop_connection);
}

TEST_F(FaultsTest, TruncatePageCutsTheBodyInHalf) {
  Response whole = Page();
  SetFaults(R"({"truncate_page":1})");
  Response cut = Page();
  EXPECT_EQ(cut.status, 200);
  EXPECT_EQ(cut.body.size(), whole.body.size() / 2);
  EXPECT_FALSE(ParseJson(cut.body)->ok);
  EXPECT_TRUE(ParseJson(Page().body)->ok);
}

TEST_F(FaultsTest, MalformedPageIsNotJson) {
  SetFaults(R"({"malformed_page":2})");
  EXPECT_TRUE(ParseJson(Page().body)->ok);
  Response bad = Page();
  EXPECT_EQ(bad.status, 200);
  EXPECT_FALSE(ParseJson(bad.body)->ok);
  EXPECT_TRUE(ParseJson(Page().body)->ok);
}

TEST_F(FaultsTest, AdsThrottleAnswersMetaCode80000ThenRecovers) {
  SetFaults(R"({"ads_throttle":2})");
  for (int i = 0; i < 2; ++i) {
    Response r = Insights();
    EXPECT_EQ(r.status, 400);
    auto j = ParseJson(r.body);
    int64_t code = 0, sub = 0;
    EXPECT_EQ(j->root["error"]["code"].get(code), simdjson::SUCCESS);
    EXPECT_EQ(code, 80000);
    EXPECT_EQ(j->root["error"]["error_subcode"].get(sub), simdjson::SUCCESS);
    EXPECT_EQ(sub, 2446079);
    EXPECT_NE(r.Header("x-business-use-case-usage")->find("\"call_count\":100"), std::string::npos);
  }
  EXPECT_EQ(Insights().status, 200);
  // Orders are not affected.
  EXPECT_EQ(Page().status, 200);
}

TEST_F(FaultsTest, LatencyIsAskedOfTheServer) {
  SetFaults(R"({"latency_ms":150})");
  EXPECT_EQ(Page().delay_ms, 150);
  EXPECT_EQ(Insights().delay_ms, 150);
  EXPECT_EQ(sim_->Handle(Call("GET", "/_sim/health")).delay_ms, 0);
}

TEST_F(FaultsTest, SettingASwitchRestartsItsCounter) {
  SetFaults(R"({"drop_connection_on_page":2})");
  EXPECT_FALSE(Page().drop_connection);
  SetFaults(R"({"drop_connection_on_page":2})");  // re-armed: the next page is #1 again
  EXPECT_FALSE(Page().drop_connection);
  EXPECT_TRUE(Page().drop_connection);
}

TEST_F(FaultsTest, GetShowsAndDeleteClearsTheSwitches) {
  SetFaults(R"({"fail_5xx_every":5,"burst_429":1})");
  Response got = sim_->Handle(Call("GET", "/_sim/faults"));
  auto j = ParseJson(got.body);
  int64_t every = 0;
  ASSERT_EQ(j->root["fail_5xx_every"].get(every), simdjson::SUCCESS);
  EXPECT_EQ(every, 5);
  EXPECT_EQ(sim_->Handle(Call("DELETE", "/_sim/faults")).status, 200);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Page().status, 200);
}

TEST_F(FaultsTest, BadFaultBodiesAreRefusedAndChangeNothing) {
  EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"fail_5xx_evry":1})")).status, 400);
  EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"burst_429":-1})")).status, 400);
  EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"burst_429":"x"})")).status, 400);
  EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/faults", "not json")).status, 400);
  EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"burst_429":1,"nope":2})")).status, 400);
  EXPECT_EQ(Page().status, 200);
}

TEST_F(FaultsTest, FaultFlagsApplyFromTheStart) {
  SimConfig c = SmallConfig(300);
  c.faults.burst_429 = 1;
  auto sim = MakeSim(c, &clock_);
  EXPECT_EQ(sim->Handle(Get(OrdersPath("shop", ""))).status, 429);
  EXPECT_EQ(sim->Handle(Get(OrdersPath("shop", ""))).status, 200);
}

class AdminTest : public FaultsTest {};

TEST_F(AdminTest, SummaryMatchesTheLibraryChecksum) {
  Response r = sim_->Handle(Call("GET", "/_sim/stores/shop/summary"));
  ASSERT_EQ(r.status, 200);
  StoreData::Summary s = sim_->FindStore("shop")->Summarize();
  EXPECT_EQ(r.body,
            absl::StrCat("{\"count\":3000,\"checksum\":\"", ChecksumHex(s.checksum), "\"}"));
  EXPECT_EQ(sim_->Handle(Call("GET", "/_sim/stores/nope/summary")).status, 404);
}

TEST_F(AdminTest, TickIsDeterministicAcrossSimulators) {
  FakeClock other_clock;
  auto other = MakeSim(SmallConfig(), &other_clock);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sim_->Handle(Call("POST", "/_sim/stores/shop/tick")).status, 200);
  }
  EXPECT_EQ(other->Handle(Call("POST", "/_sim/stores/shop/tick?steps=3")).status, 200);
  Response a = sim_->Handle(Call("GET", "/_sim/stores/shop/summary"));
  Response b = other->Handle(Call("GET", "/_sim/stores/shop/summary"));
  EXPECT_EQ(a.body, b.body);
  EXPECT_NE(a.body,
            MakeSim(SmallConfig(), &clock_)->Handle(Call("GET", "/_sim/stores/shop/summary")).body);
  EXPECT_EQ(sim_->Handle(Call("GET", "/_sim/stores/shop/tick")).status, 405);
}

TEST_F(AdminTest, StoresListsEveryStoreWithItsBase) {
  Response r = sim_->Handle(Call("GET", "/_sim/stores"));
  ASSERT_EQ(r.status, 200);
  auto j = ParseJson(r.body);
  ASSERT_TRUE(j->ok);
  auto stores = j->root["stores"].get_array();
  ASSERT_EQ(stores.size(), 2u);
  std::string_view base;
  ASSERT_EQ(stores.at(0)["orders_api_base"].get(base), simdjson::SUCCESS);
  EXPECT_EQ(base, "http://127.0.0.1:8090/shops/shop");
  EXPECT_EQ(sim_->Handle(Call("GET", "/_sim/health")).status, 200);
}

}  // namespace
}  // namespace autosync::storesim
