// Engine.IO / Socket.IO sessions without sockets: polling requests are HttpRequest values, the
// websocket is a recording WsSink, time is ManualTimers. Handshake, held polls, close, overlapping
// polls, the upgrade sequence, heartbeats, connect timeout, CONNECT auth and namespaces.
#include "ws-gateway/eio_session.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSecret[] = "0123456789abcdef-unit";

class RecordingSink final : public WsSink {
 public:
  void Send(std::shared_ptr<const std::string> frame, bool) override { sent.push_back(*frame); }
  void Close(uint16_t code, std::string reason) override { closed = {code, reason}; }
  std::vector<std::string> sent;
  std::optional<std::pair<uint16_t, std::string>> closed;
};

class EioSessionTest : public ::testing::Test {
 protected:
  static SessionLimits Limits() {
    SessionLimits limits;
    limits.ping_interval = absl::Seconds(25);
    limits.ping_timeout = absl::Seconds(20);
    limits.connect_timeout = absl::Seconds(45);
    return limits;
  }

  void TearDown() override {
    server_.CloseAll("test over");
    for (auto& s : scheduler_.streams) {
      if (!s->done) s->End(absl::CancelledError());
    }
    hub_.Shutdown();
  }

  // A request whose answer is captured; nullopt while it is held.
  std::shared_ptr<std::optional<HttpResponse>> Request(const std::string& method,
                                                       const std::string& target,
                                                       const std::string& body = "") {
    auto result = std::make_shared<std::optional<HttpResponse>>();
    HttpRequest request{.method = method, .target = target, .headers = {}, .body = body,
                        .remote_address = "127.0.0.1"};
    server_.HandleHttp(request, [result](HttpResponse res) { *result = std::move(res); });
    return result;
  }
  HttpResponse Now(const std::string& method, const std::string& target,
                   const std::string& body = "") {
    auto result = Request(method, target, body);
    EXPECT_TRUE(result->has_value()) << method << " " << target << " was held";
    return result->value_or(HttpResponse{});
  }

  // Opens a polling session; returns its polling URL.
  std::string Open() {
    HttpResponse open = Now("GET", "/socket.io/?EIO=4&transport=polling");
    EXPECT_THAT(open.body, StartsWith(R"(0{"sid":")"));
    sid_ = open.body.substr(9, open.body.find('"', 9) - 9);
    return "/socket.io/?EIO=4&transport=polling&sid=" + sid_;
  }

  static std::string Token(const std::string& stores) {
    return SignJwtHs256(R"({"alg":"HS256"})",
                        absl::StrCat(R"({"sub":"u","stores":)", stores, R"(,"exp":)",
                                     absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                        kSecret);
  }
  std::string Connect() { return absl::StrCat(R"(40{"token":")", Token(R"("*")"), R"("})"); }

  FakeScheduler scheduler_;
  ManualTimers timers_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics_{*registry_};
  Hub hub_{scheduler_, timers_, &metrics_, {}};
  Authenticator auth_{JwtVerifier(kSecret)};
  OriginPolicy origins_{{}};
  TriggerLimiter limiter_{100, absl::Seconds(1), 100, absl::Seconds(1)};
  Router router_{scheduler_, registry_, metrics_, auth_, origins_, limiter_, {}};
  ClientContext context_{.hub = hub_,
                         .router = router_,
                         .auth = auth_,
                         .metrics = metrics_,
                         .timers = timers_,
                         .run_blocking = [](std::function<void()> f) { f(); },
                         .limits = Limits()};
  EioServer server_{context_};
  std::string sid_;
};

TEST_F(EioSessionTest, HandshakeThenAHeldPollIsAnsweredByTheNextPacket) {
  const std::string url = Open();
  auto held = Request("GET", url);
  EXPECT_FALSE(held->has_value());
  EXPECT_EQ(Now("POST", url, Connect()).body, "ok");
  ASSERT_TRUE(held->has_value());
  EXPECT_THAT((*held)->body, StartsWith(R"(40{"sid":")"));
  EXPECT_THAT((*held)->content_type, HasSubstr("text/plain"));
}

TEST_F(EioSessionTest, QueuedPacketsLeaveTogetherInOnePayload) {
  const std::string url = Open();
  Now("POST", url, Connect() + "\x1e" R"(421["selectStore","a"])");
  HttpResponse poll = Now("GET", url);
  // CONNECT answer and the ack, joined by the record separator.
  EXPECT_THAT(poll.body, HasSubstr("\x1e" R"(431[{"success":true,"storeId":"a"}])"));
}

TEST_F(EioSessionTest, ClientCloseEndsAHeldPollWithANoop) {
  const std::string url = Open();
  auto held = Request("GET", url);
  EXPECT_EQ(Now("POST", url, "1").body, "ok");
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->body, "6");
  HttpResponse after = Now("GET", url);
  EXPECT_EQ(after.status, 400);
  EXPECT_THAT(after.body, HasSubstr(R"("code":1)"));
}

TEST_F(EioSessionTest, OverlappingPollsCloseTheSession) {
  const std::string url = Open();
  auto first = Request("GET", url);
  HttpResponse second = Now("GET", url);
  EXPECT_EQ(second.status, 400);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->body, "1");
  EXPECT_EQ(Now("GET", url).status, 400);
  EXPECT_EQ(server_.session_count(), 0u);
}

TEST_F(EioSessionTest, BadPayloadsAreRefusedAndCloseTheSession) {
  const std::string url = Open();
  EXPECT_EQ(Now("POST", url, "").status, 400);
  EXPECT_EQ(Now("GET", url).status, 400);
  const std::string url2 = Open();
  EXPECT_EQ(Now("POST", url2, std::string(2'000'000, '4')).status, 413);
  EXPECT_EQ(Now("PUT", "/socket.io/?EIO=4&transport=polling").status, 400);
  EXPECT_EQ(Now("GET", "/socket.io/?EIO=4").status, 400);
}

TEST_F(EioSessionTest, UpgradeProbeNoopThenTheWebSocketCarriesTheSession) {
  const std::string url = Open();
  Now("POST", url, Connect() + "\x1e" R"(42["selectStore","a"])");
  EXPECT_THAT(Now("GET", url).body, StartsWith("40{"));
  auto held = Request("GET", url);
  HttpResponse refusal;
  auto handler = server_.HandleUpgrade(
      {.method = "GET", .target = "/socket.io/?EIO=4&transport=websocket&sid=" + sid_,
       .headers = {}, .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  ASSERT_TRUE(handler.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*handler)->OnOpen(sink);
  (*handler)->OnText("2probe");
  ASSERT_EQ(sink->sent.size(), 1u);
  EXPECT_EQ(sink->sent[0], "3probe");
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->body, "6");  // the paused poll ends
  // An event while upgrading waits, then goes out on the websocket once it is complete.
  ASSERT_EQ(scheduler_.streams.size(), 1u);
  v1::WatchEvent status;
  status.mutable_status()->set_is_syncing(true);
  scheduler_.streams[0]->Event(status);
  EXPECT_EQ(sink->sent.size(), 1u);
  (*handler)->OnText("5");
  ASSERT_EQ(sink->sent.size(), 2u);
  EXPECT_THAT(sink->sent[1], StartsWith(R"(42["syncStatus",{"storeId":"a")"));
  EXPECT_EQ(Now("GET", url).status, 400);  // polling is over for this session
  (*handler)->OnText(R"(423["selectStore","b"])");
  EXPECT_EQ(sink->sent.back(), R"(433[{"success":true,"storeId":"b"}])");
}

TEST_F(EioSessionTest, ProbeOutOfOrderClosesTheProbeSocketOnly) {
  const std::string url = Open();
  HttpResponse refusal;
  auto handler = server_.HandleUpgrade(
      {.method = "GET", .target = "/socket.io/?EIO=4&transport=websocket&sid=" + sid_,
       .headers = {}, .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  ASSERT_TRUE(handler.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*handler)->OnOpen(sink);
  (*handler)->OnText("5");
  ASSERT_TRUE(sink->closed.has_value());
  EXPECT_EQ(server_.session_count(), 1u);
  auto unknown = server_.HandleUpgrade(
      {.method = "GET", .target = "/socket.io/?EIO=4&transport=websocket&sid=nope",
       .headers = {}, .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(refusal.body, HasSubstr(R"("code":1)"));
}

TEST_F(EioSessionTest, PingsAndTheirTimeout) {
  const std::string url = Open();
  Now("POST", url, Connect());
  Now("GET", url);
  for (int i = 0; i < 3; ++i) {
    timers_.Advance(absl::Seconds(25));
    EXPECT_EQ(Now("GET", url).body, "2") << i;
    timers_.Advance(absl::Seconds(19));
    Now("POST", url, "3");
  }
  timers_.Advance(absl::Seconds(25));
  EXPECT_EQ(Now("GET", url).body, "2");
  timers_.Advance(absl::Seconds(20));  // no pong
  EXPECT_EQ(Now("GET", url).status, 400);
}

TEST_F(EioSessionTest, SessionsWithoutConnectAreClosedAfterTheConnectTimeout) {
  const std::string url = Open();
  timers_.Advance(absl::Seconds(25));
  Now("GET", url);
  Now("POST", url, "3");
  timers_.Advance(absl::Seconds(20));
  EXPECT_EQ(server_.session_count(), 0u);
}

TEST_F(EioSessionTest, ConnectNeedsAValidTokenAndAKnownNamespace) {
  const std::string url = Open();
  Now("POST", url, "40");
  EXPECT_EQ(Now("GET", url).body, R"(44{"message":"a bearer token is required"})");
  Now("POST", url, R"(40{"token":"x.y.z"})");
  EXPECT_THAT(Now("GET", url).body, StartsWith(R"(44{"message":"invalid token)"));
  Now("POST", url, "40/custom,");
  EXPECT_EQ(Now("GET", url).body, R"(44/custom,{"message":"Invalid namespace"})");
  // Events before a successful CONNECT are ignored.
  Now("POST", url, R"(421["selectStore","a"])");
  EXPECT_TRUE(scheduler_.streams.empty());
  Now("POST", url, Connect());
  EXPECT_THAT(Now("GET", url).body, StartsWith("40{"));
}

TEST_F(EioSessionTest, StoresOutsideTheTokenAreRefusedInTheAck) {
  const std::string url = Open();
  Now("POST", url, absl::StrCat(R"(40{"token":")", Token(R"(["a"])"), R"("})"));
  Now("GET", url);
  Now("POST", url, R"(425["selectStore","b"])" "\x1e" R"(426["triggerManualSync","b"])");
  const std::string body = Now("GET", url).body;
  EXPECT_THAT(body, HasSubstr(R"(435[{"success":false,"error":"selectStore: token does not grant store b"}])"));
  EXPECT_THAT(body, HasSubstr(R"(436[{"success":false,"storeId":"b","code":403)"));
  Now("POST", url, R"(427["triggerManualSync","a"])");
  EXPECT_THAT(Now("GET", url).body, HasSubstr(R"(437[{"success":true,"storeId":"a","runId":"run_fake")"));
}

TEST_F(EioSessionTest, WebSocketOnlySessionSendsOpenFirst) {
  HttpResponse refusal;
  auto handler = server_.HandleUpgrade(
      {.method = "GET", .target = "/socket.io/?EIO=4&transport=websocket", .headers = {},
       .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  ASSERT_TRUE(handler.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*handler)->OnOpen(sink);
  ASSERT_EQ(sink->sent.size(), 1u);
  EXPECT_THAT(sink->sent[0], HasSubstr(R"("upgrades":[])"));
  (*handler)->OnText(Connect());
  EXPECT_THAT(sink->sent.back(), StartsWith("40{"));
  (*handler)->OnText("not a packet");
  ASSERT_TRUE(sink->closed.has_value());
  EXPECT_EQ(server_.session_count(), 0u);
}

}  // namespace
}  // namespace autosync::gateway
