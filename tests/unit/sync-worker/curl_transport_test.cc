#include "sync-worker/connectors/curl_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace autosync::worker {
namespace {

// A one-thread HTTP/1.1 server on 127.0.0.1 that answers each request with the next scripted raw
// response (an empty script entry means: never answer). Connections stay open between requests
// unless the response says "Connection: close".
class TinyServer {
 public:
  explicit TinyServer(std::vector<std::string> responses)
      : responses_(responses.begin(), responses.end()) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TinyServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  int connections() const { return connections_; }
  std::vector<std::string> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  // Waits up to 20 ms for `fd` to become readable; false on timeout.
  static bool Readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 20) > 0;
  }

  void Run() {
    while (!stop_) {
      if (!Readable(listen_fd_)) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      Serve(fd);
      close(fd);
    }
  }

  void Serve(int fd) {
    std::string buffer;
    while (!stop_) {
      const size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (!Readable(fd)) continue;
        char chunk[4096];
        const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return;  // client closed
        buffer.append(chunk, static_cast<size_t>(n));
        continue;
      }
      {
        absl::MutexLock lock(&mu_);
        requests_.push_back(buffer.substr(0, end));
      }
      buffer.erase(0, end + 4);
      if (responses_.empty()) return;
      const std::string response = responses_.front();
      responses_.pop_front();
      if (response.empty()) {  // hang until the client gives up
        while (!stop_) {
          char sink[256];
          if (Readable(fd) && recv(fd, sink, sizeof(sink), 0) <= 0) return;
        }
        return;
      }
      size_t sent = 0;
      while (sent < response.size()) {
        const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
      if (absl::StrContains(response, "Connection: close")) return;
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::deque<std::string> responses_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
};

std::string Response(int status, absl::string_view body, absl::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Type: application/json\r\n",
                      extra_headers, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

class CurlTransportTest : public ::testing::Test {
 protected:
  std::unique_ptr<CurlTransport> MakeTransport(CurlOptions options = {}) {
    auto transport = CurlTransport::Create(std::move(options));
    EXPECT_TRUE(transport.ok()) << transport.status();
    return transport.ok() ? *std::move(transport) : nullptr;
  }
};

TEST_F(CurlTransportTest, ReturnsStatusLowerCasedHeadersAndBody) {
  TinyServer server({Response(429, R"({"errors":"slow down"})",
                              "Retry-After: 2.0\r\nX-Shopify-Shop-Api-Call-Limit:  40/40 \r\n")});
  auto transport = MakeTransport();
  HttpRequest request{server.Url("/admin/api/2024-01/orders.json?status=any"),
                      {{"X-Shopify-Access-Token", "tok"}},
                      absl::Seconds(5)};
  const auto response = transport->Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->body, R"({"errors":"slow down"})");
  EXPECT_EQ(response->Header("retry-after"), "2.0");
  EXPECT_EQ(response->Header("x-shopify-shop-api-call-limit"), "40/40");
  bool all_lower = true;
  for (const auto& [name, value] : response->headers) {
    all_lower = all_lower && name == absl::AsciiStrToLower(name);
  }
  EXPECT_TRUE(all_lower);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(
      absl::StartsWith(requests[0], "GET /admin/api/2024-01/orders.json?status=any HTTP/1.1"));
  EXPECT_TRUE(absl::StrContains(requests[0], "X-Shopify-Access-Token: tok"));
  EXPECT_TRUE(absl::StrContains(requests[0], "User-Agent: autosync-sync-worker/"));
}

TEST_F(CurlTransportTest, ReusesTheConnectionBetweenRequests) {
  TinyServer server({Response(200, "{}"), Response(200, "[]")});
  auto transport = MakeTransport();
  ASSERT_TRUE(transport->Send({server.Url("/a"), {}, absl::Seconds(5)}).ok());
  const auto second = transport->Send({server.Url("/b"), {}, absl::Seconds(5)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "[]");
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(CurlTransportTest, RefusesBodiesLargerThanTheLimit) {
  CurlOptions options;
  options.max_body_bytes = 16;
  TinyServer server({Response(200, std::string(100, 'x')),
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "14\r\n01234567890123456789\r\n0\r\n\r\n"});
  auto transport = MakeTransport(options);
  const auto declared = transport->Send({server.Url("/big"), {}, absl::Seconds(5)});
  EXPECT_EQ(declared.status().code(), absl::StatusCode::kFailedPrecondition) << declared.status();
  const auto chunked = transport->Send({server.Url("/big-chunked"), {}, absl::Seconds(5)});
  EXPECT_EQ(chunked.status().code(), absl::StatusCode::kFailedPrecondition) << chunked.status();
}

TEST_F(CurlTransportTest, ConnectionRefusedIsUnavailableWithoutTheQuery) {
  int port = 0;
  {
    TinyServer closed({});  // grab a free port, then let it go
    port = closed.port();
  }
  auto transport = MakeTransport();
  const auto response = transport->Send(
      {absl::StrCat("http://127.0.0.1:", port, "/v19.0/act_1/insights?access_token=SECRET"),
       {},
       absl::Seconds(5)});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(absl::StrContains(response.status().message(), "SECRET")) << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), "/v19.0/act_1/insights"))
      << response.status();
}

TEST_F(CurlTransportTest, SlowServerIsDeadlineExceeded) {
  TinyServer server({""});
  auto transport = MakeTransport();
  const auto response =
      transport->Send({server.Url("/slow?access_token=SECRET"), {}, absl::Milliseconds(200)});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_FALSE(absl::StrContains(response.status().message(), "SECRET")) << response.status();
}

TEST_F(CurlTransportTest, OnlyHttpAndHttpsAreAllowed) {
  auto transport = MakeTransport();
  const auto response = transport->Send({"file:///etc/passwd", {}, absl::Seconds(1)});
  EXPECT_FALSE(response.ok());
  EXPECT_NE(response.status().code(), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace autosync::worker
