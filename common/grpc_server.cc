#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include <csignal>

#include "absl/time/clock.h"

namespace autosync::common {

absl::StatusOr<StartedGrpcServer> StartGrpcServer(const HostPort& listen,
                                                  const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  StartedGrpcServer started;
  builder.AddListeningPort(listen.ToString(), grpc::InsecureServerCredentials(), &started.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  // Long-lived streams (WatchStore) survive idle proxies; dead peers are noticed.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen.ToString(),
                                               " (address in use or not available)"));
  }
  SetServing(*started.server, {}, false);
  return started;
}

void SetServing(grpc::Server& server, const std::vector<std::string>& service_names,
                bool serving) {
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

#include "common/log.h"
#include "common/metrics.h"
#include "common/shutdown.h"

namespace autosync::common {

int ServeGrpcUntilSignal(const HostPort& listen, const HostPort& metrics_listen,
                         const std::vector<grpc::Service*>& services,
                         const std::vector<std::string>& service_names,
                         std::shared_ptr<prometheus::Registry> registry, absl::Duration grace) {
  auto grpc_server = StartGrpcServer(listen, services);
  if (!grpc_server.ok()) {
    LogError("cannot start gRPC server (--listen)", {{"error", grpc_server.status().message()}});
    return 1;
  }
  auto metrics = MetricsServer::Start(metrics_listen, std::move(registry));
  if (!metrics.ok()) {
    LogError("cannot start metrics server (--metrics_listen)",
             {{"error", metrics.status().message()}});
    grpc_server->server->Shutdown();
    return 1;
  }
  SetServing(*grpc_server->server, service_names, true);
  LogInfo("serving", {{"grpc", absl::StrCat(listen.host, ":", grpc_server->port)},
                      {"metrics", absl::StrCat(metrics_listen.host, ":", (*metrics)->port())}});
  const int sig = WaitForShutdownSignal();
  LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  ShutdownGrpcServer(*grpc_server->server, service_names, grace);
  (*metrics)->Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace autosync::common
