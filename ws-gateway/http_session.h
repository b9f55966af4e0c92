// One HTTP connection of the gateway (internal to the server): reads requests, runs the routes
// on the blocking pool and posts the answers back, serves Engine.IO long-polling (watching a held
// poll's socket for the client going away) and hands WebSocket upgrades to a WsConnection.
//
// Thread-safety: all of a session's handlers run on its socket's io_context, one at a time.
// Lifetime: owned by its pending handlers (shared_ptr); `deps` and `live` outlive it (they
// belong to the GatewayServer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "ws-gateway/server.h"
#include "ws-gateway/ws_connection.h"

namespace autosync::gateway::net {

class HttpSession final : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, ServerDeps& deps, Live& live)
      : stream_(std::move(socket)), deps_(deps), live_(live) {
    ++live_.count;
  }
  ~HttpSession() { --live_.count; }

  void Start();

 private:
  void Read();

  void OnRead(beast::error_code ec, size_t);

  void AddCors(const HttpRequest& request, HttpResponse& res);

  // The Engine.IO server behind a path: Socket.IO at /socket.io/, and with
  // --protocol_conformance the raw Engine.IO echo at /engine.io/.
  struct EioEndpoint {
    EioServer* server = nullptr;
    absl::string_view label;  // the route label of HTTP metrics
  };
  EioEndpoint EioFor(absl::string_view path);

  void Polling(EioEndpoint endpoint, HttpRequest request, bool keep_alive, unsigned version);

  // While a poll is held nothing is read from the connection (clients do not pipeline), so
  // the socket turning readable with nothing to read means the client closed it: the session
  // is told at once instead of living on until its ping timeout. Write() cancels the watch.
  void WatchHeldPoll(EioServer* server, std::string sid, uint64_t poll_id);

  void Upgrade(http::request<http::string_body> req, HttpRequest request);

  void Write(HttpResponse res, bool keep_alive, unsigned version);

  void Close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool watching_poll_ = false;  // a held poll's connection is being watched (WatchHeldPoll)
  ServerDeps& deps_;
  Live& live_;
};

}  // namespace autosync::gateway::net
