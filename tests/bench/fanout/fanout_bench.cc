// Fan-out benchmark client (not a test): N clients join one store, then the server under test
// broadcasts M events via POST /bench/broadcast. Clients speak Socket.IO over the websocket
// transport (--protocol=sio: raw Engine.IO v4 / Socket.IO v5 frames, the same bytes
// socket.io-client sends; joined = selectStore acked) or the plain /ws protocol (--protocol=ws:
// `{"event":…,"data":…}` text frames; there is no ack, so joined = has received a `benchProbe`
// event, which the bench broadcasts until every client has seen one). Prints one Markdown row:
// delivered, lost, delivered/s, server CPU µs per delivered message, latency p50/p99 (server
// steady clock at send -> client steady clock at receipt; same machine, same CLOCK_MONOTONIC),
// server RSS per idle connection, and this client's own CPU µs per delivered message. Connects at
// most 256 clients at a time (listen backlog).
//
//   fanout_bench --port=8080 --server_pid=PID [--protocol=sio|ws] [--clients=1000]
//                [--events=100] [--payload=200] [--interval_ms=0] [--store=bench] [--label=NAME]
//                [--timeout_s=120]
#include <unistd.h>

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
#include <string_view>
#include <thread>
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

class Client;

struct Shared {
  asio::io_context ioc;
  int port = 0;
  bool plain_ws = false;  // --protocol=ws
  std::string store;
  int events = 0;
  std::vector<std::shared_ptr<Client>> pending;  // not yet connecting (io thread only)
  int connecting = 0;                            // io thread only
  std::atomic<int> joined{0}, done{0}, failures{0};
  std::atomic<int64_t> last_receive_us{0};
  std::vector<int64_t> latencies_us;  // only touched on the io thread
};

constexpr int kMaxConnecting = 256;

// Starts queued clients while fewer than kMaxConnecting handshakes are in flight (io thread).
void StartMore(Shared& s);

// One client. It sends the HTTP upgrade itself, then reads and writes RFC 6455
// frames itself (server frames are unmasked, its own are masked with a zero key), waiting for
// readability and reading into one buffer shared by all clients (one io thread). Beast's
// per-message read path cost several µs per frame, which at 5k clients put the client, not the
// server, on the critical path of paced latency.
class Client : public std::enable_shared_from_this<Client> {
 public:
  explicit Client(Shared& s) : s_(s), socket_(s.ioc) {}
  void Start() {
    ++s_.connecting;
    socket_.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(s_.port)),
        [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->Connected(false);
          self->Handshake();
        });
  }

 private:
  // The HTTP upgrade, by hand: frames the server sends right behind its 101 (Engine.IO's OPEN)
  // must stay in pending_, which a borrowed Beast stream would swallow.
  void Handshake() {
    auto request = std::make_shared<std::string>(
        std::string("GET ") + (s_.plain_ws ? "/ws" : "/socket.io/?EIO=4&transport=websocket") +
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    asio::async_write(
        socket_, asio::buffer(*request),
        [self = shared_from_this(), request](beast::error_code ec, size_t) {
          if (ec) return self->Connected(false);
          asio::async_read_until(
              self->socket_, asio::dynamic_buffer(self->pending_), "\r\n\r\n",
              [self](beast::error_code ec2, size_t header_bytes) {
                if (ec2 || self->pending_.rfind("HTTP/1.1 101", 0) != 0) {
                  return self->Connected(false);
                }
                self->pending_.erase(0, header_bytes);
                self->Connected(true);
                beast::error_code nb;
                self->socket_.non_blocking(true, nb);
                if (self->s_.plain_ws) {
                  self->Send("{\"event\":\"selectStore\",\"data\":\"" + self->s_.store + "\"}");
                }
                const size_t used = self->Parse(self->pending_.data(), self->pending_.size());
                if (self->failed_) return;
                self->pending_.erase(0, used);
                self->WaitRead();
              });
        });
  }

  // A masked text frame (zero key: the payload goes as is).
  void Send(const std::string& text, uint8_t opcode = 0x1) {
    auto frame = std::make_shared<std::string>();
    frame->push_back(static_cast<char>(0x80 | opcode));
    if (text.size() < 126) {
      frame->push_back(static_cast<char>(0x80 | text.size()));
    } else {
      frame->push_back(static_cast<char>(0x80 | 126));
      frame->push_back(static_cast<char>(text.size() >> 8));
      frame->push_back(static_cast<char>(text.size() & 0xFF));
    }
    frame->append(4, '\0');
    frame->append(text);
    asio::async_write(socket_, asio::buffer(*frame),
                      [self = shared_from_this(), frame](beast::error_code ec, size_t) {
                        if (ec) self->Fail();
                      });
  }
  void WaitRead() {
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Fail();
      self->OnReadable();
    });
  }
  void OnReadable() {
    static char buffer[64 * 1024];  // one io thread
    for (;;) {
      beast::error_code ec;
      const size_t n = socket_.read_some(asio::buffer(buffer, sizeof buffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return Fail();
      if (pending_.empty()) {
        const size_t used = Parse(buffer, n);
        if (failed_) return;
        pending_.assign(buffer + used, n - used);
      } else {
        pending_.append(buffer, n);
        const size_t used = Parse(pending_.data(), pending_.size());
        if (failed_) return;
        pending_.erase(0, used);
      }
      if (n < sizeof buffer) break;
    }
    WaitRead();
  }
  // Whole server frames at the front of [data, data+size); returns the bytes used.
  size_t Parse(const char* data, size_t size) {
    size_t at = 0;
    while (size - at >= 2) {
      const auto* p = reinterpret_cast<const uint8_t*>(data + at);
      const uint8_t opcode = p[0] & 0x0F;
      uint64_t length = p[1] & 0x7F;
      size_t header = 2;
      if (length == 126) {
        if (size - at < 4) break;
        length = (uint64_t{p[2]} << 8) | p[3];
        header = 4;
      } else if (length == 127) {
        if (size - at < 10) break;
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
        header = 10;
      }
      if (size - at - header < length) break;
      const std::string_view payload(data + at + header, static_cast<size_t>(length));
      at += header + static_cast<size_t>(length);
      if (opcode == 0x8) {  // close
        Fail();
        return at;
      }
      if (opcode == 0x9) {
        Send(std::string(payload), 0xA);  // pong
        continue;
      }
      if (opcode == 0x1 || opcode == 0x2) OnMessage(payload);
    }
    return at;
  }
  void Connected(bool ok) {
    --s_.connecting;
    if (!ok) Fail();
    StartMore(s_);
  }
  void OnMessage(std::string_view m) {
    if (m.empty()) return;
    if (s_.plain_ws) {
      if (m.starts_with("{\"event\":\"benchProbe\"")) {
        if (!joined_) ++s_.joined;
        joined_ = true;
      } else if (m.starts_with("{\"event\":\"autoSyncProgress\"")) {
        Received(m);
      }
      return;
    }
    if (m[0] == '0') return Send("40");     // OPEN -> CONNECT
    if (m == "2") return Send("3");         // ping -> pong
    if (m.starts_with("40") && !joined_) {  // CONNECT ok -> join the store
      joined_ = true;
      return Send("420[\"selectStore\",\"" + s_.store + "\"]");
    }
    if (m.starts_with("430")) {  // ack of selectStore
      ++s_.joined;
      return;
    }
    if (m.starts_with("42[\"autoSyncProgress\"")) Received(m);
  }
  void Received(std::string_view m) {
    const int64_t now = NowUs();
    constexpr std::string_view kKey = "\"sentAtUs\":";
    const size_t at = m.find(kKey);
    if (at != std::string_view::npos) {
      int64_t sent = 0;
      for (size_t i = at + kKey.size(); i < m.size() && m[i] >= '0' && m[i] <= '9'; ++i) {
        sent = sent * 10 + (m[i] - '0');
      }
      s_.latencies_us.push_back(now - sent);
    }
    s_.last_receive_us = now;
    if (++received_ == s_.events) ++s_.done;
  }
  void Fail() {
    if (!failed_) ++s_.failures;
    failed_ = true;
    beast::error_code ignored;
    socket_.close(ignored);
  }

  Shared& s_;
  tcp::socket socket_;
  std::string pending_;  // an incomplete frame
  bool joined_ = false;
  bool failed_ = false;
  int received_ = 0;
};

void StartMore(Shared& s) {
  while (s.connecting < kMaxConnecting && !s.pending.empty()) {
    std::shared_ptr<Client> next = std::move(s.pending.back());
    s.pending.pop_back();
    next->Start();
  }
}

// POST to the server under test; "" if it cannot be reached (the caller reports what is missing).
std::string Post(int port, const std::string& target, const std::string& body) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.socket().connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), ec);
  if (ec) return "";
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return "";
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return "";
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
  const std::string protocol = args.count("protocol") ? args["protocol"] : "sio";
  const int timeout_s = args.count("timeout_s") ? std::atoi(args["timeout_s"].c_str()) : 120;
  if (port <= 0 || pid <= 0 || (protocol != "sio" && protocol != "ws") || clients < 1 ||
      events < 1 || timeout_s < 1) {
    std::cerr << "usage: fanout_bench --port=P --server_pid=PID [--protocol=sio|ws] "
                 "[--clients=N] [--events=M] [--timeout_s=S]\n";
    return 2;
  }
  Shared s;
  s.port = port;
  s.plain_ws = protocol == "ws";
  s.store = args.count("store") ? args["store"] : "bench";
  s.events = events;
  s.latencies_us.reserve(static_cast<size_t>(clients) * events);

  const int64_t rss_before = RssKb(pid);
  std::vector<std::shared_ptr<Client>> all;
  for (int i = 0; i < clients; ++i) all.push_back(std::make_shared<Client>(s));
  s.pending = all;
  asio::post(s.ioc, [&s] { StartMore(s); });
  auto work = asio::make_work_guard(s.ioc);
  std::thread io([&] { s.ioc.run(); });
  if (s.plain_ws) {
    // No ack on /ws: broadcast probes until every client has received one (bounded).
    const std::string probe =
        "{\"store\":\"" + s.store + "\",\"event\":\"benchProbe\",\"count\":1,\"runId\":\"probe\"}";
    const int64_t deadline = NowUs() + int64_t{timeout_s} * 1'000'000;
    while (s.joined.load() < clients && NowUs() < deadline &&
           s.joined.load() + s.failures.load() < clients) {
      Post(port, "/bench/broadcast", probe);
      WaitFor(s.joined, clients, 1);
    }
  }
  if (!WaitFor(s.joined, clients, timeout_s)) {
    std::cerr << "only " << s.joined << " of " << clients << " joined, " << s.failures
              << " failures\n";
    work.reset();
    s.ioc.stop();
    io.join();
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the server settle
  const int64_t rss_after = RssKb(pid);
  const int64_t cpu_before = CpuUs(pid);
  const int64_t client_cpu_before = CpuUs(getpid());
  const std::string body = "{\"store\":\"" + s.store + "\",\"count\":" + std::to_string(events) +
                           ",\"payloadBytes\":" + std::to_string(payload) +
                           ",\"intervalMs\":" + std::to_string(interval_ms) +
                           ",\"runId\":\"bench\"}";
  const std::string answer = Post(port, "/bench/broadcast", body);
  const bool complete = WaitFor(s.done, clients, timeout_s);
  const int64_t cpu_after = CpuUs(pid);
  const int64_t client_cpu_after = CpuUs(getpid());
  s.ioc.stop();
  io.join();

  int64_t start_us = 0;
  const size_t at = answer.find("\"startUs\":");
  if (at != std::string::npos) start_us = std::stoll(answer.substr(at + 10));
  std::vector<int64_t>& lat = s.latencies_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty()
               ? 0.0
               : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))] / 1000.0;
  };
  const double delivered = static_cast<double>(lat.size());
  const double lost = static_cast<double>(clients) * events - delivered;
  const double seconds = (s.last_receive_us.load() - start_us) / 1e6;
  // server | protocol | clients | events | payload B | interval ms | delivered | lost |
  // delivered/s | server CPU µs/msg | p50 ms | p99 ms | RSS KiB/idle conn | client CPU µs/msg
  // (the last one shows whether this client, rather than the server, bounds the latency)
  std::printf(
      "| %s | %s | %d | %d | %d | %d | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %.2f |%s\n",
      label.c_str(), protocol.c_str(), clients, events, payload, interval_ms, delivered, lost,
      seconds > 0 ? delivered / seconds : 0.0,
      delivered > 0 ? (cpu_after - cpu_before) / delivered : 0.0, pct(0.50), pct(0.99),
      (rss_after - rss_before) / static_cast<double>(clients),
      delivered > 0 ? (client_cpu_after - client_cpu_before) / delivered : 0.0,
      complete ? "" : " INCOMPLETE");
  std::fflush(stdout);
  return complete ? 0 : 1;
}
