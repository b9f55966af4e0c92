// The ws-gateway's validated configuration (from flags / AUTOSYNC_* variables).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "common/config.h"

namespace autosync::gateway {

struct GatewayConfig {
  common::HostPort listen;       // HTTP + WebSocket + /metrics
  std::string scheduler_target;  // gRPC name syntax: "dns:///scheduler-service:50051"
  std::string web_root;          // dashboard static files; empty = none
  int threads = 1;               // io_context threads
  absl::Duration upstream_timeout = absl::Seconds(2);
  absl::Duration shutdown_grace = absl::Seconds(3);
};

}  // namespace autosync::gateway
