// ws-gateway: parses configuration and serves HTTP, WebSocket (/ws) and Socket.IO (/socket.io/)
// for browsers in front of the scheduler-service. Wiring only; the logic lives in the
// autosync_gateway libraries.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "ws-gateway/bench.h"
#include "ws-gateway/blocking_pool.h"
#include "ws-gateway/config.h"
#include "ws-gateway/eio_server.h"
#include "ws-gateway/hub.h"
#include "ws-gateway/jwks_cache.h"
#include "ws-gateway/jwt.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/scheduler_client.h"
#include "ws-gateway/server.h"
#include "ws-gateway/timers.h"

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

namespace autosync::gateway {
namespace {

std::string DefaultWebRoot() {
  std::error_code ec;
#ifdef AUTOSYNC_GATEWAY_WEB_DIR
  if (std::filesystem::is_directory(AUTOSYNC_GATEWAY_WEB_DIR, ec)) return AUTOSYNC_GATEWAY_WEB_DIR;
#endif
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto web = exe.parent_path() / "web";
    if (std::filesystem::is_directory(web, ec)) return web.string();
  }
  return "";
}

GatewayConfig ConfigFromFlags(common::ConfigErrors& errors) {
  GatewayConfig config;
  config.listen = common::ListenFromFlag(absl::GetFlag(FLAGS_listen), "listen", errors);
  config.metrics_listen =
      common::ListenFromFlag(absl::GetFlag(FLAGS_metrics_listen), "metrics_listen", errors);
  config.scheduler_target = absl::GetFlag(FLAGS_scheduler_target);
  errors.Require(!config.scheduler_target.empty(), "scheduler_target", "is empty");
  auto range = [&](int64_t value, int64_t lo, int64_t hi, const char* name) {
    errors.Require(value >= lo && value <= hi, name,
                   absl::StrCat("must be between ", lo, " and ", hi));
    return value;
  };
  config.threads = static_cast<int>(range(absl::GetFlag(FLAGS_threads), 1, 64, "threads"));
  config.blocking_threads =
      static_cast<int>(range(absl::GetFlag(FLAGS_blocking_threads), 1, 64, "blocking_threads"));
  config.upstream_timeout = absl::Milliseconds(
      range(absl::GetFlag(FLAGS_upstream_timeout_ms), 1, 60000, "upstream_timeout_ms"));
  config.web_root = absl::GetFlag(FLAGS_web_root);
  if (config.web_root.empty()) {
    config.web_root = DefaultWebRoot();
  } else {
    std::error_code ec;
    errors.Require(std::filesystem::is_directory(config.web_root, ec), "web_root",
                   "is not a directory");
  }
  const std::string secret_file = absl::GetFlag(FLAGS_jwt_secret_file);
  if (!secret_file.empty()) {
    absl::StatusOr<std::string> secret = ReadSecretFile(secret_file);
    errors.Check(secret.status(), "jwt_secret_file");
    if (secret.ok()) config.jwt_secret = *secret;
  }
  config.jwks.url = absl::GetFlag(FLAGS_jwks_url);
  if (!config.jwks.url.empty()) {
    errors.Require(absl::StartsWith(config.jwks.url, "http://") ||
                       absl::StartsWith(config.jwks.url, "https://"),
                   "jwks_url", "must be an http:// or https:// URL");
  }
  config.jwks.refresh_interval = absl::Seconds(
      range(absl::GetFlag(FLAGS_jwks_refresh_seconds), 10, 86400, "jwks_refresh_seconds"));
  config.jwks.min_refresh_interval = absl::Seconds(
      range(absl::GetFlag(FLAGS_jwks_min_refresh_seconds), 1, 3600, "jwks_min_refresh_seconds"));
  config.jwks.timeout = absl::Milliseconds(
      range(absl::GetFlag(FLAGS_jwks_timeout_ms), 100, 60000, "jwks_timeout_ms"));
  config.jwt.issuer = absl::GetFlag(FLAGS_jwt_issuer);
  config.jwt.audience = absl::GetFlag(FLAGS_jwt_audience);
  config.jwt.leeway =
      absl::Seconds(range(absl::GetFlag(FLAGS_jwt_leeway_seconds), 0, 300, "jwt_leeway_seconds"));
  config.jwt.role_claim = absl::GetFlag(FLAGS_role_claim);
  errors.Require(!config.jwt.role_claim.empty(), "role_claim", "is empty");
  config.jwt.stores_claim = absl::GetFlag(FLAGS_stores_claim);
  errors.Require(!config.jwt.stores_claim.empty(), "stores_claim", "is empty");
  const std::string default_role = absl::GetFlag(FLAGS_default_role);
  if (default_role == "none") {
    config.jwt.default_role = Role::kNone;
  } else if (std::optional<Role> role = RoleFromName(default_role)) {
    config.jwt.default_role = *role;
  } else {
    errors.Require(false, "default_role", "must be viewer, operator, admin or none");
  }
  if (secret_file.empty() && config.jwks.url.empty() &&
      !common::IsLoopbackHost(config.listen.host) && !absl::GetFlag(FLAGS_allow_remote_dev_mode)) {
    errors.Require(false, "jwt_secret_file",
                   "(or --jwks_url) is required when --listen is not a loopback address (dev "
                   "mode lets every caller manage every store); pass --allow_remote_dev_mode to "
                   "accept that");
  }
  for (absl::string_view origin :
       absl::StrSplit(absl::GetFlag(FLAGS_allowed_origins), ',', absl::SkipWhitespace())) {
    origin = absl::StripAsciiWhitespace(origin);
    errors.Require(origin == "*" || absl::StartsWith(origin, "http://") ||
                       absl::StartsWith(origin, "https://"),
                   "allowed_origins",
                   absl::StrCat("entry \"", origin, "\" is not * or an http(s):// origin"));
    config.allowed_origins.emplace_back(origin);
  }
  config.limits.ping_interval = absl::Milliseconds(
      range(absl::GetFlag(FLAGS_ping_interval_ms), 10, 600000, "ping_interval_ms"));
  config.limits.ping_timeout = absl::Milliseconds(
      range(absl::GetFlag(FLAGS_ping_timeout_ms), 10, 600000, "ping_timeout_ms"));
  config.limits.max_payload = static_cast<size_t>(
      range(absl::GetFlag(FLAGS_max_payload_bytes), 1024, 100000000, "max_payload_bytes"));
  config.limits.connect_timeout = absl::Milliseconds(
      range(absl::GetFlag(FLAGS_connect_timeout_ms), 100, 600000, "connect_timeout_ms"));
  config.limits.send_queue_max =
      static_cast<size_t>(range(absl::GetFlag(FLAGS_send_queue_max), 8, 100000, "send_queue_max"));
  config.store_triggers_per_minute = static_cast<int>(
      range(absl::GetFlag(FLAGS_store_triggers_per_minute), 1, 6000, "store_triggers_per_minute"));
  config.client_triggers_per_minute = static_cast<int>(range(
      absl::GetFlag(FLAGS_client_triggers_per_minute), 1, 6000, "client_triggers_per_minute"));
  config.bench_endpoints = absl::GetFlag(FLAGS_bench_endpoints);
  if (config.bench_endpoints) {
    errors.Require(common::IsLoopbackHost(config.listen.host), "bench_endpoints",
                   "needs --listen on a loopback address");
  }
  config.protocol_conformance = absl::GetFlag(FLAGS_protocol_conformance);
  if (config.protocol_conformance) {
    errors.Require(common::IsLoopbackHost(config.listen.host), "protocol_conformance",
                   "needs --listen on a loopback address");
  }
  config.gateway_id = absl::GetFlag(FLAGS_gateway_id);
  if (config.gateway_id.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    config.gateway_id = absl::StrCat(host, "-", getpid());
  }
  return config;
}

int Main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock also feeds the deadlock
  // detector's lock graph (GraphCycles, 3.6% of the gateway's CPU in the paced fan-out
  // profile). Release builds skip it; Debug and sanitizer builds keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "ws-gateway: HTTP routes, WebSocket/Socket.IO events and the "
                            "dashboard, in front of the scheduler-service");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("ws-gateway", errors);
  const GatewayConfig config = ConfigFromFlags(errors);
  // The gateway serves no gRPC: --tls_allowed_clients does not apply to it.
  const common::GrpcSecurity security = common::GrpcSecurityFromFlags({}, errors);
  const std::string scheduler_tls_name = absl::GetFlag(FLAGS_scheduler_tls_name);
  errors.Require(!scheduler_tls_name.empty(), "scheduler_tls_name", "is empty");
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto registry = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics(*registry);
  // Its own certificate's expiry as a gauge; once it has expired the scheduler refuses the
  // gateway, so /health (which asks the scheduler) reports it unready by itself.
  std::unique_ptr<common::CertificateExpiryCheck> expiry;
  if (!security.insecure) {
    expiry = std::make_unique<common::CertificateExpiryCheck>(security.files.cert_file, *registry);
  }
  std::unique_ptr<SchedulerClient> scheduler =
      MakeGrpcSchedulerClient(config.scheduler_target, config.upstream_timeout,
                              security.ChannelCredentials(scheduler_tls_name));
  // The JWKS cache fetches on its own thread; verification only reads its cached keys.
  std::shared_ptr<JwksCache> jwks;
  if (!config.jwks.url.empty()) {
    jwks = std::make_shared<JwksCache>(config.jwks, MakeCurlJwksFetcher(), *registry);
    jwks->Start();
  }
  JwtOptions jwt = config.jwt;
  jwt.hs256_secret = config.jwt_secret;
  jwt.jwks = jwks;
  const Authenticator auth = config.jwt_secret.empty() && jwks == nullptr
                                 ? Authenticator()
                                 : Authenticator(JwtVerifier(std::move(jwt)));
  if (auth.dev_mode()) {
    common::LogWarn(
        "DEV MODE: no --jwt_secret_file or --jwks_url, every client is an admin: it "
        "may watch, trigger, create, change and delete every store");
  }
  const OriginPolicy origins(config.allowed_origins);
  TriggerLimiter limiter(
      config.store_triggers_per_minute, absl::Minutes(1) / config.store_triggers_per_minute,
      config.client_triggers_per_minute, absl::Minutes(1) / config.client_triggers_per_minute);
  Router router(*scheduler, registry, metrics, auth, origins, limiter,
                {.web_root = config.web_root, .bench_endpoints = config.bench_endpoints});
  BlockingPool pool(config.blocking_threads);
  auto timers = std::make_unique<ThreadTimers>();
  Hub hub(*scheduler, *timers, &metrics, {.gateway_id = config.gateway_id});
  if (config.bench_endpoints) {
    router.set_bench_handler([&hub](const HttpRequest& r) { return BenchBroadcast(hub, r); });
  }
  ClientContext clients{
      .hub = hub,
      .router = router,
      .auth = auth,
      .metrics = metrics,
      .timers = *timers,
      .run_blocking = [&pool](std::function<void()> f) { pool.Post(std::move(f)); },
      .limits = config.limits};
  EioServer eio(clients, config.protocol_conformance ? EioProfile::kSocketIoConformance
                                                     : EioProfile::kGateway);
  std::unique_ptr<EioServer> raw_eio;
  if (config.protocol_conformance) {
    raw_eio = std::make_unique<EioServer>(clients, EioProfile::kRawEcho);
    common::LogWarn(
        "PROTOCOL CONFORMANCE MODE: /socket.io/ echoes for the protocol test suites "
        "and serves no store events; /engine.io/ is a raw Engine.IO echo");
  }
  // /metrics on its own listener: the public port never serves it (README "## Security").
  auto metrics_server = common::MetricsServer::Start(config.metrics_listen, registry);
  if (!metrics_server.ok()) {
    common::LogError("cannot start the metrics server (--metrics_listen)",
                     {{"error", metrics_server.status().message()}});
    return 1;
  }
  hub.Start();
  auto server = GatewayServer::Start(config.listen, config.threads,
                                     {.router = router,
                                      .clients = clients,
                                      .eio = eio,
                                      .origins = origins,
                                      .pool = pool,
                                      .raw_eio = raw_eio.get()});
  if (!server.ok()) {
    common::LogError("cannot start HTTP server (--listen)", {{"error", server.status().message()}});
    return 1;
  }
  common::LogInfo(
      "serving",
      {{"http", absl::StrCat(config.listen.host, ":", (*server)->port())},
       {"metrics", absl::StrCat(config.metrics_listen.host, ":", (*metrics_server)->port())},
       {"scheduler", config.scheduler_target},
       {"auth", auth.dev_mode()                                 ? "dev"
                : !config.jwt_secret.empty() && jwks != nullptr ? "hs256+jwks"
                : jwks != nullptr                               ? "jwks"
                                                                : "hs256"},
       {"role_claim", config.jwt.role_claim},
       {"default_role", std::string(RoleName(config.jwt.default_role))},
       {"origins", origins.allows_all() ? "*" : absl::StrJoin(config.allowed_origins, ",")},
       {"web_root", config.web_root.empty() ? "(none)" : config.web_root},
       {"bench_endpoints", config.bench_endpoints ? "on" : "off"},
       {"protocol_conformance", config.protocol_conformance ? "on" : "off"}});
  const int sig = common::WaitForShutdownSignal();
  common::LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(config.shutdown_grace);
  pool.Join();
  hub.Shutdown();
  if (jwks) jwks->Stop();
  timers.reset();  // no timer callback may run once the hub and sessions go
  eio.CloseAll("server stopped");
  if (raw_eio) raw_eio->CloseAll("server stopped");
  (*metrics_server)->Stop();
  common::LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace autosync::gateway

int main(int argc, char** argv) { return autosync::gateway::Main(argc, argv); }
