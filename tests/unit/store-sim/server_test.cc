// The Beast server's handling of shared bodies on a loopback socket: a bulk file goes out whole
// with its Content-Length, and a cut body announces the whole length, sends part and closes.
#include "tools/store-sim/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

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

// One HTTP/1.1 request with Connection: close; everything the server sent until it closed.
std::string Exchange(uint16_t port, const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
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

struct Parsed {
  int64_t content_length = -1;
  std::string body;
};
Parsed Split(const std::string& raw) {
  Parsed p;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return p;
  const std::string head = raw.substr(0, end);
  size_t at = head.find("Content-Length: ");
  if (at != std::string::npos) {
    size_t eol = head.find("\r\n", at);
    EXPECT_TRUE(absl::SimpleAtoi(head.substr(at + 16, eol - at - 16), &p.content_length));
  }
  p.body = raw.substr(end + 4);
  return p;
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

  std::string vars = "{\"q\":";
  AppendJsonString(vars, "{ orders { edges { node { id } } } }");
  Response run = sim->Handle(PostGraphql(
      "shop", GraphqlQueryBody("mutation($q: String!) { bulkOperationRunQuery(query: $q) { "
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
    Response poll = sim->Handle(PostGraphql(
        "shop",
        GraphqlQueryBody("query($id: ID!) { node(id: $id) { ... on BulkOperation { url } } }",
                         poll_vars + "}")));
    auto p = ParseJson(poll.body);
    std::string_view u;
    if (p->root["data"]["node"]["url"].get(u) == simdjson::SUCCESS) url = u;
  }
  ASSERT_FALSE(url.empty());
  const std::string target = url.substr(url.find("/_bulk/"));

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

}  // namespace
}  // namespace autosync::storesim
