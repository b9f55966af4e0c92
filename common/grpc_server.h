// Builds and starts a gRPC server with what every autosync gRPC service has: the standard
// grpc.health.v1.Health service, server reflection, keepalive and message-size limits.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace autosync::common {

struct StartedGrpcServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port (useful with :0)
};

// The largest request message a server accepts unless told otherwise.
inline constexpr int kDefaultMaxReceiveBytes = 4 << 20;  // 4 MiB

// Binds `listen` with `credentials` (mTLS or, with --insecure_grpc, plaintext: see
// common/grpc_tls.h) and registers `services`, which must outlive the server. Health starts
// NOT_SERVING for every service; call SetServing once the process is ready. Requests over
// `max_receive_bytes` are refused by gRPC (RESOURCE_EXHAUSTED).
absl::StatusOr<StartedGrpcServer> StartGrpcServer(
    const HostPort& listen, const std::vector<grpc::Service*>& services,
    std::shared_ptr<grpc::ServerCredentials> credentials,
    int max_receive_bytes = kDefaultMaxReceiveBytes);

// Sets the health status of the overall server ("") and of each named service.
void SetServing(grpc::Server& server, const std::vector<std::string>& service_names, bool serving);

// Shuts the server down: health NOT_SERVING, stop accepting, give calls in flight `grace` to
// finish, then cancel the rest.
void ShutdownGrpcServer(grpc::Server& server, const std::vector<std::string>& service_names,
                        absl::Duration grace);

}  // namespace autosync::common

namespace prometheus {
class Registry;
}

namespace autosync::common {

// A check of what the service needs to do its work (PostgreSQL, an unexpired TLS certificate),
// run every `interval` while serving. UNAVAILABLE means "not ready" (its message is logged, so it
// says why); any other error (a busy pool) leaves the state as is.
struct ReadinessCheck {
  std::function<absl::Status()> check = {};
  absl::Duration interval = absl::Seconds(1);
};

// The serve loop shared by scheduler-service and sync-worker: starts the gRPC server (with
// `credentials`) and the
// /metrics server, reports SERVING, waits for SIGTERM/SIGINT, then shuts both down. Returns the
// process exit code (0 after a clean stop, 1 when a listener cannot start).
//
// With a `readiness` check, the named services (`service_names`) report NOT_SERVING while it
// answers UNAVAILABLE and SERVING again once it passes, and the gauge `autosync_ready` says the
// same (1/0). The whole server ("") stays SERVING while the process runs: it is the liveness
// answer, and a process waiting for its database must not be restarted for it.
int ServeGrpcUntilSignal(const HostPort& listen, const HostPort& metrics_listen,
                         const std::vector<grpc::Service*>& services,
                         const std::vector<std::string>& service_names,
                         std::shared_ptr<grpc::ServerCredentials> credentials,
                         std::shared_ptr<prometheus::Registry> registry, absl::Duration grace,
                         ReadinessCheck readiness = {},
                         int max_receive_bytes = kDefaultMaxReceiveBytes);

}  // namespace autosync::common
