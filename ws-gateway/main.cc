// ws-gateway: parses configuration and serves HTTP (+ WebSocket, issue #5) for browsers.
// Wiring only; the logic lives in the autosync_gateway library.
#include <csignal>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "ws-gateway/config.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/scheduler_client.h"
#include "ws-gateway/server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:8080", "HTTP + WebSocket listen address (host:port)");
ABSL_FLAG(std::string, scheduler_target, "dns:///127.0.0.1:50051",
          "gRPC target of the scheduler-service; dns:/// names round-robin across replicas");
ABSL_FLAG(int32_t, threads, 1, "io threads (1-64)");
ABSL_FLAG(int32_t, upstream_timeout_ms, 2000, "Deadline of each call to the scheduler (1-60000)");

namespace autosync::gateway {
namespace {

GatewayConfig ConfigFromFlags(common::ConfigErrors& errors) {
  GatewayConfig config;
  config.listen = common::ListenFromFlag(absl::GetFlag(FLAGS_listen), "listen", errors);
  config.scheduler_target = absl::GetFlag(FLAGS_scheduler_target);
  errors.Require(!config.scheduler_target.empty(), "scheduler_target", "is empty");
  config.threads = absl::GetFlag(FLAGS_threads);
  errors.Require(config.threads >= 1 && config.threads <= 64, "threads",
                 "must be between 1 and 64");
  const int timeout_ms = absl::GetFlag(FLAGS_upstream_timeout_ms);
  errors.Require(timeout_ms >= 1 && timeout_ms <= 60000, "upstream_timeout_ms",
                 "must be between 1 and 60000");
  config.upstream_timeout = absl::Milliseconds(timeout_ms);
  return config;
}

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "ws-gateway: HTTP routes, WebSocket/Socket.IO events and the "
                            "dashboard, in front of the scheduler-service");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("ws-gateway", errors);
  const GatewayConfig config = ConfigFromFlags(errors);
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<SchedulerClient> scheduler =
      MakeGrpcSchedulerClient(config.scheduler_target, config.upstream_timeout);
  Router router(*scheduler, registry);
  auto server = GatewayServer::Start(config.listen, config.threads, router);
  if (!server.ok()) {
    common::LogError("cannot start HTTP server (--listen)", {{"error", server.status().message()}});
    return 1;
  }
  common::LogInfo("serving", {{"http", absl::StrCat(config.listen.host, ":", (*server)->port())},
                              {"scheduler", config.scheduler_target}});
  const int sig = common::WaitForShutdownSignal();
  common::LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(config.shutdown_grace);
  common::LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace autosync::gateway

int main(int argc, char** argv) { return autosync::gateway::Main(argc, argv); }
