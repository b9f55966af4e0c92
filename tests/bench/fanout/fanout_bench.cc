// Fan-out benchmark client (not a test): N Socket.IO clients over the websocket transport (raw
// Engine.IO v4 / Socket.IO v5 frames, the same bytes socket.io-client sends) join one store,
// then the server under test broadcasts M events via POST /bench/broadcast. Prints delivered/s,
// server CPU µs per delivered message, latency p50/p99 (server steady clock at send -> client
// steady clock at receipt; same machine, same CLOCK_MONOTONIC) and server RSS per connection.
//
//   fanout_bench --port=8080 --server_pid=PID [--clients=1000] [--events=100]
//                [--payload=200] [--interval_ms=0] [--store=bench] [--label=NAME]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::map<std::string, std::string> ParseArgs(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) continue;
    const size_t eq = a.find('=');
    args[a.substr(2, eq - 2)] = eq == std::string::npos ? "true" : a.substr(eq + 1);
  }
  return args;
}

// utime + stime of a process, in microseconds.
int64_t CpuUs(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = content.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(content.substr(close + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return (utime + stime) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

int64_t RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

struct Shared {
  asio::io_context ioc;
  int port = 0;
  std::string store;
  int events = 0;
  std::atomic<int> joined{0}, done{0}, failures{0};
  std::atomic<int64_t> last_receive_us{0};
  std::vector<int64_t> latencies_us;  // only touched on the io thread
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  explicit Client(Shared& s) : s_(s), ws_(s.ioc) {}
  void Start() {
    ws_.next_layer().async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(s_.port)),
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->Fail();
          self->ws_.async_handshake("127.0.0.1", "/socket.io/?EIO=4&transport=websocket",
                                    [self](beast::error_code ec2) {
                                      if (ec2) return self->Fail();
                                      self->Read();
                                    });
        });
  }

 private:
  void Send(std::string text) {
    out_.push_back(std::move(text));
    if (out_.size() == 1) WriteNext();
  }
  void WriteNext() {
    ws_.async_write(asio::buffer(out_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->Fail();
                      self->out_.erase(self->out_.begin());
                      if (!self->out_.empty()) self->WriteNext();
                    });
  }
  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Fail();
      self->OnMessage(beast::buffers_to_string(self->buffer_.data()));
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }
  void OnMessage(const std::string& m) {
    if (m.empty()) return;
    if (m[0] == '0') return Send("40");                 // OPEN -> CONNECT
    if (m == "2") return Send("3");                     // ping -> pong
    if (m.rfind("40", 0) == 0 && !joined_) {            // CONNECT ok -> join the store
      joined_ = true;
      return Send("420[\"selectStore\",\"" + s_.store + "\"]");
    }
    if (m.rfind("430", 0) == 0) {                       // ack of selectStore
      ++s_.joined;
      return;
    }
    if (m.rfind("42[\"autoSyncProgress\"", 0) == 0) {
      const int64_t now = NowUs();
      const size_t at = m.find("\"sentAtUs\":");
      if (at != std::string::npos) s_.latencies_us.push_back(now - std::stoll(m.substr(at + 11)));
      s_.last_receive_us = now;
      if (++received_ == s_.events) ++s_.done;
    }
  }
  void Fail() {
    if (!failed_) ++s_.failures;
    failed_ = true;
  }

  Shared& s_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::vector<std::string> out_;
  bool joined_ = false;
  bool failed_ = false;
  int received_ = 0;
};

std::string Post(int port, const std::string& target, const std::string& body) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res.body();
}

bool WaitFor(const std::atomic<int>& counter, int value, int timeout_s) {
  const int64_t deadline = NowUs() + int64_t{timeout_s} * 1'000'000;
  while (counter.load() < value && NowUs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return counter.load() >= value;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  const int port = std::atoi(args["port"].c_str());
  const int pid = std::atoi(args["server_pid"].c_str());
  const int clients = args.count("clients") ? std::atoi(args["clients"].c_str()) : 1000;
  const int events = args.count("events") ? std::atoi(args["events"].c_str()) : 100;
  const int payload = args.count("payload") ? std::atoi(args["payload"].c_str()) : 200;
  const int interval_ms = args.count("interval_ms") ? std::atoi(args["interval_ms"].c_str()) : 0;
  const std::string label = args.count("label") ? args["label"] : "server";
  if (port <= 0 || pid <= 0) {
    std::cerr << "usage: fanout_bench --port=P --server_pid=PID [--clients=N] [--events=M]\n";
    return 2;
  }
  Shared s;
  s.port = port;
  s.store = args.count("store") ? args["store"] : "bench";
  s.events = events;
  s.latencies_us.reserve(static_cast<size_t>(clients) * events);

  const int64_t rss_before = RssKb(pid);
  std::vector<std::shared_ptr<Client>> all;
  for (int i = 0; i < clients; ++i) all.push_back(std::make_shared<Client>(s));
  for (auto& c : all) c->Start();
  std::thread io([&] { s.ioc.run(); });
  if (!WaitFor(s.joined, clients, 120)) {
    std::cerr << "only " << s.joined << " of " << clients << " joined, " << s.failures
              << " failures\n";
    s.ioc.stop();
    io.join();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server settle
  const int64_t rss_after = RssKb(pid);
  const int64_t cpu_before = CpuUs(pid);
  const std::string body = "{\"store\":\"" + s.store + "\",\"count\":" + std::to_string(events) +
                           ",\"payloadBytes\":" + std::to_string(payload) +
                           ",\"intervalMs\":" + std::to_string(interval_ms) +
                           ",\"runId\":\"bench\"}";
  const std::string answer = Post(port, "/bench/broadcast", body);
  const bool complete = WaitFor(s.done, clients, 120);
  const int64_t cpu_after = CpuUs(pid);
  s.ioc.stop();
  io.join();

  int64_t start_us = 0;
  const size_t at = answer.find("\"startUs\":");
  if (at != std::string::npos) start_us = std::stoll(answer.substr(at + 10));
  std::vector<int64_t>& lat = s.latencies_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))] / 1000.0;
  };
  const double delivered = static_cast<double>(lat.size());
  const double seconds = (s.last_receive_us.load() - start_us) / 1e6;
  std::printf(
      "| %s | %d | %d | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f |%s\n", label.c_str(), clients,
      events, payload, delivered, seconds > 0 ? delivered / seconds : 0.0,
      delivered > 0 ? (cpu_after - cpu_before) / delivered : 0.0, pct(0.50), pct(0.99),
      clients > 0 ? (rss_after - rss_before) / static_cast<double>(clients) : 0.0,
      complete ? "" : "(INCOMPLETE)");
  std::fflush(stdout);
  return complete ? 0 : 1;
}
