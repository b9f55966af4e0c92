// The gateway's network side: the listener and its io threads (here, server.cc), HTTP sessions
// (http_session.h: routes on the blocking pool, responses posted back, Engine.IO long-polling)
// and WebSocket connections for `/ws` and `/socket.io/` (ws_connection.h: each on one io thread
// for life, frames queued while a write is pending sent together in one gather write, bounded
// queue, timeouts, message size limit). Beast stays inside those three files; this header is
// Beast-free. Thread-safety: Start and Shutdown from one thread; port() from any.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/thread_pool.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/eio_server.h"
#include "ws-gateway/routes.h"

namespace autosync::gateway {

// Everything must outlive the server.
struct ServerDeps {
  Router& router;
  ClientContext& clients;
  EioServer& eio;
  const OriginPolicy& origins;
  common::ThreadPool& pool;
  // --protocol_conformance only: the raw Engine.IO echo served at /engine.io/.
  EioServer* raw_eio = nullptr;
};

class GatewayServer final {
 public:
  // Binds and starts serving on `threads` io threads.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const common::HostPort& listen,
                                                              int threads, ServerDeps deps);
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  uint16_t port() const;
  // Stops accepting, closes WebSockets with 1001, lets requests in flight finish for up to
  // `grace`, then stops.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::gateway
