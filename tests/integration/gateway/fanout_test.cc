// Fan-out at scale and the raw Engine.IO edges: 1000 concurrent /ws clients all receive every
// event of a run, a Socket.IO client that never answers pings is dropped within
// pingInterval + pingTimeout, Engine.IO errors, namespaces and the origin allow-list.
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/fake_scheduler.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
namespace v1 = autosync::v1;

class FanoutTest : public GatewayFixture {
 protected:
  // 1000 clients here and 1000 sockets in the gateway.
  static void SetUpTestSuite() { RaiseFileLimit(); }
};

// Many /ws clients on one thread, counting what they receive.
class Fleet {
 public:
  Fleet(int port, int count, const std::string& store) : port_(port), store_(store) {
    for (int i = 0; i < count; ++i) clients_.push_back(std::make_shared<Client>(*this));
    for (auto& c : clients_) c->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Fleet() {
    ioc_.stop();
    thread_.join();
  }
  bool WaitFor(const std::atomic<int>& counter, int value, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (counter.load() < value && failures.load() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));  // polling a counter, bounded by the deadline
    }
    return counter.load() >= value;
  }

  std::atomic<int> selected{0}, finished{0}, failures{0}, progress_total{0};
  int expected_progress = 0;

 private:
  struct Client : std::enable_shared_from_this<Client> {
    explicit Client(Fleet& f) : fleet(f), ws(f.ioc_) {}
    void Start() {
      ws.next_layer().async_connect(
          tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(fleet.port_)),
          [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->Fail();
            self->ws.async_handshake(absl::StrCat("127.0.0.1:", self->fleet.port_), "/ws",
                                     [self](beast::error_code ec2) {
                                       if (ec2) return self->Fail();
                                       self->Select();
                                     });
          });
    }
    void Select() {
      request = absl::StrCat(R"({"event":"selectStore","data":")", fleet.store_, R"("})");
      ws.async_write(asio::buffer(request),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Fail();
                       self->Read();
                     });
    }
    void Read() {
      ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->Fail();
        const std::string text = beast::buffers_to_string(self->buffer.data());
        self->buffer.consume(self->buffer.size());
        if (!self->selected && text.find("\"syncStatus\"") != std::string::npos) {
          self->selected = true;
          ++self->fleet.selected;
        }
        if (text.find("\"autoSyncProgress\"") != std::string::npos) {
          ++self->fleet.progress_total;
          if (++self->progress == self->fleet.expected_progress) ++self->fleet.finished;
        }
        self->Read();
      });
    }
    void Fail() {
      if (!stopped) ++fleet.failures;
      stopped = true;
    }
    Fleet& fleet;
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer buffer;
    std::string request;
    bool selected = false;
    bool stopped = false;
    int progress = 0;
  };

  asio::io_context ioc_;
  const int port_;
  const std::string store_;
  std::vector<std::shared_ptr<Client>> clients_;
  std::thread thread_;
};

TEST_F(FanoutTest, ThousandClientsAllReceiveEveryEventOfARun) {
  StartGateway();
  constexpr int kClients = 1000;
  constexpr int kEvents = 25;
  Fleet fleet(port_, kClients, "buycosari");
  fleet.expected_progress = kEvents;
  ASSERT_TRUE(fleet.WaitFor(fleet.selected, kClients, absl::Seconds(60)))
      << "selected " << fleet.selected << ", failures " << fleet.failures;
  EXPECT_EQ(fake_->watchers("buycosari"), 1);  // one upstream for all of them
  const absl::Time start = absl::Now();
  for (int i = 0; i < kEvents; ++i) {
    fake_->PublishProgress("buycosari", "run_big",
                           i + 1 == kEvents ? v1::STAGE_COMPLETED : v1::STAGE_ORDERS,
                           i * 100 / kEvents, absl::StrCat("event ", i));
  }
  EXPECT_TRUE(fleet.WaitFor(fleet.finished, kClients, absl::Seconds(60)))
      << "finished " << fleet.finished << ", deliveries " << fleet.progress_total << ", failures "
      << fleet.failures;
  EXPECT_EQ(fleet.failures.load(), 0);
  EXPECT_EQ(fleet.progress_total.load(), kClients * kEvents);
  std::cout << kClients * kEvents << " deliveries in " << absl::FormatDuration(absl::Now() - start)
            << "\n";
  auto metrics = HttpGet(MetricsUrl());
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("autosync_gateway_connections{protocol=\"ws\"} 1000"));
  EXPECT_TRUE(fake_->WaitForReport("buycosari", kClients, absl::Seconds(5)));
}

TEST_F(FanoutTest, SocketIoClientThatNeverPongsIsDroppedInTime) {
  StartGateway({"--ping_interval_ms=300", "--ping_timeout_ms=200"});
  auto client = WsTestClient::Connect(port_, "/socket.io/?EIO=4&transport=websocket");
  ASSERT_TRUE(client.ok()) << client.status();
  auto open = (*client)->Read();
  ASSERT_TRUE(open.ok());
  EXPECT_THAT(*open, HasSubstr(R"("pingInterval":300,"pingTimeout":200)"));
  EXPECT_THAT(*open, HasSubstr(R"("upgrades":[])"));
  ASSERT_TRUE((*client)->SendText("40").ok());
  auto connected = (*client)->Read();
  ASSERT_TRUE(connected.ok());
  EXPECT_THAT(*connected, HasSubstr(R"(40{"sid":")"));
  const absl::Time start = absl::Now();
  auto ping = (*client)->Read();
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(*ping, "2");
  const absl::Time pinged = absl::Now();
  // No pong: the server gives up pingTimeout after its ping, within interval + timeout.
  auto end = (*client)->Read(absl::Seconds(5));
  EXPECT_EQ(end.status().code(), absl::StatusCode::kUnavailable) << end.status();
  EXPECT_GE(absl::Now() - pinged, absl::Milliseconds(150));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300 + 200 + 150));
}

TEST_F(FanoutTest, SocketIoNamespacesAndAcks) {
  StartGateway();
  auto client = WsTestClient::Connect(port_, "/socket.io/?EIO=4&transport=websocket");
  ASSERT_TRUE(client.ok());
  auto& c = *client;
  ASSERT_TRUE(c->Read().ok());  // open
  ASSERT_TRUE(c->SendText("40/custom,").ok());
  auto refused = c->Read();
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(*refused, R"(44/custom,{"message":"Invalid namespace"})");
  ASSERT_TRUE(c->SendText("40").ok());
  ASSERT_TRUE(c->ReadUntil("40{").ok());
  ASSERT_TRUE(c->SendText(R"(4212["selectStore",{"storeId":"buycosari"}])").ok());
  // The ack and the store's first status, in either order; after both, nothing else is on its
  // way when the checks below run.
  bool acked = false, status = false;
  while (!acked || !status) {
    auto message = c->Read();
    ASSERT_TRUE(message.ok()) << message.status();
    if (message->rfind("4312", 0) == 0) {
      EXPECT_EQ(*message, R"(4312[{"success":true,"storeId":"buycosari"}])");
      acked = true;
    }
    if (message->find("\"syncStatus\"") != std::string::npos) status = true;
  }
  ASSERT_TRUE(c->SendText(R"(427["selectStore","Bad Id"])").ok());
  auto bad = c->ReadUntil("437");
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(*bad, HasSubstr(R"("success":false)"));
  ASSERT_TRUE(c->SendText(R"(42["nope",1])").ok());
  auto unknown = c->ReadUntil("\"error\"");
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(*unknown, HasSubstr("unknown event"));
  // Not a Socket.IO packet: the connection closes with the reason, as the reference server's.
  ASSERT_TRUE(c->SendText("4garbage").ok());
  auto closed = c->Read();
  EXPECT_EQ(closed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(closed.status().message(), HasSubstr("invalid Socket.IO packet"));
  // Not an Engine.IO packet either: closed too.
  auto c2 = WsTestClient::Connect(port_, "/socket.io/?EIO=4&transport=websocket");
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE((*c2)->Read().ok());  // open
  ASSERT_TRUE((*c2)->SendText("9").ok());
  EXPECT_EQ((*c2)->Read().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(FanoutTest, EngineIoPollingErrors) {
  StartGateway();
  auto bad_version = HttpGet(Url("/socket.io/?EIO=3&transport=polling"));
  ASSERT_TRUE(bad_version.ok());
  EXPECT_EQ(bad_version->status, 400);
  EXPECT_THAT(bad_version->body, HasSubstr(R"("code":5)"));
  auto bad_transport = HttpGet(Url("/socket.io/?EIO=4&transport=carrier-pigeon"));
  EXPECT_THAT(bad_transport->body, HasSubstr(R"("code":0)"));
  auto unknown_sid = HttpGet(Url("/socket.io/?EIO=4&transport=polling&sid=nope"));
  EXPECT_EQ(unknown_sid->status, 400);
  EXPECT_THAT(unknown_sid->body, HasSubstr(R"("code":1)"));
  auto open = HttpGet(Url("/socket.io/?EIO=4&transport=polling"));
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->body.substr(0, 8), R"(0{"sid":)");
  EXPECT_THAT(open->body, HasSubstr(R"("upgrades":["websocket"])"));
  const std::string sid = open->body.substr(9, open->body.find('"', 9) - 9);
  const std::string session = Url("/socket.io/?EIO=4&transport=polling&sid=" + sid);
  auto post = HttpPost(session,
                       "40\x1e"
                       "42[\"selectStore\",\"buycosari\"]");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->body, "ok");
  auto poll = HttpGet(session);
  ASSERT_TRUE(poll.ok());
  EXPECT_THAT(poll->body, HasSubstr(R"(40{"sid":")"));
  // A bad payload closes the session.
  auto bad = HttpPost(session, "zzz");
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(HttpGet(session)->status, 400);
}

TEST_F(FanoutTest, OriginAllowList) {
  StartGateway({"--allowed_origins=https://dash.example.com"});
  auto good =
      WsTestClient::Connect(port_, "/ws", {.headers = {{"Origin", "https://dash.example.com"}}});
  EXPECT_TRUE(good.ok()) << good.status();
  auto evil =
      WsTestClient::Connect(port_, "/ws", {.headers = {{"Origin", "https://evil.example"}}});
  ASSERT_FALSE(evil.ok());
  EXPECT_THAT(std::string(evil.status().message()), HasSubstr("403"));
  auto sio = WsTestClient::Connect(port_, "/socket.io/?EIO=4&transport=websocket",
                                   {.headers = {{"Origin", "https://evil.example"}}});
  EXPECT_FALSE(sio.ok());
}

}  // namespace
}  // namespace autosync::testing
