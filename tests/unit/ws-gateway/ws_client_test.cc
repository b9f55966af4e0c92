// The plain `/ws` client against the fake scheduler: selectStore subscribes the client to the
// store's events, triggerManualSync answers with `triggerResult`, and bad frames, unknown
// commands and refusals answer with `error` events whose texts the dashboard shows.
#include "ws-gateway/ws_client.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"
#include "tests/unit/ws-gateway/recording_sink.h"
#include "ws-gateway/client_commands.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSecret[] = "ws-client-test-secret-0123456789";

class WsClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // `/ws` speaks JSON text only.
    for (bool binary : sink_->binary_flags) EXPECT_FALSE(binary);
    if (client_) client_->OnClosed();
    for (auto& s : scheduler_.streams) {
      if (!s->done) s->End(absl::CancelledError());
    }
    hub_.Shutdown();
  }

  // Opens a client whose token has `role` and `stores` (a JSON value).
  void Open(const std::string& role = "operator", const std::string& stores = R"("*")") {
    const std::string token =
        SignJwtHs256(R"({"alg":"HS256"})",
                     absl::StrCat(R"({"sub":"u1","stores":)", stores, R"(,"role":")", role,
                                  R"(","exp":)", absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                     kSecret);
    absl::StatusOr<JwtClaims> claims = auth_.Authenticate(token, absl::Now());
    ASSERT_TRUE(claims.ok()) << claims.status();
    client_ = std::make_shared<PlainWsClient>(context_, *std::move(claims), "sub:u1", "10.0.0.7");
    client_->OnOpen(sink_);
  }
  void Text(const std::string& frame) { client_->OnText(frame); }
  static std::string Error(const std::string& message_json) {
    return absl::StrCat(R"({"event":"error","data":{"message":)", message_json, "}}");
  }
  double ProtocolErrors() {
    for (const auto& family : registry_->Collect()) {
      if (family.name == "autosync_gateway_protocol_errors_total")
        return family.metric[0].counter.value;
    }
    return -1;
  }

  FakeScheduler scheduler_;
  ManualTimers timers_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics_{*registry_};
  Hub hub_{scheduler_, timers_, &metrics_, {}};
  Authenticator auth_{JwtVerifier(kSecret)};
  OriginPolicy origins_{{}};
  TriggerLimiter limiter_{100, absl::Seconds(1), 100, absl::Seconds(1)};
  Router router_{scheduler_, registry_, metrics_, auth_, origins_, limiter_, {}};
  SessionLimits limits_{.max_protocol_errors = 3};
  ClientContext context_{.hub = hub_,
                         .router = router_,
                         .auth = auth_,
                         .metrics = metrics_,
                         .timers = timers_,
                         .run_blocking = [](std::function<void()> f) { f(); },
                         .limits = limits_};
  std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
  std::shared_ptr<PlainWsClient> client_;
};

TEST_F(WsClientTest, SelectStoreSubscribesTheClientToThatStoresEvents) {
  Open("viewer");
  Text(R"({"event":"selectStore","data":"shop-1"})");
  EXPECT_TRUE(sink_->sent.empty());  // selectStore has no answer of its own on /ws
  ASSERT_EQ(scheduler_.streams.size(), 1u);
  EXPECT_EQ(scheduler_.streams[0]->store, "shop-1");

  v1::WatchEvent event;
  event.set_store_id("shop-1");
  event.mutable_progress()->set_store_id("shop-1");
  event.mutable_progress()->set_run_id("run_1");
  event.mutable_progress()->set_stage(v1::STAGE_ORDERS);
  scheduler_.streams[0]->Event(event);
  ASSERT_EQ(sink_->sent.size(), 1u);
  EXPECT_THAT(sink_->sent[0], StartsWith(R"({"event":"autoSyncProgress","data":{)"));
  EXPECT_THAT(sink_->sent[0], HasSubstr(R"("runId":"run_1")"));

  // The object form selects too, and moves the subscription.
  Text(R"({"event":"selectStore","data":{"storeId":"shop-2"}})");
  ASSERT_EQ(scheduler_.streams.size(), 2u);
  EXPECT_EQ(scheduler_.streams[1]->store, "shop-2");
}

TEST_F(WsClientTest, SelectStoreRefusalsSayWhatWasWrong) {
  Open("viewer", R"(["shop-1"])");
  Text(R"({"event":"selectStore","data":42})");
  Text(R"({"event":"selectStore","data":{"id":"shop-1"}})");
  Text(R"({"event":"selectStore","data":"shop-2"})");
  ASSERT_EQ(sink_->sent.size(), 3u);
  EXPECT_EQ(sink_->sent[0],
            Error(R"("selectStore: expected a store id string or {\"storeId\": \"<id>\"}")"));
  EXPECT_EQ(sink_->sent[1], Error(R"("selectStore: expected {\"storeId\": \"<id>\"}")"));
  EXPECT_THAT(sink_->sent[2], StartsWith(R"({"event":"error","data":{"message":"selectStore: )"));
  EXPECT_THAT(sink_->sent[2], HasSubstr("shop-2"));
  EXPECT_TRUE(scheduler_.streams.empty());
  EXPECT_EQ(ProtocolErrors(), 3);
}

TEST_F(WsClientTest, TriggerManualSyncUsesTheGivenOrSelectedStoreAndAnswersTriggerResult) {
  Open("operator");
  Text(R"({"event":"triggerManualSync"})");
  ASSERT_EQ(sink_->sent.size(), 1u);
  EXPECT_EQ(sink_->sent[0], Error(R"("triggerManualSync: no store given or selected")"));
  EXPECT_TRUE(scheduler_.triggers.empty());

  Text(R"({"event":"selectStore","data":"shop-1"})");
  Text(R"({"event":"triggerManualSync","data":null})");
  Text(R"({"event":"triggerManualSync","data":{"storeId":"shop-2"}})");
  ASSERT_EQ(sink_->sent.size(), 3u);
  EXPECT_EQ(sink_->sent[1], R"({"event":"triggerResult","data":{"success":true,"storeId":"shop-1",)"
                            R"("runId":"run_fake","started":true,)"
                            R"("message":"Manual sync triggered for store: shop-1"}})");
  EXPECT_THAT(sink_->sent[2], HasSubstr(R"("storeId":"shop-2")"));
  ASSERT_EQ(scheduler_.triggers.size(), 2u);
  EXPECT_EQ(scheduler_.triggers[0].store_id(), "shop-1");
  EXPECT_EQ(scheduler_.triggers[1].store_id(), "shop-2");
  EXPECT_EQ(scheduler_.triggers[0].trigger(), v1::TRIGGER_MANUAL);

  // A run already in flight is an answer too, not an error.
  scheduler_.trigger_started = false;
  Text(R"({"event":"triggerManualSync","data":"shop-1"})");
  ASSERT_EQ(sink_->sent.size(), 4u);
  EXPECT_EQ(sink_->sent[3],
            R"({"event":"triggerResult","data":{"success":false,"storeId":"shop-1",)"
            R"("runId":"run_fake","started":false,)"
            R"("message":"A sync is already running for store: shop-1"}})");

  Text(R"({"event":"triggerManualSync","data":"Bad Id"})");
  ASSERT_EQ(sink_->sent.size(), 5u);
  EXPECT_THAT(sink_->sent[4],
              StartsWith(R"({"event":"error","data":{"message":"triggerManualSync: )"));
}

TEST_F(WsClientTest, ARefusedTriggerAnswersInTheTriggersShapeWithItsCode) {
  Open("viewer");
  Text(R"({"event":"triggerManualSync","data":"shop-1"})");
  ASSERT_EQ(sink_->sent.size(), 1u);
  EXPECT_THAT(sink_->sent[0],
              StartsWith(R"({"event":"triggerResult","data":{"success":false,"storeId":"shop-1",)"
                         R"("code":403,"error":")"));
  EXPECT_TRUE(scheduler_.triggers.empty());

  Open("operator");
  scheduler_.trigger_error = absl::UnavailableError("scheduler down");
  Text(R"({"event":"triggerManualSync","data":"shop-1"})");
  ASSERT_EQ(sink_->sent.size(), 2u);
  EXPECT_EQ(sink_->sent[1],
            R"({"event":"triggerResult","data":{"success":false,"storeId":"shop-1",)"
            R"("code":503,"error":"scheduler down"}})");
}

TEST_F(WsClientTest, BadJsonAndUnknownCommandsAreErrorsThenTooManyCloseTheConnection) {
  Open();
  Text("{not json");
  Text(R"({"event":"deleteEverything","data":1})");
  ASSERT_EQ(sink_->sent.size(), 2u);
  EXPECT_THAT(sink_->sent[0], StartsWith(R"({"event":"error","data":{"message":")"));
  EXPECT_EQ(
      sink_->sent[1],
      Error(
          R"js("unknown event \"deleteEverything\" (expected selectStore or triggerManualSync)")js"));
  EXPECT_FALSE(sink_->closed.has_value());
  Text("[]");
  EXPECT_FALSE(sink_->closed.has_value());  // three tolerated (max_protocol_errors)
  Text("");
  ASSERT_TRUE(sink_->closed.has_value());
  EXPECT_EQ(sink_->closed->first, kClosePolicy);
  EXPECT_EQ(sink_->closed->second, "too many bad frames");
}

TEST_F(WsClientTest, BinaryFramesCloseWithUnsupportedData) {
  Open();
  client_->OnBinary("\x01\x02");
  ASSERT_TRUE(sink_->closed.has_value());
  EXPECT_EQ(sink_->closed->first, kCloseUnsupported);
}

TEST(ClientCommandsTest, ParseStoreArgumentTakesAStringOrAnObjectWithStoreId) {
  EXPECT_EQ(ParseStoreArgument(R"("shop-1")").value_or(""), "shop-1");
  EXPECT_EQ(ParseStoreArgument(R"({"storeId":"shop-1"})").value_or(""), "shop-1");
  EXPECT_FALSE(ParseStoreArgument("null").ok());
  EXPECT_FALSE(ParseStoreArgument(R"("Bad Id")").ok());
  EXPECT_FALSE(ParseStoreArgument(std::string(5000, ' ')).ok());
}

}  // namespace
}  // namespace autosync::gateway
