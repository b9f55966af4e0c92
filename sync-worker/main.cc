// sync-worker: parses configuration and serves the SyncWorker API. Start-up only: the flags and
// their checks live in flags.cc and config.cc, the logic in the autosync_worker library.
#include <memory>
#include <string>
#include <utility>

#include "common/config.h"
#include "common/grpc_server.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/pg_pool.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "sync-worker/capacity_reporter.h"
#include "sync-worker/config.h"
#include "sync-worker/connectors/curl_transport.h"
#include "sync-worker/metrics.h"
#include "sync-worker/sync_store.h"
#include "sync-worker/sync_worker_service.h"

namespace autosync::worker {
namespace {

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "sync-worker: runs one store's Orders -> Ads -> LTV sync per "
                            "autosync.v1.SyncWorker.RunSync call");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("sync-worker", errors);
  const absl::StatusOr<WorkerConfig> parsed = WorkerConfigFromFlags(std::move(errors));
  if (!parsed.ok()) common::ExitWithConfigError(argv[0], parsed.status().message());
  const WorkerConfig& config = *parsed;
  const common::GrpcSecurity& security = config.security;

  const std::unique_ptr<common::PgPool> pool =
      common::OpenDatabaseAtStartup(argv[0],
                                    {.url = config.database_url,
                                     .size = config.database_pool_size,
                                     .application_name = "sync-worker"},
                                    config.startup_timeout);
  if (pool == nullptr) return 1;

  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics metrics(*registry);
  std::unique_ptr<SyncStore> store = MakePgSyncStore(*pool);
  CurlOptions curl;
  curl.verify_tls = config.verify_tls;
  TransportFactory transports = [curl]() -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
    auto transport = CurlTransport::Create(curl);
    if (!transport.ok()) return transport.status();
    return std::unique_ptr<HttpTransport>(std::move(*transport));
  };
  SyncWorkerService service(config, *store, transports, metrics);
  CapacityReporter capacity(*pool, config.worker_id, config.max_concurrent_syncs,
                            [&service] { return service.in_flight(); });
  capacity.Start();
  // Readiness follows the database (without it no run can write anything) and this service's
  // own TLS certificate (expired, no scheduler accepts it).
  common::PgPool& db = *pool;
  std::unique_ptr<common::CertificateExpiryCheck> expiry;
  if (!security.insecure) {
    expiry = std::make_unique<common::CertificateExpiryCheck>(security.files.cert_file, *registry);
  }
  const int rc = common::ServeGrpcUntilSignal(
      config.listen, config.metrics_listen, {&service}, {"autosync.v1.SyncWorker"},
      security.ServerCredentials(), registry, config.shutdown_grace, {.check = [&db, &expiry] {
        if (expiry != nullptr) {
          if (absl::Status s = expiry->Check(); !s.ok()) return s;
        }
        return db.Ping();
      }});
  capacity.Stop();
  return rc;
}

}  // namespace
}  // namespace autosync::worker

int main(int argc, char** argv) { return autosync::worker::Main(argc, argv); }
