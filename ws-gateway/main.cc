// ws-gateway: parses configuration and serves HTTP, WebSocket (/ws) and Socket.IO (/socket.io/)
// for browsers in front of the scheduler-service. Start-up only: the flags and their checks live
// in flags.cc and config.cc, the logic in the autosync_gateway libraries.
#include <csignal>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
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
#include "ws-gateway/eio_session.h"
#include "ws-gateway/hub.h"
#include "ws-gateway/jwks_cache.h"
#include "ws-gateway/jwt.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/scheduler_client.h"
#include "ws-gateway/server.h"
#include "ws-gateway/timers.h"

namespace autosync::gateway {
namespace {

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
  const absl::StatusOr<GatewayConfig> parsed = GatewayConfigFromFlags(std::move(errors));
  if (!parsed.ok()) common::ExitWithConfigError(argv[0], parsed.status().message());
  const GatewayConfig& config = *parsed;
  const common::GrpcSecurity& security = config.security;
  const std::string& scheduler_tls_name = config.scheduler_tls_name;

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
