// sync-worker: parses configuration and serves the SyncWorker API. Wiring only; the logic lives
// in the autosync_worker library.
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "common/pg_pool.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "sync-worker/config.h"
#include "sync-worker/sync_worker_service.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50052", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9102", "Prometheus /metrics listen address");
ABSL_FLAG(std::string, database_url, "postgresql://autosync@127.0.0.1:5432/autosync",
          "PostgreSQL connection string (libpq URI or key=value); prefer AUTOSYNC_DATABASE_URL "
          "from a Secret, since it may hold a password");
ABSL_FLAG(int32_t, database_pool_size, 8, "PostgreSQL connections kept by this process (1-100)");
ABSL_FLAG(int32_t, max_concurrent_syncs, 4,
          "Runs this replica executes at once (1-256); more answer RESOURCE_EXHAUSTED");
ABSL_FLAG(int32_t, startup_timeout_seconds, 30,
          "How long to wait for PostgreSQL at start before giving up (1-600)");

namespace autosync::worker {
namespace {

WorkerConfig ConfigFromFlags(common::ConfigErrors& errors) {
  WorkerConfig config;
  config.listen = common::ListenFromFlag(absl::GetFlag(FLAGS_listen), "listen", errors);
  config.metrics_listen =
      common::ListenFromFlag(absl::GetFlag(FLAGS_metrics_listen), "metrics_listen", errors);
  config.database_url = absl::GetFlag(FLAGS_database_url);
  errors.Check(common::ValidateDatabaseUrl(config.database_url), "database_url");
  config.database_pool_size = absl::GetFlag(FLAGS_database_pool_size);
  errors.Require(config.database_pool_size >= 1 && config.database_pool_size <= 100,
                 "database_pool_size", "must be between 1 and 100");
  config.max_concurrent_syncs = absl::GetFlag(FLAGS_max_concurrent_syncs);
  errors.Require(config.max_concurrent_syncs >= 1 && config.max_concurrent_syncs <= 256,
                 "max_concurrent_syncs", "must be between 1 and 256");
  const int startup = absl::GetFlag(FLAGS_startup_timeout_seconds);
  errors.Require(startup >= 1 && startup <= 600, "startup_timeout_seconds",
                 "must be between 1 and 600");
  config.startup_timeout = absl::Seconds(startup);
  return config;
}

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "sync-worker: runs one store's Orders -> Ads -> LTV sync per "
                            "autosync.v1.SyncWorker.RunSync call");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("sync-worker", errors);
  const WorkerConfig config = ConfigFromFlags(errors);
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto pool = common::PgPool::Create({.url = config.database_url,
                                      .size = config.database_pool_size,
                                      .application_name = "sync-worker"});
  if (!pool.ok()) common::ExitWithConfigError(argv[0], pool.status().message());
  if (absl::Status s = common::WaitForDatabase(**pool, config.startup_timeout); !s.ok()) {
    common::LogError("cannot reach the database (--database_url)",
                     {{"error", s.message()},
                      {"database", common::RedactDatabaseUrl(config.database_url)}});
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  SyncWorkerService service(config);
  return common::ServeGrpcUntilSignal(config.listen, config.metrics_listen, {&service},
                                      {"autosync.v1.SyncWorker"}, registry, config.shutdown_grace);
}

}  // namespace
}  // namespace autosync::worker

int main(int argc, char** argv) { return autosync::worker::Main(argc, argv); }
