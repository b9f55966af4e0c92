// The ws-gateway's validated configuration (from flags / AUTOSYNC_* variables), and the function
// that builds it from the flags (flags.h). A plain value: copy it freely.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/grpc_tls.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/jwks_cache.h"
#include "ws-gateway/jwt.h"

namespace autosync::gateway {

struct GatewayConfig {
  common::HostPort listen;          // HTTP + WebSocket (never /metrics)
  common::HostPort metrics_listen;  // GET /metrics only
  std::string scheduler_target;     // gRPC name syntax: "dns:///scheduler-service:50051"
  std::string web_root;             // dashboard static files; empty = none
  int threads = 1;                  // io_context threads
  int blocking_threads = 4;         // upstream calls of routes and triggers
  absl::Duration upstream_timeout = absl::Seconds(2);
  absl::Duration shutdown_grace = absl::Seconds(3);
  std::string jwt_secret;  // HS256 key; empty with jwks.url empty = dev mode (no auth)
  JwksCacheOptions jwks;   // url empty = no JWKS tokens
  JwtOptions jwt;          // issuer, audience, claims, leeway (keys filled in by main)
  std::vector<std::string> allowed_origins;  // empty = any
  SessionLimits limits;
  int store_triggers_per_minute = 6;
  int client_triggers_per_minute = 12;
  bool bench_endpoints = false;
  bool protocol_conformance = false;  // see --protocol_conformance
  std::string gateway_id;
  // gRPC mTLS of the channel to the scheduler, and the name its certificate must carry.
  common::GrpcSecurity security;
  std::string scheduler_tls_name = "autosync-scheduler";
};

// Reads and checks every ws-gateway flag (and the shared --tls_* / --insecure_grpc ones). An empty
// --web_root becomes the dashboard of the source tree or <binary dir>/web when either exists.
// `errors` holds problems found before (the logging flags), which come first in the message. On
// any problem: INVALID_ARGUMENT "invalid --<flag>: <problem>; …" on one line, naming each bad
// flag. Reads --jwt_secret_file. Call after parsing the flags; the defaults alone are refused
// only for want of the TLS files or --insecure_grpc, and of a loopback --listen in dev mode.
absl::StatusOr<GatewayConfig> GatewayConfigFromFlags(common::ConfigErrors errors = {});

}  // namespace autosync::gateway
