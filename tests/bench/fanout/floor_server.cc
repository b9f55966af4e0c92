// The kernel floor of the fan-out benchmark (issue #9): a plain-WebSocket server with exactly the
// contract of node_ws_server.js (GET /ws, `{"event":"selectStore","data":"<store>"}`,
// POST /bench/broadcast) that does the least work physically possible per delivered message. Each
// event's frame is built once and sent to every client with one send() in a tight loop; only a
// send that would block or is partial queues the rest for EPOLLOUT. Measured by the same client in
// the same run as ws-gateway and Node `ws`, it shows what any server costs here.
//
//   fanout_floor_server --port=P [--threads=N]
//
// --threads=N: N epoll threads; WebSocket clients are spread across them round-robin at the
// upgrade, and a broadcast hands each thread its share (its mailbox + an eventfd wake-up).
// Thread 0 also accepts, answers HTTP and paces broadcasts. Listens on 127.0.0.1 only; SIGTERM
// or SIGINT stops it. A bench tool, not a service: a tiny HTTP parser for the bench's own
// requests, with size limits so bad input is refused, not trusted. Client frames, the selectStore
// message and JSON escaping are the gateway's own codec (ws-gateway/ws_frame.h, ws_message.h,
// client_context.h), and request bodies are read with simdjson: none of it is on the path a
// broadcast frame takes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "simdjson.h"
#include "ws-gateway/client_commands.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/codec/ws_frame.h"
#include "ws-gateway/codec/ws_message.h"

namespace {

namespace wsframe = autosync::gateway::wsframe;

constexpr size_t kMaxHttpBytes = 64 * 1024;    // request head + body
constexpr size_t kMaxWsMessage = 64 * 1024;    // client messages are tiny selectStore texts
constexpr size_t kMaxQueuedChunks = 1 << 20;   // a client that never reads is dropped
constexpr int64_t kMaxCount = 1'000'000;       // events per broadcast
constexpr int64_t kMaxPayloadBytes = 1 << 20;  // pad per event
constexpr int64_t kMaxIntervalMs = 3'600'000;
constexpr size_t kReadBuffer = 64 * 1024;
constexpr int kMaxThreads = 64;
constexpr std::string_view kWsGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// CLOCK_MONOTONIC microseconds: what std::chrono::steady_clock reads in the bench client.
int64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

// Sec-WebSocket-Accept (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)), with the libcrypto the
// gateway already links.
std::string WebSocketAccept(std::string_view key) {
  std::string input(key);
  input += kWsGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1) {
    return "";
  }
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(n));
}

// ---------------------------------------------------------------------------------------------
// The broadcast request's members: absent or null take the default, as node's `b.x || d` does,
// and so do "" for a string and false or 0 for a number; a value of another type is refused.

// A string member, or `fallback`; nullopt when it is not a string.
std::optional<std::string> TextField(simdjson::dom::object o, std::string_view key,
                                     std::string_view fallback) {
  simdjson::dom::element v;
  if (o[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::string(fallback);
  std::string_view text;
  if (v.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return std::string(text.empty() ? fallback : text);
}

// An integer member in [min, max], or `fallback`; nullopt when it is not such an integer.
std::optional<int64_t> IntField(simdjson::dom::object o, std::string_view key, int64_t fallback,
                                int64_t min, int64_t max) {
  simdjson::dom::element v;
  if (o[key].get(v) != simdjson::SUCCESS || v.is_null() ||
      (v.is_bool() && !v.get_bool().value_unsafe())) {
    return fallback;
  }
  int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS) return std::nullopt;
  if (n == 0) return fallback;
  if (n < min || n > max) return std::nullopt;
  return n;
}

// ---------------------------------------------------------------------------------------------
// HTTP: one request per connection (the answer closes it).

struct HttpHead {
  std::string method;
  std::string path;                            // without the query
  std::map<std::string, std::string> headers;  // names lower-cased
  size_t size = 0;                             // bytes up to and including the blank line
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// nullopt: the head is incomplete; a head with an empty method: malformed.
std::optional<HttpHead> ParseHttpHead(std::string_view in) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  HttpHead head;
  head.size = end + 4;
  std::string_view rest = in.substr(0, end + 2);
  const size_t line_end = rest.find("\r\n");
  const std::string_view line = rest.substr(0, line_end);
  rest.remove_prefix(line_end + 2);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1 || !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    return head;
  }
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    const std::string_view header = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const size_t colon = header.find(':');
    if (colon == std::string_view::npos || colon == 0) return head;
    head.headers[Lower(header.substr(0, colon))] = std::string(Trim(header.substr(colon + 1)));
  }
  head.method = std::string(line.substr(0, sp1));
  head.path = std::string(target);
  return head;
}

std::string HttpResponse(std::string_view status, std::string_view body) {
  return "HTTP/1.1 " + std::string(status) +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// One unmasked server frame (RFC 6455 §5.2).
std::string ServerFrame(wsframe::Opcode opcode, std::string_view payload) {
  uint8_t header[wsframe::kMaxHeaderSize];
  const size_t size = wsframe::EncodeHeader(opcode, payload.size(), header);
  std::string frame;
  frame.reserve(size + payload.size());
  frame.append(reinterpret_cast<const char*>(header), size);
  frame.append(payload);
  return frame;
}

// ---------------------------------------------------------------------------------------------
// The server.

using Bytes = std::shared_ptr<const std::string>;

// What an epoll entry points at.
enum class Kind { kListener, kMailbox, kSignal, kTimer, kHttp, kWs };

struct Watch {
  explicit Watch(Kind k) : kind(k) {}
  Kind kind;
};

struct Broadcast;

struct Chunk {
  Bytes bytes;
  size_t offset = 0;
};

struct Conn : Watch {
  Conn(Kind k, int f) : Watch(k), fd(f) {}
  int fd;
  bool closed = false;
  bool close_when_sent = false;  // after the HTTP answer or our close frame
  bool want_out = false;         // EPOLLOUT registered
  std::string in;                // HTTP: the request so far
  std::deque<Chunk> out;         // bytes a send could not take yet, in order
  // WebSocket
  std::string store;
  bool in_room = false;
  size_t room_index = 0;
  std::optional<wsframe::Reader> reader;  // its client frames (incomplete ones held inside)
  // HTTP: the broadcast this POST waits for
  Broadcast* broadcast = nullptr;
};

struct Broadcast : Watch {
  Broadcast() : Watch(Kind::kTimer) {}
  uint64_t id = 0;
  int timer_fd = -1;
  bool finished = false;
  Conn* http = nullptr;  // cleared if the requester goes away first
  std::string store, event, run_id, pad;
  int64_t count = 1, interval_ms = 0, next_seq = 0, start_us = 0, recipients = 0;
  std::shared_ptr<std::atomic<int>> pending;  // threads yet to send the last event
};

struct Message {
  enum class Type { kClient, kSend, kDone, kStop };
  Type type = Type::kStop;
  int fd = -1;                                // kClient: an upgraded socket
  std::string first_out;                      // kClient: the 101 answer
  std::string leftover;                       // kClient: bytes read behind the upgrade request
  std::string store;                          // kSend
  Bytes frame;                                // kSend
  bool last = false;                          // kSend: the broadcast's last event
  uint64_t broadcast_id = 0;                  // kSend, kDone
  std::shared_ptr<std::atomic<int>> pending;  // kSend
};

class Worker;

struct Shared {
  std::vector<std::unique_ptr<Worker>> workers;
  std::mutex rooms_mu;
  std::unordered_map<std::string, int64_t> room_sizes;  // under rooms_mu
};

class Worker final {
 public:
  Worker(Shared& shared, int index) : shared_(shared), index_(index) {}
  ~Worker() {
    for (auto& [ptr, conn] : conns_) ::close(conn->fd);
    for (auto& [id, b] : broadcasts_) {
      if (b->timer_fd >= 0) ::close(b->timer_fd);
    }
    for (const int fd : {epoll_fd_, mailbox_fd_, listen_fd_, signal_fd_}) {
      if (fd >= 0) ::close(fd);
    }
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool Init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    mailbox_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return epoll_fd_ >= 0 && mailbox_fd_ >= 0 && Add(mailbox_fd_, &mailbox_watch_, EPOLLIN);
  }

  // Thread 0 only: the listening socket and the stop signals.
  bool Listen(int port, int signal_fd) {
    signal_fd_ = signal_fd;
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return false;
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, SOMAXCONN) != 0) {
      return false;
    }
    return Add(listen_fd_, &listener_watch_, EPOLLIN) && Add(signal_fd_, &signal_watch_, EPOLLIN);
  }

  void Post(Message m) {
    {
      std::lock_guard<std::mutex> lock(mailbox_mu_);
      mailbox_.push_back(std::move(m));
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(mailbox_fd_, &one, sizeof one);
  }

  void Run() {
    epoll_event events[256];
    while (!stop_) {
      const int n = epoll_wait(epoll_fd_, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("floor: epoll_wait");
        break;
      }
      for (int i = 0; i < n; ++i) Dispatch(events[i]);
      dead_conns_.clear();  // freed only after the batch: later entries may point at them
      dead_broadcasts_.clear();
    }
    // How often the slow path ran (a send that would block or was partial): shows it was exercised.
    std::fprintf(stderr, "floor: thread %d: %llu writes queued for EPOLLOUT\n", index_,
                 static_cast<unsigned long long>(queued_sends_));
    if (index_ == 0) {
      for (size_t w = 1; w < shared_.workers.size(); ++w) {
        shared_.workers[w]->Post(Message{});  // kStop
      }
    }
  }

 private:
  bool Add(int fd, Watch* watch, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = watch;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  void Modify(Conn* c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void Dispatch(const epoll_event& ev) {
    auto* watch = static_cast<Watch*>(ev.data.ptr);
    switch (watch->kind) {
      case Kind::kListener:
        return Accept();
      case Kind::kMailbox:
        return DrainMailbox();
      case Kind::kSignal:
        stop_ = true;
        return;
      case Kind::kTimer: {
        auto* b = static_cast<Broadcast*>(watch);
        uint64_t expirations = 0;
        [[maybe_unused]] const ssize_t n = ::read(b->timer_fd, &expirations, sizeof expirations);
        if (!b->finished) FireEvents(b);
        return;
      }
      case Kind::kHttp:
      case Kind::kWs: {
        auto* c = static_cast<Conn*>(watch);
        if (c->closed) return;
        if ((ev.events & EPOLLOUT) != 0) Flush(c);
        if (c->closed) return;
        if ((ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
          if (c->kind == Kind::kHttp) {
            ReadHttp(c);
          } else {
            ReadWs(c);
          }
        }
        return;
      }
    }
  }

  Conn* NewConn(Kind kind, int fd) {
    auto conn = std::make_unique<Conn>(kind, fd);
    Conn* c = conn.get();
    if (!Add(fd, c, EPOLLIN)) {
      ::close(fd);
      return nullptr;
    }
    conns_.emplace(c, std::move(conn));
    return c;
  }

  void CloseConn(Conn* c) {
    if (c->closed) return;
    c->closed = true;
    LeaveRoom(c);
    if (c->broadcast != nullptr) c->broadcast->http = nullptr;
    ::close(c->fd);  // also leaves the epoll set
    auto it = conns_.find(c);
    dead_conns_.push_back(std::move(it->second));
    conns_.erase(it);
  }

  // ------------------------------------------------------------------ output

  // Sends `bytes` behind whatever is queued. False if the connection is broken (the caller closes
  // it, now or after its loop). The one thing done per delivered broadcast message: one send();
  // only a send that would block or is partial queues the rest for EPOLLOUT.
  bool Write(Conn* c, const Bytes& bytes) {
    size_t sent = 0;
    if (c->out.empty()) {
      const ssize_t n = ::send(c->fd, bytes->data(), bytes->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(bytes->size())) return true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      sent = n < 0 ? 0 : static_cast<size_t>(n);
    }
    if (c->out.size() >= kMaxQueuedChunks) return false;
    ++queued_sends_;
    c->out.push_back(Chunk{bytes, sent});
    if (!c->want_out) {
      c->want_out = true;
      Modify(c, EPOLLIN | EPOLLOUT);
    }
    return true;
  }

  void WriteOrClose(Conn* c, std::string bytes) {
    if (!Write(c, std::make_shared<const std::string>(std::move(bytes)))) CloseConn(c);
  }

  // The last bytes of a connection (an HTTP answer, our close frame): it closes once they are
  // sent, here or in Flush.
  void WriteLast(Conn* c, std::string bytes) {
    c->close_when_sent = true;
    WriteOrClose(c, std::move(bytes));
    if (!c->closed && c->out.empty()) CloseConn(c);
  }

  // EPOLLOUT: the queue in gather sends.
  void Flush(Conn* c) {
    while (!c->out.empty()) {
      iovec iov[64];
      size_t count = 0;
      for (auto it = c->out.begin(); it != c->out.end() && count < 64; ++it, ++count) {
        iov[count].iov_base = const_cast<char*>(it->bytes->data() + it->offset);
        iov[count].iov_len = it->bytes->size() - it->offset;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      const ssize_t n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        return CloseConn(c);
      }
      auto left = static_cast<size_t>(n);
      while (left > 0) {
        Chunk& front = c->out.front();
        const size_t rest = front.bytes->size() - front.offset;
        if (left < rest) {
          front.offset += left;
          return;  // the socket took less than offered: wait for the next EPOLLOUT
        }
        left -= rest;
        c->out.pop_front();
      }
    }
    c->want_out = false;
    Modify(c, EPOLLIN);
    if (c->close_when_sent) CloseConn(c);
  }

  // ------------------------------------------------------------------ HTTP (thread 0)

  void Accept() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) std::perror("floor: accept");
        return;
      }
      // As Node `ws` does: a paced frame must leave now, not wait for an ACK.
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      NewConn(Kind::kHttp, fd);
    }
  }

  void ReadHttp(Conn* c) {
    char buffer[16 * 1024];
    for (;;) {
      const ssize_t n = ::recv(c->fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0) return CloseConn(c);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        return CloseConn(c);
      }
      if (c->broadcast != nullptr || c->close_when_sent) continue;  // answered or answering
      c->in.append(buffer, static_cast<size_t>(n));
      if (c->in.size() > kMaxHttpBytes) {
        return WriteLast(c, HttpResponse("413 Payload Too Large", "{\"error\":\"too large\"}"));
      }
    }
    if (c->broadcast != nullptr || c->close_when_sent || c->in.empty()) return;
    const std::optional<HttpHead> head = ParseHttpHead(c->in);
    if (!head) return;  // more to come
    auto answer = [&](std::string_view status, std::string_view body) {
      WriteLast(c, HttpResponse(status, body));
    };
    if (head->method.empty()) return answer("400 Bad Request", "{\"error\":\"malformed\"}");
    if (head->method == "GET" && head->path == "/ws") return Upgrade(c, *head);
    if (head->method != "POST" || head->path != "/bench/broadcast") {
      return answer("404 Not Found", "{\"error\":\"not found\"}");
    }
    const auto length_it = head->headers.find("content-length");
    size_t length = 0;
    if (length_it != head->headers.end()) {
      const std::string& t = length_it->second;
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), length);
      if (ec != std::errc() || end != t.data() + t.size() || length > kMaxHttpBytes) {
        return answer("400 Bad Request", "{\"error\":\"content-length\"}");
      }
    }
    if (c->in.size() < head->size + length) return;  // the body is still coming
    simdjson::dom::parser parser;
    simdjson::dom::object body;
    if (parser.parse(c->in.data() + head->size, length).get(body) != simdjson::SUCCESS) {
      return answer("400 Bad Request", "{\"error\":\"body is not a JSON object\"}");
    }
    StartBroadcast(c, body);
  }

  void Upgrade(Conn* c, const HttpHead& head) {
    const auto header = [&](const char* name) {
      const auto it = head.headers.find(name);
      return it == head.headers.end() ? std::string() : it->second;
    };
    const std::string key = header("sec-websocket-key");
    if (Lower(header("upgrade")).find("websocket") == std::string::npos || key.empty() ||
        header("sec-websocket-version") != "13") {
      return WriteLast(c, HttpResponse("400 Bad Request", "{\"error\":\"not an upgrade\"}"));
    }
    Message m;
    m.type = Message::Type::kClient;
    m.fd = c->fd;
    m.first_out =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
        WebSocketAccept(key) + "\r\n\r\n";
    m.leftover = c->in.substr(head.size);
    // The socket changes hands: out of this epoll set, its Conn retired without closing it.
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    c->closed = true;
    auto it = conns_.find(c);
    dead_conns_.push_back(std::move(it->second));
    conns_.erase(it);
    const size_t target = next_worker_++ % shared_.workers.size();  // round-robin
    if (target == 0) {
      AdoptClient(std::move(m));
    } else {
      shared_.workers[target]->Post(std::move(m));
    }
  }

  // ------------------------------------------------------------------ broadcast (thread 0)

  void StartBroadcast(Conn* http, simdjson::dom::object body) {
    std::string_view store;
    const std::optional<std::string> event = TextField(body, "event", "autoSyncProgress");
    const std::optional<std::string> run_id = TextField(body, "runId", "bench");
    const std::optional<int64_t> count = IntField(body, "count", 1, 1, kMaxCount);
    const std::optional<int64_t> pad = IntField(body, "payloadBytes", 0, 0, kMaxPayloadBytes);
    const std::optional<int64_t> interval = IntField(body, "intervalMs", 0, 0, kMaxIntervalMs);
    if (body["store"].get_string().get(store) != simdjson::SUCCESS || !event || !run_id || !count ||
        !pad || !interval) {
      return WriteLast(http, HttpResponse("400 Bad Request", "{\"error\":\"bad field\"}"));
    }
    auto owned = std::make_unique<Broadcast>();
    Broadcast* b = owned.get();
    b->id = ++last_broadcast_id_;
    b->http = http;
    http->broadcast = b;
    b->store = std::string(store);
    b->event = *event;
    b->run_id = *run_id;
    b->pad.assign(static_cast<size_t>(*pad), 'x');
    b->count = *count;
    b->interval_ms = *interval;
    b->pending = std::make_shared<std::atomic<int>>(static_cast<int>(shared_.workers.size()));
    if (b->interval_ms > 0 && b->count > 1) {
      b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      if (b->timer_fd < 0 || !Add(b->timer_fd, b, EPOLLIN)) {
        if (b->timer_fd >= 0) ::close(b->timer_fd);
        b->timer_fd = -1;
        http->broadcast = nullptr;
        return WriteLast(http, HttpResponse("500 Internal Server Error", "{}"));
      }
    }
    {
      std::lock_guard<std::mutex> lock(shared_.rooms_mu);
      const auto it = shared_.room_sizes.find(b->store);
      b->recipients = it == shared_.room_sizes.end() ? 0 : it->second;
    }
    broadcasts_.emplace(b->id, std::move(owned));
    b->start_us = NowUs();
    FireEvents(b);
  }

  // The next event (paced) or all of them (burst); each frame is built once, handed to the other
  // threads first so that they send in parallel, then sent to this thread's own clients.
  void FireEvents(Broadcast* b) {
    for (;;) {
      const int64_t now = NowUs();
      const int64_t seq = b->next_seq++;
      const bool last = seq + 1 == b->count;
      std::string json;
      json.reserve(b->pad.size() + b->event.size() + b->store.size() + b->run_id.size() + 96);
      json += "{\"event\":";
      autosync::gateway::AppendJsonString(&json, b->event);
      json += ",\"data\":{\"storeId\":";
      autosync::gateway::AppendJsonString(&json, b->store);
      json += ",\"runId\":";
      autosync::gateway::AppendJsonString(&json, b->run_id);
      json += ",\"seq\":" + std::to_string(seq) + ",\"sentAtUs\":" + std::to_string(now) +
              ",\"pad\":\"";
      json += b->pad;
      json += "\"}}";
      const Bytes frame = std::make_shared<const std::string>(ServerFrame(wsframe::kText, json));
      for (size_t w = 1; w < shared_.workers.size(); ++w) {
        Message m;
        m.type = Message::Type::kSend;
        m.store = b->store;
        m.frame = frame;
        m.last = last;
        m.broadcast_id = b->id;
        m.pending = b->pending;
        shared_.workers[w]->Post(std::move(m));
      }
      SendToRoom(b->store, frame);
      if (last) {
        if (b->pending->fetch_sub(1) == 1) FinishBroadcast(b);
        return;
      }
      if (b->interval_ms > 0) {
        // The next event intervalMs after this one's start; the loop serves reads meanwhile.
        const int64_t due_ns = (now + b->interval_ms * 1000) * 1000;
        itimerspec spec{};
        spec.it_value.tv_sec = static_cast<time_t>(due_ns / 1'000'000'000);
        spec.it_value.tv_nsec = static_cast<long>(due_ns % 1'000'000'000);
        timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &spec, nullptr);
        return;
      }
    }
  }

  void FinishBroadcast(Broadcast* b) {
    b->finished = true;
    const int64_t end_us = NowUs();
    if (b->http != nullptr) {
      Conn* http = b->http;
      http->broadcast = nullptr;
      WriteLast(http,
                HttpResponse("200 OK", "{\"emitted\":" + std::to_string(b->count) +
                                           ",\"recipients\":" + std::to_string(b->recipients) +
                                           ",\"startUs\":" + std::to_string(b->start_us) +
                                           ",\"endUs\":" + std::to_string(end_us) + "}"));
    }
    if (b->timer_fd >= 0) ::close(b->timer_fd);
    b->timer_fd = -1;
    auto it = broadcasts_.find(b->id);
    dead_broadcasts_.push_back(std::move(it->second));
    broadcasts_.erase(it);
  }

  // The whole per-message path: one send() per client of the room on this thread.
  void SendToRoom(const std::string& store, const Bytes& frame) {
    const auto room = rooms_.find(store);
    if (room == rooms_.end()) return;
    for (Conn* c : room->second) {
      if (!Write(c, frame)) broken_.push_back(c);
    }
    // Closing edits the room, so it waits until the loop is done.
    for (Conn* c : broken_) CloseConn(c);
    broken_.clear();
  }

  // ------------------------------------------------------------------ mailbox

  void DrainMailbox() {
    uint64_t value = 0;
    [[maybe_unused]] const ssize_t n = ::read(mailbox_fd_, &value, sizeof value);
    std::vector<Message> batch;
    {
      std::lock_guard<std::mutex> lock(mailbox_mu_);
      batch.swap(mailbox_);
    }
    for (Message& m : batch) {
      switch (m.type) {
        case Message::Type::kClient:
          AdoptClient(std::move(m));
          break;
        case Message::Type::kSend:
          SendToRoom(m.store, m.frame);
          if (m.last && m.pending->fetch_sub(1) == 1) {
            Message done;
            done.type = Message::Type::kDone;
            done.broadcast_id = m.broadcast_id;
            shared_.workers[0]->Post(std::move(done));
          }
          break;
        case Message::Type::kDone: {
          const auto it = broadcasts_.find(m.broadcast_id);
          if (it != broadcasts_.end()) FinishBroadcast(it->second.get());
          break;
        }
        case Message::Type::kStop:
          stop_ = true;
          break;
      }
    }
  }

  // ------------------------------------------------------------------ WebSocket clients

  void AdoptClient(Message m) {
    Conn* c = NewConn(Kind::kWs, m.fd);
    if (c == nullptr) return;
    c->reader.emplace(kMaxWsMessage);
    WriteOrClose(c, std::move(m.first_out));
    if (!c->closed && !m.leftover.empty()) FeedFrames(c, m.leftover.data(), m.leftover.size());
  }

  void ReadWs(Conn* c) {
    for (;;) {
      const ssize_t n = ::recv(c->fd, read_buffer_, sizeof read_buffer_, MSG_DONTWAIT);
      if (n == 0) return CloseConn(c);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        return CloseConn(c);
      }
      const auto size = static_cast<size_t>(n);
      if (c->close_when_sent) continue;  // closing: input is dropped
      FeedFrames(c, read_buffer_, size);
      if (c->closed) return;
      if (size < sizeof read_buffer_) return;
    }
  }

  // Closes with a close frame carrying `code` (RFC 6455 §7.4).
  void CloseWith(Conn* c, uint16_t code) {
    WriteLast(c, ServerFrame(wsframe::kClose, wsframe::ClosePayload(code, "")));
  }

  // Client frames (the gateway's reader: masked, maybe fragmented, control frames between, the
  // message size limit). Text messages go to OnText, pings are answered, a close is echoed.
  void FeedFrames(Conn* c, char* data, size_t size) {
    const std::optional<wsframe::FrameError> error =
        c->reader->Feed(data, size, [&](wsframe::Opcode opcode, absl::string_view payload) {
          const std::string_view bytes(payload.data(), payload.size());
          switch (opcode) {
            case wsframe::kText:
              OnText(c, bytes);
              break;
            case wsframe::kPing:
              WriteOrClose(c, ServerFrame(wsframe::kPong, bytes));
              break;
            case wsframe::kClose:  // echo the status code, then close
              WriteLast(c, ServerFrame(wsframe::kClose, bytes.substr(0, 2)));
              return false;
            default:  // binary messages and pongs: ignored
              break;
          }
          return !c->closed && !c->close_when_sent;
        });
    if (error.has_value() && !c->closed && !c->close_when_sent) CloseWith(c, error->code);
  }

  // `{"event":"selectStore","data":"<store>"}` (or data {storeId}), as node_ws_server.js; any
  // other message is ignored, as there.
  void OnText(Conn* c, std::string_view text) {
    const absl::StatusOr<autosync::gateway::WsMessage> m =
        autosync::gateway::ParseWsMessage(text, kMaxWsMessage);
    if (!m.ok() || m->event != "selectStore") return;
    absl::StatusOr<std::string> store = autosync::gateway::ParseStoreArgument(m->data);
    if (store.ok()) JoinRoom(c, *store);
  }

  void JoinRoom(Conn* c, const std::string& store) {
    LeaveRoom(c);
    std::vector<Conn*>& room = rooms_[store];
    c->store = store;
    c->in_room = true;
    c->room_index = room.size();
    room.push_back(c);
    std::lock_guard<std::mutex> lock(shared_.rooms_mu);
    ++shared_.room_sizes[store];
  }

  void LeaveRoom(Conn* c) {
    if (!c->in_room) return;
    c->in_room = false;
    const auto it = rooms_.find(c->store);
    std::vector<Conn*>& room = it->second;
    room[c->room_index] = room.back();
    room[c->room_index]->room_index = c->room_index;
    room.pop_back();
    if (room.empty()) rooms_.erase(it);
    std::lock_guard<std::mutex> lock(shared_.rooms_mu);
    if (--shared_.room_sizes[c->store] == 0) shared_.room_sizes.erase(c->store);
  }

  Shared& shared_;
  const int index_;
  int epoll_fd_ = -1;
  int mailbox_fd_ = -1;
  int listen_fd_ = -1;
  int signal_fd_ = -1;
  bool stop_ = false;
  Watch mailbox_watch_{Kind::kMailbox};
  Watch listener_watch_{Kind::kListener};
  Watch signal_watch_{Kind::kSignal};
  std::mutex mailbox_mu_;
  std::vector<Message> mailbox_;  // under mailbox_mu_
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> dead_conns_;
  std::unordered_map<std::string, std::vector<Conn*>> rooms_;  // this thread's clients by store
  std::vector<Conn*> broken_;
  uint64_t queued_sends_ = 0;
  char read_buffer_[kReadBuffer];
  // Thread 0
  std::unordered_map<uint64_t, std::unique_ptr<Broadcast>> broadcasts_;
  std::vector<std::unique_ptr<Broadcast>> dead_broadcasts_;
  uint64_t last_broadcast_id_ = 0;
  size_t next_worker_ = 0;
};

std::optional<int> IntFlag(std::string_view arg, std::string_view name) {
  if (!arg.starts_with(name)) return std::nullopt;
  arg.remove_prefix(name.size());
  int v = 0;
  const auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), v);
  if (ec != std::errc() || end != arg.data() + arg.size()) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (const auto p = IntFlag(arg, "--port=")) {
      port = *p;
    } else if (const auto t = IntFlag(arg, "--threads=")) {
      threads = *t;
    } else {
      port = -1;
      break;
    }
  }
  if (port <= 0 || port > 65535 || threads < 1 || threads > kMaxThreads) {
    std::fprintf(stderr, "usage: fanout_floor_server --port=P [--threads=N (1..%d)]\n",
                 kMaxThreads);
    return 2;
  }
  // One descriptor per client: as many as the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::signal(SIGPIPE, SIG_IGN);
  // SIGTERM/SIGINT arrive on thread 0's signalfd: blocked here, before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);

  Shared shared;
  for (int i = 0; i < threads; ++i) {
    shared.workers.push_back(std::make_unique<Worker>(shared, i));
    if (!shared.workers.back()->Init()) {
      std::perror("floor: epoll/eventfd");
      return 1;
    }
  }
  if (signal_fd < 0 || !shared.workers[0]->Listen(port, signal_fd)) {
    std::perror("floor: listen");
    return 1;
  }
  std::printf("listening %d (%d thread%s)\n", port, threads, threads == 1 ? "" : "s");
  std::fflush(stdout);
  std::vector<std::thread> others;
  for (int i = 1; i < threads; ++i) others.emplace_back([&shared, i] { shared.workers[i]->Run(); });
  shared.workers[0]->Run();
  for (std::thread& t : others) t.join();
  shared.workers.clear();
  return 0;
}
