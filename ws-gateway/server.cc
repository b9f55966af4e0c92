#include "ws-gateway/server.h"

#include <atomic>
#include <deque>
#include <functional>
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

// Live sessions and WebSockets, so Shutdown can close and wait for them.
struct Live {
  std::atomic<int> count{0};
  absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<WsSink>> sockets ABSL_GUARDED_BY(mu);
};

class WsConnection final : public WsSink, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket&& socket, std::shared_ptr<WsHandler> handler, ClientContext& clients,
               Framing framing, Live& live)
      : ws_(std::move(socket)),
        timer_(ws_.get_executor()),
        handler_(std::move(handler)),
        clients_(clients),
        framing_(framing),
        live_(live) {
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
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "autosync-ws-gateway");
    }));
    ws_.read_message_max(clients_.limits.max_payload);
    ws_.async_accept(req, beast::bind_front_handler(&WsConnection::OnAccept, shared_from_this()));
  }

  void Send(std::shared_ptr<const std::string> frame, bool binary) override {
    // Frames wait in an inbox and one posted drain moves them all onto the strand: a broadcast
    // burst costs one post (and one wake-up) per connection, not one per frame.
    bool schedule = false;
    {
      absl::MutexLock lock(&inbox_mu_);
      inbox_.push_back({std::move(frame), binary});
      schedule = !drain_scheduled_;
      drain_scheduled_ = true;
    }
    if (schedule) {
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->Drain(); });
    }
  }

  void Close(uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), code,
                                    reason = std::move(reason)]() mutable {
      self->StartClose(code, std::move(reason));
    });
  }

 private:
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    bool binary;
  };

  void OnAccept(beast::error_code ec) {
    if (ec) return Finish();
    opened_ = true;
    handler_->OnOpen(weak_from_this());
    Read();
  }

  void Read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsConnection::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      if (ec == websocket::error::message_too_big) clients_.metrics.protocol_errors().Increment();
      return Finish();
    }
    const auto data = buffer_.cdata();
    const absl::string_view text(static_cast<const char*>(data.data()), data.size());
    if (!closing_) {
      if (ws_.got_text()) {
        handler_->OnText(text);
      } else {
        handler_->OnBinary(text);
      }
    }
    buffer_.consume(buffer_.size());
    Read();
  }

  void Drain() {
    std::vector<Outgoing> batch;
    {
      absl::MutexLock lock(&inbox_mu_);
      batch.swap(inbox_);
      drain_scheduled_ = false;
    }
    for (Outgoing& out : batch) DoSend(std::move(out.frame), out.binary);
  }

  void DoSend(std::shared_ptr<const std::string> frame, bool binary) {
    if (closing_ || finished_) return;
    if (queue_.size() >= clients_.limits.send_queue_max) {
      clients_.metrics.slow_consumer_disconnects().Increment();
      common::LogInfo("disconnecting slow consumer",
                      {{"queued", absl::StrCat(queue_.size())}});
      return StartClose(kClosePolicy, absl::StrCat("slow consumer: more than ",
                                                   clients_.limits.send_queue_max,
                                                   " messages queued"));
    }
    queue_.push_back({std::move(frame), binary});
    if (!writing_ && opened_) WriteNext();
  }

  void WriteNext() {
    writing_ = true;
    ws_.text(!queue_.front().binary);
    ws_.async_write(asio::buffer(*queue_.front().frame),
                    beast::bind_front_handler(&WsConnection::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t bytes) {
    writing_ = false;
    if (ec) {
      queue_.clear();
      return;  // the read side ends the connection
    }
    clients_.metrics.bytes_sent(framing_).Increment(static_cast<double>(bytes));
    if (!queue_.empty()) queue_.pop_front();
    if (closing_) return DoClose();
    if (!queue_.empty()) WriteNext();
  }

  void StartClose(uint16_t code, std::string reason) {
    if (closing_ || finished_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    // Keep only the frame being written: Beast allows one write at a time.
    if (writing_) {
      while (queue_.size() > 1) queue_.pop_back();
    } else {
      queue_.clear();
    }
    // A peer that reads nothing never lets the write or the close handshake finish.
    timer_.expires_after(kCloseGrace);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
    if (!opened_) return;
    if (!writing_) DoClose();
  }

  void DoClose() {
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {});
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    {
      absl::MutexLock lock(&live_.mu);
      live_.sockets.erase(id_);
    }
    handler_->OnClosed();
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::shared_ptr<WsHandler> handler_;
  ClientContext& clients_;
  const Framing framing_;
  Live& live_;
  uint64_t id_ = 0;
  std::deque<Outgoing> queue_;
  bool opened_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  websocket::close_reason close_reason_;
  absl::Mutex inbox_mu_;
  std::vector<Outgoing> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool drain_scheduled_ ABSL_GUARDED_BY(inbox_mu_) = false;
};

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
    deps_.pool.Post([self = shared_from_this(), request = std::move(request), keep_alive,
                     version, head]() mutable {
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
    if (deps_.raw_eio != nullptr && (absl::StartsWith(path, "/engine.io/") || path == "/engine.io")) {
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
        *shared_request,
        [self, shared_request, keep_alive, version, start, label = endpoint.label](
            HttpResponse res) {
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
        handler = std::make_shared<PlainWsClient>(deps_.clients, *std::move(claims),
                                                  std::move(key));
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

struct GatewayServer::Impl {
  Impl(int thread_count, ServerDeps d) : ioc(thread_count), deps(d) {}
  // Declared first so it is destroyed last: handlers still queued in `ioc` refer to it.
  Live live;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  ServerDeps deps;
  bool stopped = false;

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
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

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const common::HostPort& listen, int threads, ServerDeps deps) {
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
  for (int i = 0; i < threads; ++i) raw->threads.emplace_back([raw] { raw->ioc.run(); });
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

uint16_t GatewayServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->ioc, [this] {
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
  asio::steady_timer timer(impl_->ioc);
  std::function<void()> check = [&] {
    if (impl_->live.count.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      impl_->ioc.stop();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([&](beast::error_code) { check(); });
  };
  asio::post(impl_->ioc, check);
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace autosync::gateway
