// The gateway's network side: a Beast listener and HTTP sessions (WebSocket sessions join in
// issue #5). Route handlers may block on upstream calls, so they run on a small blocking pool
// and responses are posted back to the session's strand.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "ws-gateway/routes.h"

namespace autosync::gateway {

class GatewayServer final {
 public:
  // Binds and starts serving on `threads` io threads. `router` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(const common::HostPort& listen,
                                                              int threads, Router& router);
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  uint16_t port() const;
  // Stops accepting, lets requests in flight finish for up to `grace`, then stops.
  void Shutdown(absl::Duration grace);

 private:
  struct Impl;
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::gateway
