// scheduler-service: parses configuration, applies migrations, serves the Scheduler API.
// Wiring only; the logic lives in the autosync_scheduler library.
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "scheduler-service/config.h"
#include "scheduler-service/scheduler_service.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9101", "Prometheus /metrics listen address");
ABSL_FLAG(std::string, database_url, "postgresql://autosync@127.0.0.1:5432/autosync",
          "PostgreSQL connection string (libpq URI or key=value); prefer AUTOSYNC_DATABASE_URL "
          "from a Secret, since it may hold a password");
ABSL_FLAG(int32_t, database_pool_size, 8, "PostgreSQL connections kept by this process (1-100)");
ABSL_FLAG(std::string, worker_target, "dns:///127.0.0.1:50052",
          "gRPC target of the sync-worker(s); dns:/// names round-robin across replicas");
ABSL_FLAG(bool, migrate_only, false,
          "Apply database migrations and exit (for a Kubernetes Job)");
ABSL_FLAG(int32_t, startup_timeout_seconds, 30,
          "How long to wait for PostgreSQL at start before giving up (1-600)");

namespace autosync::scheduler {
namespace {

SchedulerConfig ConfigFromFlags(common::ConfigErrors& errors) {
  SchedulerConfig config;
  config.listen = common::ListenFromFlag(absl::GetFlag(FLAGS_listen), "listen", errors);
  config.metrics_listen =
      common::ListenFromFlag(absl::GetFlag(FLAGS_metrics_listen), "metrics_listen", errors);
  config.database_url = absl::GetFlag(FLAGS_database_url);
  errors.Check(common::ValidateDatabaseUrl(config.database_url), "database_url");
  config.database_pool_size = absl::GetFlag(FLAGS_database_pool_size);
  errors.Require(config.database_pool_size >= 1 && config.database_pool_size <= 100,
                 "database_pool_size", "must be between 1 and 100");
  config.worker_target = absl::GetFlag(FLAGS_worker_target);
  errors.Require(!config.worker_target.empty(), "worker_target", "is empty");
  config.migrate_only = absl::GetFlag(FLAGS_migrate_only);
  const int startup = absl::GetFlag(FLAGS_startup_timeout_seconds);
  errors.Require(startup >= 1 && startup <= 600, "startup_timeout_seconds",
                 "must be between 1 and 600");
  config.startup_timeout = absl::Seconds(startup);
  return config;
}

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "scheduler-service: per-store cron schedules, runs and status "
                            "(autosync.v1.Scheduler over gRPC)");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("scheduler-service", errors);
  const SchedulerConfig config = ConfigFromFlags(errors);
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto pool = common::PgPool::Create({.url = config.database_url,
                                      .size = config.database_pool_size,
                                      .application_name = "scheduler-service"});
  if (!pool.ok()) common::ExitWithConfigError(argv[0], pool.status().message());
  if (absl::Status s = common::WaitForDatabase(**pool, config.startup_timeout); !s.ok()) {
    common::LogError("cannot reach the database (--database_url)",
                     {{"error", s.message()},
                      {"database", common::RedactDatabaseUrl(config.database_url)}});
    return 1;
  }
  absl::StatusOr<int> applied = common::ApplyMigrations(**pool, common::EmbeddedMigrations());
  if (!applied.ok()) {
    common::LogError("database migration failed", {{"error", applied.status().message()}});
    return 1;
  }
  common::LogInfo("database schema up to date", {{"applied", absl::StrCat(*applied)}});
  if (config.migrate_only) return 0;

  auto registry = std::make_shared<prometheus::Registry>();
  SchedulerService service(config);
  return common::ServeGrpcUntilSignal(config.listen, config.metrics_listen, {&service},
                                      {"autosync.v1.Scheduler"}, registry, config.shutdown_grace);
}

}  // namespace
}  // namespace autosync::scheduler

int main(int argc, char** argv) { return autosync::scheduler::Main(argc, argv); }
