// The Beast server on a loopback socket: a bulk file goes out whole with its Content-Length, a
// cut body announces the whole length, sends part and closes, and the idle timeout cuts off a
// reader that stops reading but not one that reads slowly.
#include "tools/store-sim/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::GraphqlQueryBody;
using testing::MakeSim;
using testing::ParseJson;
using testing::PostGraphql;
using testing::SmallConfig;

// A loopback connection that has sent "GET <target>" with Connection: close; blocking reads
// give up after 10 s. A positive `receive_buffer` is set as SO_RCVBUF before connecting.
int OpenGet(uint16_t port, const std::string& target, int receive_buffer = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  if (receive_buffer > 0) {
    EXPECT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer)), 0);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request =
      absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  return fd;
}

// One HTTP/1.1 request with Connection: close; everything the server sent until it closed.
std::string Exchange(uint16_t port, const std::string& target) {
  int fd = OpenGet(port, target);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// The Content-Length of a response head ("HTTP/1.1 200 OK\r\n…" without the blank line), or -1.
int64_t ContentLength(const std::string& head) {
  int64_t length = -1;
  size_t at = head.find("Content-Length: ");
  if (at != std::string::npos) {
    size_t eol = head.find("\r\n", at);
    EXPECT_TRUE(absl::SimpleAtoi(head.substr(at + 16, eol - at - 16), &length));
  }
  return length;
}

struct Parsed {
  int64_t content_length = -1;
  std::string body;
};
Parsed Split(const std::string& raw) {
  Parsed p;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return p;
  p.content_length = ContentLength(raw.substr(0, end));
  p.body = raw.substr(end + 4);
  return p;
}

// Runs a bulk operation over the store's orders and polls it (spinning, bounded) until it has
// a URL; the download target (path and query), or "" after a test failure.
std::string CompletedBulkTarget(Simulator& sim, const std::string& store) {
  std::string vars = "{\"q\":";
  AppendJsonString(vars, "{ orders { edges { node { id } } } }");
  Response run = sim.Handle(PostGraphql(
      store, GraphqlQueryBody("mutation($q: String!) { bulkOperationRunQuery(query: $q) { "
                              "bulkOperation { id status } userErrors { field message } } }",
                              vars + "}")));
  auto j = ParseJson(run.body);
  std::string gid(
      std::string_view(j->root["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]));
  std::string url;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (url.empty() && std::chrono::steady_clock::now() < deadline) {
    std::string poll_vars = "{\"id\":";
    AppendJsonString(poll_vars, gid);
    Response poll = sim.Handle(PostGraphql(
        store,
        GraphqlQueryBody("query($id: ID!) { node(id: $id) { ... on BulkOperation { url } } }",
                         poll_vars + "}")));
    auto p = ParseJson(poll.body);
    std::string_view u;
    if (p->root["data"]["node"]["url"].get(u) == simdjson::SUCCESS) url = u;
  }
  EXPECT_FALSE(url.empty()) << gid << " has no URL after 30 s";
  return url.empty() ? "" : url.substr(url.find("/_bulk/"));
}

TEST(ServerTest, BulkFilesGoOutWholeAndATruncatedOneStopsHalfway) {
  FakeClock clock;
  SimConfig config = SmallConfig(2000);
  config.bulk_min_ms = 0;
  auto sim = MakeSim(config, &clock);
  ASSERT_NE(sim, nullptr);
  ServerOptions options;
  options.port = 0;
  options.threads = 1;
  auto server = Server::Start(*sim, options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::thread runner([&] { (*server)->Run(); });

  const std::string target = CompletedBulkTarget(*sim, "shop");
  ASSERT_FALSE(target.empty());

  Parsed whole = Split(Exchange((*server)->port(), target));
  EXPECT_GT(whole.content_length, 10000);
  EXPECT_EQ(static_cast<int64_t>(whole.body.size()), whole.content_length);
  EXPECT_EQ(whole.body.back(), '\n');

  ASSERT_EQ(sim->Handle(Call("POST", "/_sim/faults", R"({"bulk_truncate":1})")).status, 200);
  Parsed cut = Split(Exchange((*server)->port(), target));
  EXPECT_EQ(cut.content_length, whole.content_length);
  EXPECT_LT(cut.body.size(), whole.body.size() / 2 + 2);
  EXPECT_GT(cut.body.size(), whole.body.size() / 2 - 2);
  EXPECT_EQ(whole.body.compare(0, cut.body.size(), cut.body), 0);
  EXPECT_NE(cut.body.back(), '\n');

  // The connection after it is served normally.
  EXPECT_EQ(Split(Exchange((*server)->port(), target)).body, whole.body);
  (*server)->Stop();
  runner.join();
}

// A server with a 2 s idle timeout and a bulk file of about 30 MB: far more than the kernel
// buffers between server and reader hold (up to the 4 MiB send buffer Linux grows to on
// loopback, plus the reader's receive buffer), so the server's write lasts as long as the
// reading does.
class IdleTimeoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimConfig config = SmallConfig(40'000);
    config.stores.resize(1);
    config.bulk_min_ms = 0;
    config.graphql_restore_rate = 0;  // the polls are not about the cost bucket
    sim_ = MakeSim(config, &clock_);
    ASSERT_NE(sim_, nullptr);
    ServerOptions options;
    options.port = 0;
    options.threads = 1;
    options.idle_timeout_seconds = 2;
    auto server = Server::Start(*sim_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    runner_ = std::thread([this] { server_->Run(); });
    target_ = CompletedBulkTarget(*sim_, "shop");
    ASSERT_FALSE(target_.empty());
  }
  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Stop();
    runner_.join();
  }

  // Reads up to the end of the response head; the Content-Length, and the body bytes that came
  // with the head in *body_bytes.
  static int64_t ReadHead(int fd, int64_t* body_bytes) {
    std::string raw;
    char buf[1 << 12];
    size_t end = std::string::npos;
    while (end == std::string::npos && raw.size() < (1 << 16)) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
      end = raw.find("\r\n\r\n");
    }
    EXPECT_NE(end, std::string::npos) << "no response head in " << raw.substr(0, 200);
    if (end == std::string::npos) return -1;
    *body_bytes = static_cast<int64_t>(raw.size() - end - 4);
    return ContentLength(raw.substr(0, end));
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::string target_;
};

TEST_F(IdleTimeoutTest, ASlowReaderThatKeepsReadingGetsTheWholeFile) {
  // A 128 KiB receive buffer gives about 256 KiB a read; at 20 reads a second (~5 MB/s) the
  // file takes about 6 s, three idle timeouts. Between two of the server's writes the reader
  // takes about 1.3 MB (Linux wakes a writer once a third of its 4 MiB send buffer is free
  // again), about 0.3 s: progress well within every timeout.
  int fd = OpenGet(server_->port(), target_, /*receive_buffer=*/128 * 1024);
  int64_t body = 0;
  const int64_t content_length = ReadHead(fd, &body);
  ASSERT_GT(content_length, 20'000'000) << "the file must outlast the kernel buffers";
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(60);
  std::vector<char> buf(1 << 20);
  int reads = 0;
  int error = 0;
  for (; body < content_length; ++reads) {
    ASSERT_LT(reads, 20'000) << "still reading after " << reads << " reads, " << body << " bytes";
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "still reading after 60 s";
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) {
      error = n < 0 ? errno : 0;
      break;
    }
    body += n;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the slow reader's pace
  }
  close(fd);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("read_seconds", absl::StrCat(seconds));
  EXPECT_EQ(body, content_length) << "cut off after " << seconds << " s and " << reads
                                  << " reads: " << (error ? std::strerror(error) : "EOF");
}

TEST_F(IdleTimeoutTest, AStalledReaderIsDisconnected) {
  int fd = OpenGet(server_->port(), target_, /*receive_buffer=*/128 * 1024);
  int64_t body = 0;
  const int64_t content_length = ReadHead(fd, &body);
  ASSERT_GT(content_length, 20'000'000);
  // The reader stalls for three idle timeouts: the server's write makes no progress meanwhile.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  // What the kernel buffers still hold arrives, then the end of the connection.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<char> buf(1 << 20);
  ssize_t n = 0;
  while (body < content_length) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "still reading after 60 s";
    n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    body += n;
  }
  const int error = n < 0 ? errno : 0;
  close(fd);
  EXPECT_LT(body, content_length) << "the whole file arrived after the stall";
  EXPECT_TRUE(n == 0 || error == ECONNRESET)
      << "the read ended with " << (n > 0 ? "the whole body" : std::strerror(error))
      << ", not the end of the connection";
}

}  // namespace
}  // namespace autosync::storesim
