#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace autosync::common {

absl::StatusOr<StartedGrpcServer> StartGrpcServer(
    const HostPort& listen, const std::vector<grpc::Service*>& services,
    std::shared_ptr<grpc::ServerCredentials> credentials, int max_receive_bytes) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  StartedGrpcServer started;
  builder.AddListeningPort(listen.ToString(), std::move(credentials), &started.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  // Long-lived streams (WatchStore) survive idle proxies; dead peers are noticed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen.ToString(), " (address in use or not available)"));
  }
  SetServing(*started.server, {}, false);
  return started;
}

void SetServing(grpc::Server& server, const std::vector<std::string>& service_names, bool serving) {
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const std::string& name : service_names) health->SetServingStatus(name, serving);
}

void ShutdownGrpcServer(grpc::Server& server, const std::vector<std::string>& service_names,
                        absl::Duration grace) {
  SetServing(server, service_names, false);
  if (grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService()) {
    health->Shutdown();
  }
  server.Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

}  // namespace autosync::common

#include <thread>

#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/shutdown.h"
#include "prometheus/gauge.h"

namespace autosync::common {
namespace {

// Runs the readiness check on its own thread and mirrors it into health and `autosync_ready`.
class ReadinessLoop final {
 public:
  ReadinessLoop(grpc::Server& server, std::vector<std::string> service_names,
                prometheus::Registry& registry, ReadinessCheck readiness, ReadyState& state)
      : server_(server),
        state_(state),
        names_(std::move(service_names)),
        readiness_(std::move(readiness)),
        gauge_(prometheus::BuildGauge()
                   .Name("autosync_ready")
                   .Help("1 while the service's dependencies (PostgreSQL) answer and its gRPC "
                         "service reports SERVING; 0 while it reports NOT_SERVING")
                   .Register(registry)
                   .Add({})) {
    gauge_.Set(1);
    thread_ = std::thread([this] { Loop(); });
  }
  ~ReadinessLoop() {
    stop_.Notify();
    thread_.join();
  }

 private:
  void Loop() {
    bool ready = true;
    while (!stop_.WaitForNotificationWithTimeout(readiness_.interval)) {
      const absl::Status s = readiness_.check();
      bool now_ready = ready;
      if (s.ok()) now_ready = true;
      if (s.code() == absl::StatusCode::kUnavailable) now_ready = false;
      if (now_ready == ready) continue;
      ready = now_ready;
      gauge_.Set(ready ? 1 : 0);
      state_.Set(ready, std::string(s.message()));
      for (const std::string& name : names_) {
        if (grpc::HealthCheckServiceInterface* health = server_.GetHealthCheckService()) {
          health->SetServingStatus(name, ready);
        }
      }
      if (ready) {
        LogInfo("ready again: the readiness check passes");
      } else {
        LogWarn(absl::StrCat("not ready: ", s.message()));
      }
    }
  }

  grpc::Server& server_;
  ReadyState& state_;
  const std::vector<std::string> names_;
  const ReadinessCheck readiness_;
  prometheus::Gauge& gauge_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace

int ServeGrpcUntilSignal(const HostPort& listen, const HostPort& metrics_listen,
                         const std::vector<grpc::Service*>& services,
                         const std::vector<std::string>& service_names,
                         std::shared_ptr<grpc::ServerCredentials> credentials,
                         std::shared_ptr<prometheus::Registry> registry, absl::Duration grace,
                         ReadinessCheck readiness, int max_receive_bytes) {
  auto grpc_server = StartGrpcServer(listen, services, std::move(credentials), max_receive_bytes);
  if (!grpc_server.ok()) {
    LogError("cannot start gRPC server (--listen)", {{"error", grpc_server.status().message()}});
    return 1;
  }
  std::shared_ptr<prometheus::Registry> registry_for_readiness = registry;
  // GET /ready on the metrics listener says what the named health services say.
  auto ready = std::make_shared<ReadyState>();
  auto metrics = MetricsServer::Start(metrics_listen, std::move(registry), ready);
  if (!metrics.ok()) {
    LogError("cannot start metrics server (--metrics_listen)",
             {{"error", metrics.status().message()}});
    grpc_server->server->Shutdown();
    return 1;
  }
  SetServing(*grpc_server->server, service_names, true);
  LogInfo("serving", {{"grpc", absl::StrCat(listen.host, ":", grpc_server->port)},
                      {"metrics", absl::StrCat(metrics_listen.host, ":", (*metrics)->port())}});
  std::unique_ptr<ReadinessLoop> readiness_loop;
  if (readiness.check) {
    readiness_loop = std::make_unique<ReadinessLoop>(*grpc_server->server, service_names,
                                                     *registry_for_readiness, readiness, *ready);
  }
  const int sig = WaitForShutdownSignal();
  LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  readiness_loop.reset();  // before shutdown sets everything NOT_SERVING for good
  ready->Set(false, "shutting down");
  ShutdownGrpcServer(*grpc_server->server, service_names, grace);
  (*metrics)->Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace autosync::common
