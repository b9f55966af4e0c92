// ws-gateway end to end: the real binary in front of an in-process fake scheduler. HTTP routes
// and their errors, the plain /ws protocol, store isolation, slow consumers, auth refusals.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/fake_scheduler.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/process.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = autosync::v1;

constexpr char kSecret[] = "test-secret-0123456789";

class GatewayTest : public GatewayFixture {
 protected:
  GatewayTest() {
    base_args_ = {"--upstream_timeout_ms=2000"};
    stop_timeout_ = absl::Seconds(10);
  }
  std::set<std::string> Stores() const override { return {"buycosari", "other", "a", "b"}; }

  std::string SecretFile() {
    const std::string path = absl::StrCat(::testing::TempDir(), "/jwt-secret-", getpid());
    std::ofstream(path) << kSecret << "\n";
    return path;
  }

  static std::string Token(const std::string& stores_json, int64_t exp_offset = 3600) {
    return gateway::SignJwtHs256(
        R"({"alg":"HS256","typ":"JWT"})",
        absl::StrCat(R"({"sub":"tester","stores":)", stores_json, R"(,"exp":)",
                     absl::ToUnixSeconds(absl::Now()) + exp_offset, "}"),
        kSecret);
  }

  std::unique_ptr<WsTestClient> WsConnect(const std::string& target = "/ws") {
    auto client = WsTestClient::Connect(port_, target);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Connects to /ws, selects `store` and waits for its first syncStatus.
  std::unique_ptr<WsTestClient> Watcher(const std::string& store) {
    auto client = WsConnect();
    if (!client) return nullptr;
    EXPECT_TRUE(
        client->SendText(absl::StrCat(R"({"event":"selectStore","data":")", store, R"("})")).ok());
    auto status = client->ReadUntil("\"syncStatus\"");
    EXPECT_TRUE(status.ok()) << status.status();
    return client;
  }
};

TEST_F(GatewayTest, HealthSaysDevModeAndServing) {
  StartGateway();
  auto res = HttpGet(Url("/health"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("\"status\":\"ok\""));
  EXPECT_THAT(res->body, HasSubstr("\"devMode\":true"));
  EXPECT_THAT(gateway_->Output(), HasSubstr("DEV MODE"));
}

TEST_F(GatewayTest, StatusRouteHasThePrototypeShape) {
  StartGateway();
  auto res = HttpGet(Url("/api/sync/status/buycosari"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr(R"({"success":true,"storeId":"buycosari","status":{)"));
  EXPECT_THAT(res->body, HasSubstr(R"("isSyncing":false)"));
  EXPECT_THAT(res->body, HasSubstr(R"("hasCronJob":true)"));
  EXPECT_THAT(res->body, HasSubstr(R"("activeConnections":0)"));
  EXPECT_THAT(res->body, ::testing::ContainsRegex(
                             R"("timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z")"));
}

TEST_F(GatewayTest, TriggerRouteStartsARunAndAnswers409WhileOneIsInFlight) {
  StartGateway();
  auto res = HttpPost(Url("/api/test/trigger-sync/buycosari"), "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(
      res->body,
      HasSubstr(R"({"success":true,"message":"Manual sync triggered for store: buycosari")"));
  EXPECT_THAT(res->body, HasSubstr(R"("runId":"run_)"));
  EXPECT_THAT(res->body, HasSubstr(R"("started":true)"));
  EXPECT_EQ(fake_->triggers(), 1);
  fake_->SetRunInFlight(true);
  res = HttpPost(Url("/api/test/trigger-sync/buycosari"), "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 409);
  EXPECT_THAT(res->body, HasSubstr(R"("success":false)"));
  EXPECT_THAT(res->body, HasSubstr(R"("started":false)"));
}

TEST_F(GatewayTest, DashboardRoutes) {
  StartGateway();
  auto stores = HttpGet(Url("/api/stores"));
  ASSERT_TRUE(stores.ok());
  EXPECT_EQ(stores->status, 200);
  EXPECT_THAT(stores->body, HasSubstr(R"({"success":true,"stores":[)"));
  EXPECT_THAT(stores->body, HasSubstr(R"("storeId":"buycosari")"));
  auto ltv = HttpGet(Url("/api/stores/buycosari/ltv"));
  ASSERT_TRUE(ltv.ok());
  EXPECT_EQ(ltv->status, 200);
  EXPECT_THAT(ltv->body, HasSubstr(R"("cohortMonth":"2024-01")"));
  EXPECT_THAT(ltv->body, HasSubstr(R"("currency":"USD")"));
  auto runs = HttpGet(Url("/api/stores/buycosari/runs?pageSize=5"));
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->status, 200);
  EXPECT_THAT(runs->body, HasSubstr(R"("runs":[{)"));
  EXPECT_THAT(runs->body, HasSubstr(R"("stage":"completed")"));
  EXPECT_THAT(runs->body, HasSubstr(R"("trigger":"cron")"));
  EXPECT_THAT(runs->body, HasSubstr(R"("storeId":"buycosari")"));
  auto bad_page = HttpGet(Url("/api/stores/buycosari/runs?pageSize=-1"));
  ASSERT_TRUE(bad_page.ok());
  EXPECT_EQ(bad_page->status, 400);
}

TEST_F(GatewayTest, ErrorsMapToStatusCodes) {
  StartGateway({"--store_triggers_per_minute=2"});
  auto bad = HttpGet(Url("/api/sync/status/Bad.Id"));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr(R"({"success":false,"error":")"));
  auto unknown = HttpGet(Url("/api/sync/status/nosuchstore"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404);
  auto no_route = HttpGet(Url("/api/nothing"));
  ASSERT_TRUE(no_route.ok());
  EXPECT_EQ(no_route->status, 404);
  auto method = HttpGet(Url("/api/test/trigger-sync/buycosari"));
  ASSERT_TRUE(method.ok());
  EXPECT_EQ(method->status, 405);
  // Rate limit: two per minute per store.
  EXPECT_EQ(HttpPost(Url("/api/test/trigger-sync/other"), "")->status, 200);
  EXPECT_EQ(HttpPost(Url("/api/test/trigger-sync/other"), "")->status, 200);
  auto limited = HttpPost(Url("/api/test/trigger-sync/other"), "");
  EXPECT_EQ(limited->status, 429);
  EXPECT_THAT(limited->body, HasSubstr("too many"));
  // Upstream down.
  fake_->SetUnaryError(absl::UnavailableError("database down"));
  auto down = HttpGet(Url("/api/sync/status/buycosari"));
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->status, 503);
  EXPECT_THAT(down->body, HasSubstr("database down"));
}

TEST_F(GatewayTest, HealthIs503WhenTheSchedulerIsGone) {
  StartGateway();
  fake_.reset();
  auto res = HttpGet(Url("/health"));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 503);
  EXPECT_THAT(res->body, HasSubstr("\"reason\""));
  fake_ = std::make_unique<FakeScheduler>(std::set<std::string>{});
}

TEST_F(GatewayTest, ServesStaticFilesFromWebRoot) {
  const std::string root = absl::StrCat(::testing::TempDir(), "/web-", getpid());
  std::filesystem::create_directories(root);
  std::ofstream(root + "/index.html") << "<html>hello dashboard</html>";
  StartGateway({"--web_root=" + root});
  auto index = HttpGet(Url("/"));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->body, HasSubstr("hello dashboard"));
  EXPECT_THAT(index->content_type, HasSubstr("text/html"));
  EXPECT_EQ(HttpGet(Url("/../../etc/passwd"))->status, 404);
  EXPECT_EQ(HttpGet(Url("/missing.js"))->status, 404);
}

TEST_F(GatewayTest, PlainWsClientReceivesATriggeredRunInOrder) {
  StartGateway();
  auto client = Watcher("buycosari");
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendText(R"({"event":"triggerManualSync","data":"buycosari"})").ok());
  std::vector<std::string> stages;
  while (stages.size() < 5) {
    auto message = client->Read();
    ASSERT_TRUE(message.ok()) << message.status();
    if (message->find("\"autoSyncProgress\"") == std::string::npos) continue;
    EXPECT_THAT(*message, HasSubstr(R"("storeId":"buycosari")"));
    EXPECT_THAT(*message, HasSubstr(R"("runId":"run_)"));
    const size_t at = message->find("\"stage\":\"");
    ASSERT_NE(at, std::string::npos);
    stages.push_back(message->substr(at + 9, message->find('"', at + 9) - at - 9));
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"starting", "orders", "ads", "ltv", "completed"}));
  auto status = client->ReadUntil("\"syncStatus\"");
  ASSERT_TRUE(status.ok());
  EXPECT_THAT(*status, HasSubstr(R"("storeId":"buycosari")"));
  EXPECT_THAT(*status, HasSubstr(R"("isSyncing":false)"));
}

TEST_F(GatewayTest, SelectStoreAcceptsAnObjectAndTriggerAnswers) {
  StartGateway();
  auto client = WsConnect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":{"storeId":"a"}})").ok());
  ASSERT_TRUE(client->ReadUntil("\"syncStatus\"").ok());
  // No data: the selected store.
  ASSERT_TRUE(client->SendText(R"({"event":"triggerManualSync"})").ok());
  auto result = client->ReadUntil("\"triggerResult\"");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(*result, HasSubstr(R"("success":true)"));
  EXPECT_THAT(*result, HasSubstr(R"("storeId":"a")"));
}

TEST_F(GatewayTest, ClientOfStoreANeverSeesStoreBEvents) {
  StartGateway();
  auto a = Watcher("a");
  auto b = Watcher("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(fake_->WaitForWatchers("b", 1, absl::Seconds(5)));
  for (int i = 0; i < 20; ++i) {
    fake_->PublishProgress("b", "run_b", v1::STAGE_ORDERS, i, absl::StrCat("b event ", i));
  }
  fake_->PublishProgress("a", "run_a", v1::STAGE_ORDERS, 1, "a event");
  auto first = a->Read();
  ASSERT_TRUE(first.ok());
  // Events of one store come in order, so everything before "a event" would have been b's.
  EXPECT_THAT(*first, HasSubstr("a event"));
  EXPECT_THAT(*first, Not(HasSubstr("run_b")));
  auto last_b = b->ReadUntil("b event 19");
  EXPECT_TRUE(last_b.ok());
}

TEST_F(GatewayTest, SwitchingStoresStopsTheOldStoresEvents) {
  StartGateway();
  auto client = Watcher("a");
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"b"})").ok());
  ASSERT_TRUE(client->ReadUntil("\"storeId\":\"b\"").ok());
  // The old store's upstream is closed once nobody watches it.
  EXPECT_TRUE(fake_->WaitForWatchers("a", 0, absl::Seconds(5)));
  fake_->PublishProgress("a", "run_a", v1::STAGE_ORDERS, 1, "a event");
  fake_->PublishProgress("b", "run_b", v1::STAGE_ORDERS, 1, "b event");
  auto next = client->ReadUntil("autoSyncProgress");
  ASSERT_TRUE(next.ok());
  EXPECT_THAT(*next, HasSubstr("b event"));
}

TEST_F(GatewayTest, BadFramesGetAnErrorEventAndTheConnectionLives) {
  StartGateway();
  auto client = WsConnect();
  ASSERT_TRUE(client);
  for (const std::string& bad :
       {std::string("not json"), std::string("[1,2]"), std::string(R"({"data":1})"),
        std::string(R"({"event":"nope","data":1})"),
        std::string(R"({"event":"selectStore","data":"Bad Id!"})"),
        std::string(R"({"event":"selectStore","data":42})"),
        std::string(R"({"event":"triggerManualSync"})")}) {
    ASSERT_TRUE(client->SendText(bad).ok());
    auto error = client->Read();
    ASSERT_TRUE(error.ok()) << bad << ": " << error.status();
    EXPECT_THAT(*error, HasSubstr(R"({"event":"error","data":{"message":)")) << bad;
  }
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"a"})").ok());
  EXPECT_TRUE(client->ReadUntil("syncStatus").ok());
}

TEST_F(GatewayTest, SelectingAnUnknownStoreGetsAnErrorEvent) {
  StartGateway();
  auto client = WsConnect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"nosuchstore"})").ok());
  auto error = client->Read();
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_THAT(*error,
              HasSubstr(R"({"event":"error","data":{"message":"unknown store nosuchstore)"));
  EXPECT_EQ(fake_->watch_calls(), 1);  // not retried
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"a"})").ok());
  EXPECT_TRUE(client->ReadUntil("syncStatus").ok());
}

TEST_F(GatewayTest, BinaryAndOversizedFramesCloseWithAReason) {
  StartGateway({"--max_payload_bytes=4096"});
  auto client = WsConnect();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendBinary("\x01\x02").ok());
  auto closed = client->Read();
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("closed 1003: binary frames"));
  auto big = WsConnect();
  ASSERT_TRUE(big);
  ASSERT_TRUE(big->SendText(std::string(10000, 'x')).ok());
  auto too_big = big->Read();
  EXPECT_THAT(std::string(too_big.status().message()), HasSubstr("closed 1009"));
  // The gateway is fine.
  EXPECT_EQ(HttpGet(Url("/health"))->status, 200);
}

TEST_F(GatewayTest, SlowConsumerIsDroppedWhileOthersKeepReceiving) {
  StartGateway({"--send_queue_max=16"});
  auto fast = Watcher("a");
  ASSERT_TRUE(fast);
  auto slow_client = WsTestClient::Connect(port_, "/ws", {.receive_buffer_bytes = 4096});
  ASSERT_TRUE(slow_client.ok());
  auto& slow = *slow_client;
  ASSERT_TRUE(slow->SendText(R"({"event":"selectStore","data":"a"})").ok());
  ASSERT_TRUE(slow->ReadUntil("syncStatus").ok());
  // The slow client stops reading; the fast one reads everything.
  const std::string pad(32 * 1024, 'p');
  constexpr int kEvents = 400;
  // Lockstep with the fast reader: only the slow one falls behind.
  for (int i = 0; i < kEvents; ++i) {
    fake_->PublishProgress("a", "run_a", v1::STAGE_ORDERS, i % 100, absl::StrCat(i, " ", pad));
    auto message = fast->ReadUntil("autoSyncProgress");
    ASSERT_TRUE(message.ok()) << i << ": " << message.status();
    ASSERT_THAT(message->substr(0, 200), HasSubstr(absl::StrCat("\"message\":\"", i, " ")));
  }
  // The slow one finds a close frame after what the kernel buffered.
  absl::Status end;
  for (int i = 0; i <= kEvents && end.ok(); ++i) end = slow->Read(absl::Seconds(10)).status();
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable) << end;
  EXPECT_THAT(std::string(end.message()), HasSubstr("closed 1008: slow consumer"));
  auto metrics = HttpGet(MetricsUrl());
  EXPECT_THAT(metrics->body, HasSubstr("autosync_gateway_slow_consumer_disconnects_total 1"));
}

TEST_F(GatewayTest, UpstreamBreakReopensAndClientsGetAFreshStatus) {
  StartGateway();
  auto client = Watcher("a");
  ASSERT_TRUE(client);
  ASSERT_TRUE(fake_->WaitForWatchers("a", 1, absl::Seconds(5)));
  fake_->BreakStreams("a");
  auto status = client->ReadUntil("syncStatus", absl::Seconds(15));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GE(fake_->watch_calls(), 2);
  fake_->PublishProgress("a", "run_a", v1::STAGE_ADS, 70, "after reconnect");
  EXPECT_TRUE(client->ReadUntil("after reconnect").ok());
}

TEST_F(GatewayTest, ClientCountsAreReportedToTheScheduler) {
  StartGateway();
  auto c1 = Watcher("a");
  auto c2 = Watcher("a");
  ASSERT_TRUE(c1 && c2);
  EXPECT_TRUE(fake_->WaitForReport("a", 2, absl::Seconds(5)));
  c2.reset();
  EXPECT_TRUE(fake_->WaitForReport("a", 1, absl::Seconds(5)));
}

// SIGTERM while a call to the scheduler is still open (a connection report the scheduler has not
// answered): the gateway cancels it and waits for it to end (scheduler_client_test) rather than
// for its deadline, and exits 0 without a warning or a sanitizer report.
TEST_F(GatewayTest, StopsCleanlyWithACallToTheSchedulerStillOpen) {
  fake_->HoldReports();
  StartGateway();
  auto client = Watcher("a");
  ASSERT_TRUE(client);
  ASSERT_TRUE(fake_->WaitForHeldReports(1, absl::Seconds(10)));
  EXPECT_EQ(fake_->last_report()["a"], 1);
  client.reset();
  gateway_->Signal(SIGTERM);
  auto code = gateway_->Wait(stop_timeout_);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << gateway_->Output();
  EXPECT_THAT(gateway_->Output(), Not(HasSubstr("still open at shutdown")));
  EXPECT_THAT(gateway_->Output(), Not(HasSubstr("Sanitizer")));
}

TEST_F(GatewayTest, AuthRefusals) {
  StartGateway({"--jwt_secret_file=" + SecretFile()});
  auto health = HttpGet(Url("/health"));
  EXPECT_THAT(health->body, HasSubstr("\"devMode\":false"));
  EXPECT_EQ(HttpGet(Url("/api/sync/status/a"))->status, 401);
  const std::string token_a = Token(R"(["a"])");
  EXPECT_EQ(HttpGet(Url("/api/sync/status/a?token=" + token_a))->status, 200);
  EXPECT_EQ(HttpGet(Url("/api/sync/status/b?token=" + token_a))->status, 403);
  EXPECT_EQ(HttpGet(Url("/api/sync/status/a?token=" + Token(R"("*")", -10)))->status, 401);
  auto stores = HttpGet(Url("/api/stores?token=" + token_a));
  EXPECT_THAT(stores->body, HasSubstr(R"("storeId":"a")"));
  EXPECT_THAT(stores->body, Not(HasSubstr(R"("storeId":"b")")));
  const std::string none =
      absl::StrCat(gateway::Base64UrlEncode(R"({"alg":"none"})"), ".",
                   gateway::Base64UrlEncode(R"({"stores":"*","exp":9999999999})"), ".");
  EXPECT_EQ(HttpGet(Url("/api/sync/status/a?token=" + none))->status, 401);

  // WebSocket without a token: closed with the reason.
  auto anonymous = WsConnect();
  ASSERT_TRUE(anonymous);
  auto closed = anonymous->Read();
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("closed 1008"));
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("token"));
  // With a token for a: b is refused, a works.
  auto client = WsConnect("/ws?token=" + token_a);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"b"})").ok());
  auto refused = client->Read();
  ASSERT_TRUE(refused.ok());
  EXPECT_THAT(*refused, HasSubstr("does not grant store b"));
  ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"a"})").ok());
  EXPECT_TRUE(client->ReadUntil("syncStatus").ok());
}

TEST_F(GatewayTest, RefusesBadFlagsWithOneLineNamingTheOption) {
  for (const std::string& bad :
       {std::string("--ping_interval_ms=0"), std::string("--jwt_secret_file=/nonexistent"),
        std::string("--allowed_origins=ftp://x"), std::string("--send_queue_max=1")}) {
    auto gateway = ChildProcess::Start(BinaryPath("ws-gateway"),
                                       {.args = {"--listen=127.0.0.1:0", "--insecure_grpc", bad}});
    ASSERT_TRUE(gateway.ok());
    auto code = (*gateway)->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 2) << bad;
    const std::string option = bad.substr(2, bad.find('=') - 2);
    EXPECT_THAT((*gateway)->Output(), HasSubstr(option)) << bad;
  }
  for (const std::string flag : {"--bench_endpoints", "--protocol_conformance"}) {
    auto loopback_only = ChildProcess::Start(
        BinaryPath("ws-gateway"), {.args = {"--listen=0.0.0.0:0", "--insecure_grpc", flag}});
    ASSERT_TRUE(loopback_only.ok());
    EXPECT_EQ(*(*loopback_only)->Wait(absl::Seconds(10)), 2) << flag;
    EXPECT_THAT((*loopback_only)->Output(), HasSubstr(flag.substr(2))) << flag;
  }
}

// The raw Engine.IO echo of --protocol_conformance over a real websocket: text and binary frames
// come back as they went, binary staying binary.
TEST_F(GatewayTest, ConformanceModeEchoesRawEngineIo) {
  StartGateway({"--protocol_conformance"});
  auto c = WsConnect("/engine.io/?EIO=4&transport=websocket");
  ASSERT_TRUE(c);
  auto open = c->Read();
  ASSERT_TRUE(open.ok());
  EXPECT_THAT(*open, HasSubstr(R"("upgrades":[])"));
  ASSERT_TRUE(c->SendText("4hello").ok());
  EXPECT_EQ(*c->Read(), "4hello");
  const std::string bytes("\x00\x01\xff", 3);
  ASSERT_TRUE(c->SendBinary(bytes).ok());
  EXPECT_EQ(*c->Read(), bytes);
  // Long-polling answers on the same path.
  EXPECT_EQ(HttpGet(Url("/engine.io/?EIO=4&transport=polling"))->status, 200);
}

// A client that drops its held poll's connection is gone: the session ends at once rather than
// at its ping timeout (25 s here), as the reference server does.
TEST_F(GatewayTest, AnAbortedHeldPollEndsTheSession) {
  StartGateway();
  auto sessions = [&]() -> std::string {
    auto metrics = HttpGet(MetricsUrl());
    if (!metrics.ok()) return "";
    const size_t at = metrics->body.find("autosync_gateway_connections{protocol=\"socketio\"}");
    return at == std::string::npos ? ""
                                   : metrics->body.substr(at, metrics->body.find('\n', at) - at);
  };
  auto open = HttpGet(Url("/socket.io/?EIO=4&transport=polling"));
  ASSERT_TRUE(open.ok());
  const std::string sid = open->body.substr(9, open->body.find('"', 9) - 9);
  EXPECT_THAT(sessions(), ::testing::EndsWith(" 1"));
  // A poll on a raw socket, closed while the gateway holds it.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string poll = absl::StrCat("GET /socket.io/?EIO=4&transport=polling&sid=", sid,
                                        " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_EQ(write(fd, poll.data(), poll.size()), static_cast<ssize_t>(poll.size()));
  // Held: nothing comes back while the session lives.
  pollfd pfd{.fd = fd, .events = POLLIN, .revents = 0};
  EXPECT_EQ(::poll(&pfd, 1, 200), 0);
  close(fd);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::EndsWith(sessions(), " 0") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(sessions(), ::testing::EndsWith(" 0"));
  EXPECT_EQ(HttpGet(Url(absl::StrCat("/socket.io/?EIO=4&transport=polling&sid=", sid)))->status,
            400);
}

}  // namespace
}  // namespace autosync::testing
