// The ws-gateway's flags (declared in flags.h): names, defaults and help text.
// deploy/ and README.md name these flags: a rename is a breaking change.
#include "ws-gateway/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:8080", "HTTP + WebSocket listen address (host:port)");
ABSL_FLAG(std::string, scheduler_tls_name, "autosync-scheduler",
          "DNS name the scheduler's TLS certificate must carry (checked instead of the host in "
          "--scheduler_target)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9103",
          "Prometheus /metrics listen address (host:port), apart from the public --listen port");
ABSL_FLAG(std::string, scheduler_target, "dns:///127.0.0.1:50051",
          "gRPC target of the scheduler-service; dns:/// names round-robin across replicas");
ABSL_FLAG(int32_t, threads, 1, "io threads (1-64)");
ABSL_FLAG(int32_t, blocking_threads, 4, "threads for upstream calls of routes/triggers (1-64)");
ABSL_FLAG(int32_t, upstream_timeout_ms, 2000, "Deadline of each call to the scheduler (1-60000)");
ABSL_FLAG(std::string, web_root, "",
          "Directory of the dashboard's static files. Empty: ws-gateway/web of the source tree "
          "this binary was built from, else <binary dir>/web, else no static files");
ABSL_FLAG(std::string, jwt_secret_file, "",
          "File holding the HS256 key clients' JWTs are signed with. Empty: dev mode, no auth "
          "(every caller is an admin), refused unless --listen is a loopback address or "
          "--allow_remote_dev_mode is given");
ABSL_FLAG(bool, allow_remote_dev_mode, false,
          "Allow dev mode (no --jwt_secret_file and no --jwks_url) on a non-loopback --listen: "
          "anyone who can reach the port may create, change and delete stores");
ABSL_FLAG(std::string, jwks_url, "",
          "http(s) URL of the identity provider's JWKS: RS256 / ES256 tokens are verified with "
          "its keys (by kid). Fetched on a thread of its own and cached. Empty: no JWKS tokens");
ABSL_FLAG(int32_t, jwks_refresh_seconds, 600, "Re-fetch the JWKS this often (10-86400)");
ABSL_FLAG(int32_t, jwks_min_refresh_seconds, 30,
          "A token naming an unknown kid triggers a JWKS re-fetch at most this often; also the "
          "retry interval after a failed fetch (1-3600)");
ABSL_FLAG(int32_t, jwks_timeout_ms, 5000, "Deadline of one JWKS fetch (100-60000)");
ABSL_FLAG(std::string, jwt_issuer, "", "When set, every token's iss must equal it");
ABSL_FLAG(std::string, jwt_audience, "",
          "When set, every token's aud (a string or an array) must contain it");
ABSL_FLAG(int32_t, jwt_leeway_seconds, 0, "Clock skew allowed on exp and nbf (0-300)");
ABSL_FLAG(std::string, role_claim, "role",
          "Claim holding the caller's role: a string or an array of strings; the highest of "
          "viewer/operator/admin in it wins, other names are ignored, none known = no role (403 "
          "on every /api/ route). A dotted name not found at the top level is a path "
          "(realm_access.roles)");
ABSL_FLAG(std::string, default_role, "operator",
          "Role of a token without the role claim: viewer, operator, admin or none. Production "
          "should set viewer (operator keeps tokens from before roles working)");
ABSL_FLAG(std::string, stores_claim, "stores",
          "Claim holding the store ids a token may use (a string or an array of strings, * = "
          "every store); looked up like --role_claim");
ABSL_FLAG(std::string, allowed_origins, "",
          "Comma-separated Origins allowed for WebSocket upgrades and CORS; empty or * = any");
ABSL_FLAG(int32_t, ping_interval_ms, 25000, "Engine.IO pingInterval (10-600000)");
ABSL_FLAG(int32_t, ping_timeout_ms, 20000, "Engine.IO pingTimeout (10-600000)");
ABSL_FLAG(int64_t, max_payload_bytes, 1000000,
          "Engine.IO maxPayload and the largest WebSocket message accepted (1024-100000000)");
ABSL_FLAG(int32_t, connect_timeout_ms, 45000,
          "Socket.IO: close sessions that send no CONNECT within this (100-600000)");
ABSL_FLAG(int32_t, send_queue_max, 512,
          "Messages queued per client before it is disconnected as too slow (8-100000)");
ABSL_FLAG(int32_t, store_triggers_per_minute, 6, "Manual triggers allowed per store (1-6000)");
ABSL_FLAG(int32_t, client_triggers_per_minute, 12, "Manual triggers allowed per client (1-6000)");
ABSL_FLAG(bool, bench_endpoints, false,
          "Enable POST /bench/broadcast (refused unless --listen is a loopback address)");
ABSL_FLAG(bool, protocol_conformance, false,
          "Serve what the official engine.io-protocol / socket.io-protocol test suites expect: a "
          "raw Engine.IO echo at /engine.io/, and at /socket.io/ a Socket.IO echo on namespaces / "
          "and /custom instead of the store events (refused unless --listen is a loopback "
          "address)");
ABSL_FLAG(std::string, gateway_id, "",
          "Name reported to the scheduler with client counts; empty = hostname-pid");
