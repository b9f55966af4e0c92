#include "ws-gateway/http_session.h"

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/beast/websocket.hpp"
#include "ws-gateway/route_match.h"
#include "ws-gateway/ws_client.h"

namespace autosync::gateway::net {
namespace {

namespace websocket = beast::websocket;

constexpr size_t kMinRequestBodyBytes = 64 * 1024;
constexpr auto kReadTimeout = std::chrono::seconds(30);

}  // namespace

void HttpSession::Start() {
  asio::dispatch(stream_.get_executor(),
                 beast::bind_front_handler(&HttpSession::Read, shared_from_this()));
}

void HttpSession::Read() {
  parser_.emplace();
  parser_->body_limit(std::max(kMinRequestBodyBytes, deps_.clients.limits.max_payload));
  stream_.expires_after(kReadTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
}

void HttpSession::OnRead(beast::error_code ec, size_t) {
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
  deps_.pool.Submit([self = shared_from_this(), request = std::move(request), keep_alive, version,
                     head]() mutable {
    HttpResponse res = self->deps_.router.Handle(request);
    if (head) res.body.clear();
    asio::post(self->stream_.get_executor(),
               [self, res = std::move(res), keep_alive, version]() mutable {
                 self->Write(std::move(res), keep_alive, version);
               });
  });
}

void HttpSession::AddCors(const HttpRequest& request, HttpResponse& res) {
  const auto origin = HeaderValue(request.headers, "origin");
  if (origin.has_value() && deps_.origins.Allowed(origin)) {
    res.headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
    res.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    res.headers.emplace_back("Vary", "Origin");
  }
}

HttpSession::EioEndpoint HttpSession::EioFor(absl::string_view path) {
  if (absl::StartsWith(path, "/socket.io/") || path == "/socket.io") {
    return {&deps_.eio, "/socket.io/"};
  }
  if (deps_.raw_eio != nullptr && (absl::StartsWith(path, "/engine.io/") || path == "/engine.io")) {
    return {deps_.raw_eio, "/engine.io/"};
  }
  return {};
}

void HttpSession::Polling(EioEndpoint endpoint, HttpRequest request, bool keep_alive,
                          unsigned version) {
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
      [self, shared_request, keep_alive, version, start, label = endpoint.label](HttpResponse res) {
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
    WatchHeldPoll(endpoint.server, QueryParam(QueryOf(shared_request->target), "sid").value_or(""),
                  held);
  }
}

void HttpSession::WatchHeldPoll(EioServer* server, std::string sid, uint64_t poll_id) {
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

void HttpSession::Upgrade(http::request<http::string_body> req, HttpRequest request) {
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
      handler =
          std::make_shared<PlainWsClient>(deps_.clients, *std::move(claims), std::move(key),
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

void HttpSession::Write(HttpResponse res, bool keep_alive, unsigned version) {
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
  http::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, size_t) {
    if (ec) return;
    if (!msg->keep_alive()) return self->Close();
    self->Read();
  });
}

void HttpSession::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace autosync::gateway::net
