// Engine.IO / Socket.IO sessions without sockets: polling requests are HttpRequest values, the
// websocket is a recording WsSink, time is ManualTimers. Handshake, held polls, close, overlapping
// polls, the upgrade sequence, heartbeats, connect timeout, CONNECT auth and namespaces; and the
// --protocol_conformance profiles (raw Engine.IO echo, Socket.IO echo on / and /custom) with the
// cases of the official protocol test suites.
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"
#include "tests/unit/ws-gateway/recording_sink.h"
#include "ws-gateway/eio_server.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kSecret[] = "0123456789abcdef-unit";

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
    conformance_.CloseAll("test over");
    raw_.CloseAll("test over");
    for (auto& s : scheduler_.streams) {
      if (!s->done) s->End(absl::CancelledError());
    }
    hub_.Shutdown();
  }

  // A request whose answer is captured; nullopt while it is held.
  // The EioServer behind a target's path, as server.cc routes them.
  EioServer& ServerFor(const std::string& target) {
    if (target.starts_with("/engine.io/")) return raw_;
    if (target.find("conformance") != std::string::npos) return conformance_;
    return server_;
  }
  std::shared_ptr<std::optional<HttpResponse>> Request(const std::string& method,
                                                       const std::string& target,
                                                       const std::string& body = "") {
    auto result = std::make_shared<std::optional<HttpResponse>>();
    HttpRequest request{.method = method,
                        .target = target,
                        .headers = {},
                        .body = body,
                        .remote_address = "127.0.0.1"};
    last_poll_id_ = ServerFor(target).HandleHttp(
        request, [result](HttpResponse res) { *result = std::move(res); });
    return result;
  }
  HttpResponse Now(const std::string& method, const std::string& target,
                   const std::string& body = "") {
    auto result = Request(method, target, body);
    EXPECT_TRUE(result->has_value()) << method << " " << target << " was held";
    return result->value_or(HttpResponse{});
  }

  // Opens a polling session; returns its polling URL. `base` picks the server (see ServerFor).
  std::string Open(const std::string& base = "/socket.io/?EIO=4&transport=polling") {
    HttpResponse open = Now("GET", base);
    EXPECT_THAT(open.body, StartsWith(R"(0{"sid":")"));
    sid_ = open.body.substr(9, open.body.find('"', 9) - 9);
    return base + "&sid=" + sid_;
  }

  // A websocket-only session on `target`'s server, opened; the OPEN packet is dropped.
  std::pair<std::shared_ptr<WsHandler>, std::shared_ptr<RecordingSink>> OpenWebSocket(
      const std::string& target) {
    HttpResponse refusal;
    auto handler = ServerFor(target).HandleUpgrade({.method = "GET",
                                                    .target = target,
                                                    .headers = {},
                                                    .body = "",
                                                    .remote_address = "127.0.0.1"},
                                                   &refusal);
    EXPECT_TRUE(handler.ok()) << refusal.body;
    auto sink = std::make_shared<RecordingSink>();
    if (!handler.ok()) return {nullptr, sink};
    (*handler)->OnOpen(sink);
    sink->sent.clear();
    sink->binary_flags.clear();
    return {*handler, sink};
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
  EioServer conformance_{context_, EioProfile::kSocketIoConformance};
  EioServer raw_{context_, EioProfile::kRawEcho};
  std::string sid_;
  uint64_t last_poll_id_ = 0;
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
  Now("POST", url,
      Connect() +
          "\x1e"
          R"(421["selectStore","a"])");
  HttpResponse poll = Now("GET", url);
  // CONNECT answer and the ack, joined by the record separator.
  EXPECT_THAT(poll.body, HasSubstr("\x1e"
                                   R"(431[{"success":true,"storeId":"a"}])"));
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
  Now("POST", url,
      Connect() +
          "\x1e"
          R"(42["selectStore","a"])");
  EXPECT_THAT(Now("GET", url).body, StartsWith("40{"));
  auto held = Request("GET", url);
  HttpResponse refusal;
  auto handler =
      server_.HandleUpgrade({.method = "GET",
                             .target = "/socket.io/?EIO=4&transport=websocket&sid=" + sid_,
                             .headers = {},
                             .body = "",
                             .remote_address = "127.0.0.1"},
                            &refusal);
  ASSERT_TRUE(handler.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*handler)->OnOpen(sink);
  (*handler)->OnText("2probe");
  ASSERT_EQ(sink->sent.size(), 1u);
  EXPECT_EQ(sink->sent[0], "3probe");
  EXPECT_FALSE(held->has_value());
  timers_.Advance(absl::Milliseconds(100));
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
  auto handler =
      server_.HandleUpgrade({.method = "GET",
                             .target = "/socket.io/?EIO=4&transport=websocket&sid=" + sid_,
                             .headers = {},
                             .body = "",
                             .remote_address = "127.0.0.1"},
                            &refusal);
  ASSERT_TRUE(handler.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*handler)->OnOpen(sink);
  (*handler)->OnText("5");
  ASSERT_TRUE(sink->closed.has_value());
  EXPECT_EQ(server_.session_count(), 1u);
  auto unknown = server_.HandleUpgrade({.method = "GET",
                                        .target = "/socket.io/?EIO=4&transport=websocket&sid=nope",
                                        .headers = {},
                                        .body = "",
                                        .remote_address = "127.0.0.1"},
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
  Now("POST", url,
      R"(425["selectStore","b"])"
      "\x1e"
      R"(426["triggerManualSync","b"])");
  const std::string body = Now("GET", url).body;
  EXPECT_THAT(
      body,
      HasSubstr(R"(435[{"success":false,"error":"selectStore: token does not grant store b"}])"));
  EXPECT_THAT(body, HasSubstr(R"(436[{"success":false,"storeId":"b","code":403)"));
  Now("POST", url, R"(427["triggerManualSync","a"])");
  EXPECT_THAT(Now("GET", url).body,
              HasSubstr(R"(437[{"success":true,"storeId":"a","runId":"run_fake")"));
}

TEST_F(EioSessionTest, WebSocketOnlySessionSendsOpenFirst) {
  HttpResponse refusal;
  auto handler = server_.HandleUpgrade({.method = "GET",
                                        .target = "/socket.io/?EIO=4&transport=websocket",
                                        .headers = {},
                                        .body = "",
                                        .remote_address = "127.0.0.1"},
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

// Hub events reach a session only between its CONNECT and its DISCONNECT; on the websocket
// they go to the connection in the order broadcast, on polling they wait for the next GET; each
// one handed on is counted once.
TEST_F(EioSessionTest, BroadcastsReachConnectedSessionsInOrderAndAreCounted) {
  auto [handler, sink] = OpenWebSocket("/socket.io/?EIO=4&transport=websocket");
  ASSERT_NE(handler, nullptr);
  const std::string url = Open();
  Now("POST", url,
      Connect() +
          "\x1e"
          R"(42["selectStore","a"])");
  EXPECT_THAT(Now("GET", url).body, StartsWith("40{"));
  handler->OnText(R"(42["selectStore","a"])");  // before CONNECT: nobody to deliver to
  EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("e", "0")), 1u);  // the polling session only
  handler->OnText(Connect());
  handler->OnText(R"(42["selectStore","a"])");
  sink->sent.clear();
  const double counted = metrics_.messages_sent(Framing::kSocketIo).Value();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("e", absl::StrCat(i))), 2u);
  }
  EXPECT_EQ(sink->sent, (std::vector<std::string>{R"(42["e",1])", R"(42["e",2])", R"(42["e",3])"}));
  EXPECT_EQ(Now("GET", url).body,
            "42[\"e\",0]\x1e"
            "42[\"e\",1]\x1e"
            "42[\"e\",2]\x1e"
            "42[\"e\",3]");
  EXPECT_EQ(metrics_.messages_sent(Framing::kSocketIo).Value(), counted + 6);
  handler->OnText("41");  // DISCONNECT: the websocket session leaves the store
  EXPECT_EQ(hub_.Broadcast("a", EncodeForClients("e", "4")), 1u);
  EXPECT_EQ(sink->sent.size(), 3u);
  EXPECT_EQ(metrics_.messages_sent(Framing::kSocketIo).Value(), counted + 7);
}

// A malformed Socket.IO packet is not a Socket.IO client: the connection closes (as the
// reference server does) with the reason in the close frame.
TEST_F(EioSessionTest, MalformedSocketIoPacketsCloseTheConnection) {
  for (const std::string bad : {"4abc", "42{}", R"(42abc["selectStore","a"])", "45"}) {
    auto [handler, sink] = OpenWebSocket("/socket.io/?EIO=4&transport=websocket");
    handler->OnText(Connect());
    handler->OnText(bad);
    ASSERT_TRUE(sink->closed.has_value()) << bad;
    EXPECT_THAT(sink->closed->second, HasSubstr("invalid Socket.IO packet")) << bad;
  }
  EXPECT_EQ(server_.session_count(), 0u);
  // A well-formed event we do not serve only gets an error event.
  auto [handler, sink] = OpenWebSocket("/socket.io/?EIO=4&transport=websocket");
  handler->OnText(Connect());
  handler->OnText(R"(42["nope"])");
  EXPECT_FALSE(sink->closed.has_value());
  EXPECT_THAT(sink->sent.back(), StartsWith(R"(42["error",{"message":"unknown event)"));
}

// The session dies pingInterval + pingTimeout after the ping was due even when the timer
// thread never gets round to it: the deadline is checked when the client next shows up.
class StalledTimers final : public Timers {
 public:
  void After(absl::Duration, std::function<void()>) override {}
  absl::Time Now() override { return now; }
  absl::Time now = absl::UnixEpoch();
};

TEST_F(EioSessionTest, PongDeadlineHoldsWithoutTheTimerThread) {
  StalledTimers stalled;
  ClientContext context{.hub = hub_,
                        .router = router_,
                        .auth = auth_,
                        .metrics = metrics_,
                        .timers = stalled,
                        .run_blocking = [](std::function<void()> f) { f(); },
                        .limits = Limits()};
  EioServer server(context, EioProfile::kRawEcho);
  auto open = std::make_shared<std::optional<HttpResponse>>();
  server.HandleHttp({.method = "GET",
                     .target = "/engine.io/?EIO=4&transport=polling",
                     .headers = {},
                     .body = "",
                     .remote_address = "127.0.0.1"},
                    [open](HttpResponse r) { *open = std::move(r); });
  ASSERT_TRUE(open->has_value());
  const std::string sid = (*open)->body.substr(9, (*open)->body.find('"', 9) - 9);
  auto post = [&](const std::string& body) {
    HttpResponse out;
    server.HandleHttp({.method = "POST",
                       .target = "/engine.io/?EIO=4&transport=polling&sid=" + sid,
                       .headers = {},
                       .body = body,
                       .remote_address = "127.0.0.1"},
                      [&out](HttpResponse r) { out = std::move(r); });
    return out;
  };
  stalled.now += absl::Seconds(44);  // 25 s interval + 20 s timeout not yet over
  EXPECT_EQ(post("4still here").status, 200);
  stalled.now += absl::Seconds(1);
  EXPECT_EQ(post("4too late").status, 400);
  EXPECT_EQ(server.session_count(), 0u);
}

TEST_F(EioSessionTest, RawEchoReturnsTextAndBinaryTogetherInOnePoll) {
  const std::string url = Open("/engine.io/?EIO=4&transport=polling");
  EXPECT_EQ(Now("POST", url,
                "4hello\x1e"
                "bAQIDBA==")
                .body,
            "ok");
  EXPECT_EQ(Now("GET", url).body,
            "4hello\x1e"
            "bAQIDBA==");
  EXPECT_EQ(Now("POST", url,
                "4test1\x1e"
                "4test2\x1e"
                "4test3")
                .body,
            "ok");
  EXPECT_EQ(Now("GET", url).body,
            "4test1\x1e"
            "4test2\x1e"
            "4test3");
  // No Socket.IO here, so no connect timeout: only missed pongs end a raw session.
  for (int i = 0; i < 3; ++i) {
    timers_.Advance(absl::Seconds(25));
    EXPECT_EQ(Now("GET", url).body, "2");
    EXPECT_EQ(Now("POST", url, "3").body, "ok");
  }
  EXPECT_EQ(raw_.session_count(), 1u);
  EXPECT_EQ(Now("POST", url, "abc").status, 400);
  EXPECT_EQ(Now("GET", url).status, 400);
}

TEST_F(EioSessionTest, RawEchoOverWebSocketKeepsBinaryFramesBinary) {
  auto [handler, sink] = OpenWebSocket("/engine.io/?EIO=4&transport=websocket");
  handler->OnText("4hello");
  handler->OnBinary(std::string("\x01\x02\x03\x04", 4));
  ASSERT_EQ(sink->sent.size(), 2u);
  EXPECT_EQ(sink->sent[0], "4hello");
  EXPECT_FALSE(sink->binary_flags[0]);
  EXPECT_EQ(sink->sent[1], std::string("\x01\x02\x03\x04", 4));
  EXPECT_TRUE(sink->binary_flags[1]);
}

TEST_F(EioSessionTest, AnAbortedHeldPollClosesTheSessionButAnAnsweredOneDoesNot) {
  const std::string url = Open("/engine.io/?EIO=4&transport=polling");
  auto answered = Request("GET", url);
  const uint64_t answered_id = last_poll_id_;
  ASSERT_NE(answered_id, 0u);
  Now("POST", url, "4x");
  ASSERT_TRUE(answered->has_value());
  raw_.AbortPoll(sid_, answered_id);  // too late to matter: it was answered
  EXPECT_EQ(raw_.session_count(), 1u);
  auto held = Request("GET", url);
  raw_.AbortPoll(sid_, last_poll_id_);
  EXPECT_EQ(raw_.session_count(), 0u);
  EXPECT_EQ(Now("GET", url).status, 400);
}

TEST_F(EioSessionTest, ASessionTakesOneWebSocketOnly) {
  const std::string url = Open("/engine.io/?EIO=4&transport=polling");
  const std::string ws = "/engine.io/?EIO=4&transport=websocket&sid=" + sid_;
  HttpResponse refusal;
  auto first = raw_.HandleUpgrade(
      {.method = "GET", .target = ws, .headers = {}, .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  ASSERT_TRUE(first.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*first)->OnOpen(sink);
  (*first)->OnText("2probe");
  (*first)->OnText("5");
  EXPECT_EQ(Now("GET", url).status, 400);
  auto second = raw_.HandleUpgrade(
      {.method = "GET", .target = ws, .headers = {}, .body = "", .remote_address = "127.0.0.1"},
      &refusal);
  ASSERT_TRUE(second.ok());
  auto second_sink = std::make_shared<RecordingSink>();
  (*second)->OnOpen(second_sink);
  ASSERT_TRUE(second_sink->closed.has_value());
  EXPECT_THAT(second_sink->closed->second, HasSubstr("already has a websocket"));
  (*first)->OnText("4hello");
  EXPECT_EQ(sink->sent.back(), "4hello");
}

TEST_F(EioSessionTest, APollDuringAnUpgradeIsHeldThenAnsweredForTheWinningTransport) {
  const std::string url = Open("/engine.io/?EIO=4&transport=polling");
  HttpResponse refusal;
  auto ws = raw_.HandleUpgrade({.method = "GET",
                                .target = "/engine.io/?EIO=4&transport=websocket&sid=" + sid_,
                                .headers = {},
                                .body = "",
                                .remote_address = "127.0.0.1"},
                               &refusal);
  ASSERT_TRUE(ws.ok());
  auto sink = std::make_shared<RecordingSink>();
  (*ws)->OnOpen(sink);
  (*ws)->OnText("2probe");
  // Still upgrading 100 ms later: a noop, so the client can pause polling.
  auto paused = Request("GET", url);
  EXPECT_FALSE(paused->has_value());
  timers_.Advance(absl::Milliseconds(100));
  ASSERT_TRUE(paused->has_value());
  EXPECT_EQ((*paused)->body, "6");
  // A poll racing the client's `5`: refused once the websocket has taken over.
  auto racing = Request("GET", url);
  EXPECT_FALSE(racing->has_value());
  (*ws)->OnText("5");
  ASSERT_TRUE(racing->has_value());
  EXPECT_EQ((*racing)->status, 400);
  (*ws)->OnText("4hello");
  EXPECT_EQ(sink->sent.back(), "4hello");
}

TEST_F(EioSessionTest, ConformanceNamespacesAnswerConnectThenAuth) {
  const std::string ws = "/socket.io/?EIO=4&transport=websocket&conformance";
  auto [handler, sink] = OpenWebSocket(ws);
  handler->OnText("40");
  ASSERT_EQ(sink->sent.size(), 1u);  // the auth event follows a moment later (see the profile)
  timers_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(sink->sent.size(), 2u);
  EXPECT_THAT(sink->sent[0], StartsWith(R"(40{"sid":")"));
  EXPECT_EQ(sink->sent[1], R"(42["auth",{}])");
  handler->OnText(R"(40/custom,{"token":"abc"})");
  timers_.Advance(absl::Milliseconds(20));
  ASSERT_EQ(sink->sent.size(), 4u);
  EXPECT_THAT(sink->sent[2], StartsWith(R"(40/custom,{"sid":")"));
  EXPECT_EQ(sink->sent[3], R"(42/custom,["auth",{"token":"abc"}])");
  handler->OnText("40/random");
  EXPECT_EQ(sink->sent.back(), R"(44/random,{"message":"Invalid namespace"})");
  // Leaving /custom stops its echo; the main namespace goes on.
  handler->OnText("41/custom");
  handler->OnText(R"(42/custom,["message","x"])");
  handler->OnText(R"(42["message","to main"])");
  EXPECT_EQ(sink->sent.back(), R"(42["message-back","to main"])");
  EXPECT_EQ(sink->sent.size(), 6u);
  EXPECT_FALSE(sink->closed.has_value());
}

TEST_F(EioSessionTest, ConformanceEchoesMessagesAndAcksWithBinaryAttachments) {
  const std::string ws = "/socket.io/?EIO=4&transport=websocket&conformance";
  auto [handler, sink] = OpenWebSocket(ws);
  handler->OnText("40");
  timers_.Advance(absl::Milliseconds(20));
  sink->sent.clear();
  sink->binary_flags.clear();
  handler->OnText(R"(42["message",1,"2",{"3":[true]}])");
  EXPECT_EQ(sink->sent.back(), R"(42["message-back",1,"2",{"3":[true]}])");
  handler->OnText(R"(42456["message-with-ack",1,"2",{"3":[false]}])");
  EXPECT_EQ(sink->sent.back(), R"(43456[1,"2",{"3":[false]}])");
  const std::string a("\x01\x02\x03", 3), b("\x04\x05\x06", 3);
  sink->sent.clear();
  sink->binary_flags.clear();
  handler->OnText(R"(452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  handler->OnBinary(a);
  handler->OnBinary(b);
  ASSERT_EQ(sink->sent.size(), 3u);
  EXPECT_EQ(sink->sent[0],
            R"(452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(sink->sent[1], a);
  EXPECT_EQ(sink->sent[2], b);
  EXPECT_EQ(sink->binary_flags, (std::vector<bool>{false, true, true}));
  handler->OnText(
      R"(452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  handler->OnBinary(a);
  handler->OnBinary(b);
  ASSERT_EQ(sink->sent.size(), 6u);
  EXPECT_EQ(sink->sent[3],
            R"(462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(sink->sent[4], a);
  EXPECT_EQ(sink->sent[5], b);
}

TEST_F(EioSessionTest, ConformanceBinaryEchoOverPollingIsBase64) {
  const std::string url = Open("/socket.io/?EIO=4&transport=polling&conformance");
  Now("POST", url, "40");
  timers_.Advance(absl::Milliseconds(20));
  EXPECT_THAT(Now("GET", url).body, HasSubstr("\x1e"
                                              R"(42["auth",{}])"));
  Now("POST", url,
      "451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1e"
      "bAQID");
  EXPECT_EQ(Now("GET", url).body,
            "451-[\"message-back\",{\"_placeholder\":true,\"num\":0}]\x1e"
            "bAQID");
}

}  // namespace
}  // namespace autosync::gateway
