#include "ws-gateway/server.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "common/log.h"
#include "ws-gateway/codec/ws_frame.h"
#include "ws-gateway/route_match.h"
#include "ws-gateway/ws_client.h"

namespace autosync::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr size_t kMinRequestBodyBytes = 64 * 1024;
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kCloseGrace = std::chrono::seconds(5);
// The kernel's send buffer per client socket. Left to autotuning, a client that stops reading
// can park up to tcp_wmem's maximum (4 MiB by default) in the kernel before our own queue limit
// (--send_queue_max) even starts counting: 10k such clients would pin gigabytes, and a slow
// consumer would be noticed late. Events are small, so 256 KiB costs no throughput.
constexpr int kSocketSendBufferBytes = 256 * 1024;

class WsConnection;

// The WebSockets of one io_context that have frames in their inbox and no drain yet. A broadcast
// posts one handler per io_context, which drains them all, instead of one per connection:
// asio::post from a thread that is not the context's own costs about 600 instructions (an
// aligned allocation, the any_executor dispatch, the scheduler's lock and queue) and about 300
// more to run, which in paced fan-out (one frame per connection per event) was half of the
// gateway's user-space work per delivered message. Holds weak references: a connection that
// ends meanwhile is skipped, and none is kept alive past its io_context.
class DrainQueue {
 public:
  explicit DrainQueue(asio::io_context& io) : io_(io) {}
  asio::execution_context& context() { return io_; }
  // Any thread.
  void Add(std::weak_ptr<WsConnection> connection) {
    bool post = false;
    {
      absl::MutexLock lock(&mu_);
      ready_.push_back(std::move(connection));
      post = !posted_;
      posted_ = true;
    }
    if (post) asio::post(io_, [this] { Run(); });
  }

 private:
  void Run();  // on the io thread; below WsConnection

  asio::io_context& io_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<WsConnection>> ready_ ABSL_GUARDED_BY(mu_);
  bool posted_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<WsConnection>> running_;  // io thread only; trades buffers with ready_
};

// Live sessions and WebSockets, so Shutdown can close and wait for them; and the drain queue of
// each io_context.
struct Live {
  std::atomic<int> count{0};
  absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<WsSink>> sockets ABSL_GUARDED_BY(mu);
  // Filled before the io threads start, then read only.
  std::vector<std::unique_ptr<DrainQueue>> drains;
  DrainQueue* DrainsFor(asio::execution_context& context) {
    for (auto& d : drains) {
      if (&d->context() == &context) return d.get();
    }
    return nullptr;
  }
};

// One WebSocket after the upgrade. Beast answers the handshake; from then on the connection
// speaks RFC 6455 itself (ws_frame.h), because Beast's stream writes one frame per operation
// (one system call each) and its automatic pongs and close frames would interleave with ours.
// Here every frame queued while the socket is busy goes out in one gather write (sendmsg of
// header + shared payload pairs: server frames are unmasked, so a broadcast's payload bytes are
// the same for every client and never copied). Nothing is read into a per-connection buffer:
// the connection waits for readability and reads into one buffer per io thread. All state
// below is touched on the connection's io thread only, except the inbox.
class WsConnection final : public WsSink, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket&& socket, std::shared_ptr<WsHandler> handler, ClientContext& clients,
               Framing framing, Live& live)
      : socket_(std::move(socket)),
        handler_(std::move(handler)),
        clients_(clients),
        framing_(framing),
        live_(live),
        reader_(clients.limits.max_payload),
        drains_(live.DrainsFor(asio::query(socket_.get_executor(), asio::execution::context))) {
    ++live_.count;
    if (framing_ == Framing::kPlainWs) clients_.metrics.connections(framing_).Increment();
  }
  ~WsConnection() override {
    if (framing_ == Framing::kPlainWs) clients_.metrics.connections(framing_).Decrement();
    --live_.count;
  }

  void Run(http::request<http::string_body> req) {
    {
      absl::MutexLock lock(&live_.mu);
      id_ = live_.next_id++;
      live_.sockets[id_] = weak_from_this();
    }
    // Beast validates the upgrade request and writes the 101 (or a 400); the stream only
    // borrows the socket and is freed once the handshake is done.
    auto handshake = std::make_shared<websocket::stream<tcp::socket&>>(socket_);
    handshake->set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "autosync-ws-gateway");
    }));
    handshake->async_accept(
        req, [self = shared_from_this(), handshake](beast::error_code ec) { self->OnAccept(ec); });
  }

  void Send(std::shared_ptr<const std::string> frame, bool binary) override {
    // Frames wait in an inbox and one drain moves them all onto the io thread: a broadcast burst
    // schedules one drain per connection, not one per frame, and the io_context's DrainQueue
    // runs the drains of all its connections from one posted handler.
    bool schedule = false;
    {
      absl::MutexLock lock(&inbox_mu_);
      inbox_.push_back({std::move(frame), binary});
      schedule = !drain_scheduled_;
      drain_scheduled_ = true;
    }
    if (!schedule) return;
    if (drains_ != nullptr) {
      drains_->Add(weak_from_this());
    } else {
      asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Drain(); });
    }
  }

  void Close(uint16_t code, std::string reason) override {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                 self->StartClose(code, reason);
               });
  }

 private:
  friend class DrainQueue;
  struct Inbound {
    std::shared_ptr<const std::string> frame;
    bool binary;
  };
  // One frame waiting to be written: its header, here, and its payload, shared.
  struct Outgoing {
    std::shared_ptr<const std::string> payload;
    uint8_t header[wsframe::kMaxHeaderSize];
    uint8_t header_size;
    bool close;
    size_t size() const { return header_size + payload->size(); }
  };
  // Frames per sendmsg: 2 iovecs each, well under IOV_MAX.
  static constexpr size_t kFramesPerWrite = 256;
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  // Reads per readiness event before yielding to other connections.
  static constexpr int kReadsPerWakeup = 8;

  void OnAccept(beast::error_code ec) {
    if (ec) return Finish();
    beast::error_code nb_ec;
    socket_.non_blocking(true, nb_ec);
    if (nb_ec) return Finish();
    opened_ = true;
    handler_->OnOpen(weak_from_this());
    WaitReadable();
    Flush();
  }

  void WaitReadable() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](beast::error_code ec) { self->OnReadable(ec); });
  }

  void OnReadable(beast::error_code ec) {
    if (ec || finished_) return Finish();
    // One buffer per io thread: idle connections hold no read buffer at all.
    thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferBytes]);
    for (int i = 0; i < kReadsPerWakeup; ++i) {
      beast::error_code read_ec;
      const size_t n = socket_.read_some(asio::buffer(buffer.get(), kReadBufferBytes), read_ec);
      if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) break;
      if (read_ec) return Finish();  // EOF or reset: the peer is gone (or answered our close)
      // After a protocol error the rest is drained unread until the client closes: closing a
      // socket with unread input sends a reset, which could destroy our close frame in flight.
      if (discarding_) continue;
      const std::optional<wsframe::FrameError> error =
          reader_.Feed(buffer.get(), n, [this](wsframe::Opcode opcode, absl::string_view payload) {
            return OnFrame(opcode, payload);
          });
      if (error) {
        if (error->code == kCloseTooBig) clients_.metrics.protocol_errors().Increment();
        discarding_ = true;
        StartClose(error->code, error->reason);  // no-op when our close is already queued
      }
      if (finished_ || peer_closed_) return;
      if (n < kReadBufferBytes) break;  // drained
    }
    if (!finished_) WaitReadable();
  }

  // A whole message or control frame from the client. False stops reading.
  bool OnFrame(wsframe::Opcode opcode, absl::string_view payload) {
    switch (opcode) {
      case wsframe::kText:
        if (!closing_) handler_->OnText(payload);
        return true;
      case wsframe::kBinary:
        if (!closing_) handler_->OnBinary(payload);
        return true;
      case wsframe::kPing:
        if (!closing_) {
          Enqueue(std::make_shared<const std::string>(payload.data(), payload.size()),
                  wsframe::kPong, false);
          Flush();
        }
        return true;
      case wsframe::kPong:
        return true;
      case wsframe::kClose: {
        peer_closed_ = true;
        if (closing_) {
          // The answer to our close: the handshake is complete and the server ends TCP.
          if (close_sent_) Finish();
          return false;
        }
        uint16_t code = 0;
        if (std::optional<wsframe::FrameError> bad = wsframe::ParseClose(payload, &code)) {
          StartClose(bad->code, bad->reason);
        } else {
          // Echo the client's code (none if it sent none) after the frame being written.
          StartClose(code == 1005 ? 0 : code, "");
        }
        return false;
      }
      case wsframe::kContinuation:
        break;
    }
    return true;
  }

  void Drain() {
    std::vector<Inbound> batch;
    {
      absl::MutexLock lock(&inbox_mu_);
      batch.swap(inbox_);
      drain_scheduled_ = false;
    }
    for (Inbound& in : batch) {
      if (closing_ || finished_) return;
      if (queued() >= clients_.limits.send_queue_max) {
        clients_.metrics.slow_consumer_disconnects().Increment();
        common::LogInfo("disconnecting slow consumer", {{"queued", absl::StrCat(queued())}});
        return StartClose(kClosePolicy,
                          absl::StrCat("slow consumer: more than ", clients_.limits.send_queue_max,
                                       " messages queued"));
      }
      Enqueue(std::move(in.frame), in.binary ? wsframe::kBinary : wsframe::kText, false);
    }
    Flush();
  }

  size_t queued() const { return queue_.size() - head_; }

  void Enqueue(std::shared_ptr<const std::string> payload, wsframe::Opcode opcode, bool close) {
    Outgoing& out = queue_.emplace_back();
    out.header_size =
        static_cast<uint8_t>(wsframe::EncodeHeader(opcode, payload->size(), out.header));
    out.payload = std::move(payload);
    out.close = close;
  }

  // Writes what is queued until the socket would block (then waits for it to drain).
  void Flush() {
    if (!opened_ || finished_ || waiting_writable_) return;
    iovec iov[2 * kFramesPerWrite];
    while (head_ < queue_.size()) {
      size_t count = 0;
      size_t skip = written_of_head_;
      for (size_t i = head_; i < queue_.size() && count < 2 * kFramesPerWrite; ++i) {
        const Outgoing& out = queue_[i];
        const size_t header = out.header_size;
        if (skip < header) {
          iov[count++] = {const_cast<uint8_t*>(out.header) + skip, header - skip};
          skip = 0;
        } else {
          skip -= header;
        }
        if (skip < out.payload->size()) {
          iov[count++] = {const_cast<char*>(out.payload->data()) + skip,
                          out.payload->size() - skip};
        }
        skip = 0;
        if (out.close) break;  // nothing goes after a close frame
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          waiting_writable_ = true;
          socket_.async_wait(tcp::socket::wait_write,
                             [self = shared_from_this()](beast::error_code ec) {
                               self->waiting_writable_ = false;
                               if (ec) return self->Finish();
                               self->Flush();
                             });
          return;
        }
        return Finish();  // reset or broken pipe: the peer is gone
      }
      clients_.metrics.bytes_sent(framing_).Increment(static_cast<double>(sent));
      Consume(static_cast<size_t>(sent));
      if (close_sent_) break;
    }
    if (head_ == queue_.size()) {
      queue_.clear();
      head_ = 0;
      // A burst may have grown the queue: give the memory back once it is written.
      if (queue_.capacity() > 4) std::vector<Outgoing>().swap(queue_);
    }
    if (close_sent_) AfterCloseSent();
  }

  // Drops the `n` bytes just written from the front of the queue.
  void Consume(size_t n) {
    while (n > 0 && head_ < queue_.size()) {
      Outgoing& out = queue_[head_];
      const size_t left = out.size() - written_of_head_;
      if (n < left) {
        written_of_head_ += n;
        return;
      }
      n -= left;
      if (out.close) close_sent_ = true;
      out.payload.reset();
      written_of_head_ = 0;
      ++head_;
    }
  }

  // Sends a close frame after the frame being written (dropping the rest) and waits, bounded,
  // for the client's answer.
  void StartClose(uint16_t code, absl::string_view reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    // Keep only a frame already partly on the wire: frames cannot be cut.
    const size_t keep = head_ + (written_of_head_ > 0 ? 1 : 0);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(keep), queue_.end());
    Enqueue(std::make_shared<const std::string>(code == 0 ? std::string()
                                                          : wsframe::ClosePayload(code, reason)),
            wsframe::kClose, true);
    // A peer that reads nothing never lets the write or the close handshake finish.
    close_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    close_timer_->expires_after(kCloseGrace);
    close_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Finish();
    });
    Flush();
  }

  void AfterCloseSent() {
    if (peer_closed_) return Finish();
    // Our close is out: the client answers with its own, which the read side turns into
    // Finish. Half-close so a client waiting for EOF sees one.
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (close_timer_) close_timer_->cancel();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    queue_.clear();
    head_ = 0;
    {
      absl::MutexLock lock(&live_.mu);
      live_.sockets.erase(id_);
    }
    handler_->OnClosed();
  }

  // The fields a broadcast touches, for every recipient and cache-cold at 10k clients, come
  // first and together, next to the object's start (and the control block that sessions'
  // weak_ptrs lock): Send's inbox, then what Drain and Flush read and write.
  absl::Mutex inbox_mu_;
  bool drain_scheduled_ ABSL_GUARDED_BY(inbox_mu_) = false;
  std::vector<Inbound> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  std::vector<Outgoing> queue_;  // [head_, end) waits; the front may be partly written
  size_t head_ = 0;
  size_t written_of_head_ = 0;
  bool opened_ = false;
  bool waiting_writable_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool discarding_ = false;  // after a protocol error: input is read and dropped
  bool finished_ = false;
  tcp::socket socket_;
  std::shared_ptr<WsHandler> handler_;
  ClientContext& clients_;
  const Framing framing_;
  Live& live_;
  uint64_t id_ = 0;
  wsframe::Reader reader_;
  DrainQueue* const drains_;  // this connection's io_context's (null only if it has none)
  std::unique_ptr<asio::steady_timer> close_timer_;  // only while closing
};

void DrainQueue::Run() {
  {
    absl::MutexLock lock(&mu_);
    running_.swap(ready_);
    posted_ = false;
  }
  for (std::weak_ptr<WsConnection>& weak : running_) {
    if (std::shared_ptr<WsConnection> connection = weak.lock()) connection->Drain();
  }
  running_.clear();
}

class HttpSession final : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, ServerDeps& deps, Live& live)
      : stream_(std::move(socket)), deps_(deps), live_(live) {
    ++live_.count;
  }
  ~HttpSession() { --live_.count; }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&HttpSession::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(std::max(kMinRequestBodyBytes, deps_.clients.limits.max_payload));
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec == http::error::body_limit) {
      return Write(JsonError(413, "request body too large"), false, 11);
    }
    if (ec == http::error::header_limit) {  // e.g. a many-kilobyte token: say so, then close
      return Write(JsonError(431, "request header fields too large"), false, 11);
    }
    if (ec) return;  // timeout, reset, garbage: drop the connection
    http::request<http::string_body> req = parser_->release();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                                   std::string(field.value()));
    }
    beast::error_code peer_ec;
    const auto peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) request.remote_address = peer.address().to_string();
    const absl::string_view path = PathOf(request.target);
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();

    if (websocket::is_upgrade(req)) return Upgrade(std::move(req), std::move(request));

    if (EioEndpoint endpoint = EioFor(path); endpoint.server != nullptr) {
      request.body = std::move(req.body());
      return Polling(endpoint, std::move(request), keep_alive, version);
    }

    request.body = std::move(req.body());
    const bool head = req.method() == http::verb::head;
    // Route handlers may block on the scheduler: run them off the io threads.
    deps_.pool.Post([self = shared_from_this(), request = std::move(request), keep_alive, version,
                     head]() mutable {
      HttpResponse res = self->deps_.router.Handle(request);
      if (head) res.body.clear();
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res), keep_alive, version]() mutable {
                   self->Write(std::move(res), keep_alive, version);
                 });
    });
  }

  void AddCors(const HttpRequest& request, HttpResponse& res) {
    const auto origin = HeaderValue(request.headers, "origin");
    if (origin.has_value() && deps_.origins.Allowed(origin)) {
      res.headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
      res.headers.emplace_back("Access-Control-Allow-Credentials", "true");
      res.headers.emplace_back("Vary", "Origin");
    }
  }

  // The Engine.IO server behind a path: Socket.IO at /socket.io/, and with
  // --protocol_conformance the raw Engine.IO echo at /engine.io/.
  struct EioEndpoint {
    EioServer* server = nullptr;
    absl::string_view label;  // the route label of HTTP metrics
  };
  EioEndpoint EioFor(absl::string_view path) {
    if (absl::StartsWith(path, "/socket.io/") || path == "/socket.io") {
      return {&deps_.eio, "/socket.io/"};
    }
    if (deps_.raw_eio != nullptr &&
        (absl::StartsWith(path, "/engine.io/") || path == "/engine.io")) {
      return {deps_.raw_eio, "/engine.io/"};
    }
    return {};
  }

  void Polling(EioEndpoint endpoint, HttpRequest request, bool keep_alive, unsigned version) {
    const auto start = std::chrono::steady_clock::now();
    const auto origin = HeaderValue(request.headers, "origin");
    if (!deps_.origins.Allowed(origin)) {
      return Write(EngineIoError(4, "Forbidden: origin not allowed", 403), keep_alive, version);
    }
    if (request.method == "OPTIONS") {
      HttpResponse res;
      res.status = 204;
      res.content_type = "text/plain";
      res.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                     {"Access-Control-Allow-Headers", "Content-Type, Authorization"}};
      AddCors(request, res);
      return Write(std::move(res), keep_alive, version);
    }
    auto self = shared_from_this();
    auto shared_request = std::make_shared<HttpRequest>(std::move(request));
    const uint64_t held = endpoint.server->HandleHttp(
        *shared_request, [self, shared_request, keep_alive, version, start,
                          label = endpoint.label](HttpResponse res) {
          self->AddCors(*shared_request, res);
          self->deps_.clients.metrics.ObserveHttp(
              label, res.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          asio::post(self->stream_.get_executor(),
                     [self, res = std::move(res), keep_alive, version]() mutable {
                       self->Write(std::move(res), keep_alive, version);
                     });
        });
    if (held != 0) {
      WatchHeldPoll(endpoint.server,
                    QueryParam(QueryOf(shared_request->target), "sid").value_or(""), held);
    }
  }

  // While a poll is held nothing is read from the connection (clients do not pipeline), so
  // the socket turning readable with nothing to read means the client closed it: the session
  // is told at once instead of living on until its ping timeout. Write() cancels the watch.
  void WatchHeldPoll(EioServer* server, std::string sid, uint64_t poll_id) {
    watching_poll_ = true;
    stream_.socket().async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this(), server, sid = std::move(sid), poll_id](beast::error_code ec) {
          if (ec == asio::error::operation_aborted || !self->watching_poll_) return;
          self->watching_poll_ = false;
          beast::error_code avail_ec;
          const size_t available = self->stream_.socket().available(avail_ec);
          if (ec || avail_ec || available == 0) server->AbortPoll(sid, poll_id);
        });
  }

  void Upgrade(http::request<http::string_body> req, HttpRequest request) {
    const absl::string_view path = PathOf(request.target);
    const auto origin = HeaderValue(request.headers, "origin");
    if (!deps_.origins.Allowed(origin)) {
      return Write(JsonError(403, "origin not allowed"), false, req.version());
    }
    std::shared_ptr<WsHandler> handler;
    Framing framing = Framing::kPlainWs;
    if (path == "/ws") {
      absl::StatusOr<JwtClaims> claims = deps_.clients.auth.Authenticate(
          TokenFromRequest(request.headers, request.target), absl::Now());
      if (!claims.ok()) {
        handler = std::make_shared<RefusingWsHandler>(
            std::string(claims.status().message().substr(0, 120)));
      } else {
        std::string key = deps_.clients.auth.dev_mode() || claims->subject.empty()
                              ? absl::StrCat("ws:", request.remote_address)
                              : absl::StrCat("sub:", claims->subject);
        handler = std::make_shared<PlainWsClient>(
            deps_.clients, *std::move(claims), std::move(key),
            ClientAddressOf(request.remote_address, request.headers));
      }
    } else if (EioEndpoint endpoint = EioFor(path); endpoint.server != nullptr) {
      framing = Framing::kSocketIo;
      HttpResponse refusal;
      auto eio_handler = endpoint.server->HandleUpgrade(request, &refusal);
      if (!eio_handler.ok()) return Write(std::move(refusal), false, req.version());
      handler = *std::move(eio_handler);
    } else {
      return Write(JsonError(404, absl::StrCat("no WebSocket endpoint at ", path)), false,
                   req.version());
    }
    std::make_shared<WsConnection>(stream_.release_socket(), std::move(handler), deps_.clients,
                                   framing, live_)
        ->Run(std::move(req));
  }

  void Write(HttpResponse res, bool keep_alive, unsigned version) {
    if (watching_poll_) {
      watching_poll_ = false;
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    }
    auto msg = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(res.status), version);
    msg->set(http::field::server, "autosync-ws-gateway");
    msg->set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) msg->set(name, value);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive);
    msg->prepare_payload();
    http::async_write(stream_, *msg,
                      [self = shared_from_this(), msg](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!msg->keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool watching_poll_ = false;  // a held poll's connection is being watched (WatchHeldPoll)
  ServerDeps& deps_;
  Live& live_;
};

}  // namespace

// One io_context per io thread, each run by that thread alone: a connection lives on one
// context for its whole life, so its handlers never run concurrently and need no strand (no
// strand object per connection, no strand queue per handler), and the threads share no
// scheduler queue or lock.
struct GatewayServer::Impl {
  Impl(int thread_count, ServerDeps d) : contexts(MakeContexts(thread_count)), deps(d) {
    for (auto& context : contexts) live.drains.push_back(std::make_unique<DrainQueue>(*context));
  }
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int count) {
    std::vector<std::unique_ptr<asio::io_context>> made;
    for (int i = 0; i < std::max(count, 1); ++i)
      made.push_back(std::make_unique<asio::io_context>(1));
    return made;
  }
  // Declared first so it is destroyed last: handlers still queued in the contexts refer to it.
  Live live;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  tcp::acceptor acceptor{*contexts.front()};
  std::vector<std::thread> threads;
  ServerDeps deps;
  size_t next_context = 0;  // round robin of accepted connections (acceptor's thread only)
  bool stopped = false;

  asio::io_context& main() { return *contexts.front(); }

  void Accept() {
    asio::io_context& target = *contexts[next_context++ % contexts.size()];
    acceptor.async_accept(target, [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        s.set_option(asio::socket_base::send_buffer_size(kSocketSendBufferBytes), ignored);
        std::make_shared<HttpSession>(std::move(s), deps, live)->Start();
      }
      if (acceptor.is_open()) Accept();
    });
  }
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(const common::HostPort& listen,
                                                                    int threads, ServerDeps deps) {
  auto impl = std::make_unique<Impl>(threads, deps);
  beast::error_code ec;
  const auto address =
      asio::ip::make_address(listen.host == "localhost" ? "127.0.0.1" : listen.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", listen.host));
  const tcp::endpoint endpoint(address, listen.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen.ToString(), ": ", ec.message()));
  }
  impl->Accept();
  Impl* raw = impl.get();
  for (int i = 0; i < threads; ++i) {
    asio::io_context* context = raw->contexts[static_cast<size_t>(i)].get();
    raw->threads.emplace_back([context] {
      // A context starts with no work of its own (the acceptor lives on the first): keep run()
      // from returning until Shutdown stops it.
      auto keep = asio::make_work_guard(*context);
      context->run();
    });
  }
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

uint16_t GatewayServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->main(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->deps.eio.CloseAll("server shutting down");
  if (impl_->deps.raw_eio != nullptr) impl_->deps.raw_eio->CloseAll("server shutting down");
  std::vector<std::shared_ptr<WsSink>> sockets;
  {
    absl::MutexLock lock(&impl_->live.mu);
    for (auto& [id, weak] : impl_->live.sockets) {
      if (auto s = weak.lock()) sockets.push_back(std::move(s));
    }
  }
  for (auto& s : sockets) s->Close(kCloseGoingAway, "server shutting down");
  sockets.clear();
  // Sessions in flight get up to `grace` to finish; idle keep-alive ones are cut at the end.
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(grace);
  asio::steady_timer timer(impl_->main());
  std::function<void()> check = [&] {
    if (impl_->live.count.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      for (auto& context : impl_->contexts) context->stop();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([&](beast::error_code) { check(); });
  };
  asio::post(impl_->main(), check);
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace autosync::gateway
