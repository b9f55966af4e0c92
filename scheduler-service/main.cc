// scheduler-service: parses configuration, applies migrations, serves the Scheduler API.
// Start-up only: the flags and their checks live in flags.cc and config.cc, the logic in the
// autosync_scheduler library.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/core.h"
#include "scheduler-service/fx_rates_csv.h"
#include "scheduler-service/scheduler_service.h"

namespace autosync::scheduler {
namespace {

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "scheduler-service: per-store cron schedules, runs and status "
                            "(autosync.v1.Scheduler over gRPC)");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("scheduler-service", errors);
  const absl::StatusOr<SchedulerConfig> parsed = SchedulerConfigFromFlags(std::move(errors));
  if (!parsed.ok()) common::ExitWithConfigError(argv[0], parsed.status().message());
  const SchedulerConfig& config = *parsed;
  const common::GrpcSecurity& security = config.security;
  const std::string& worker_tls_name = config.worker_tls_name;

  const std::unique_ptr<common::PgPool> pool =
      common::OpenDatabaseAtStartup(argv[0],
                                    {.url = config.database_url,
                                     .size = config.database_pool_size,
                                     .application_name = "scheduler-service"},
                                    config.startup_timeout);
  if (pool == nullptr) return 1;
  absl::StatusOr<int> applied = common::ApplyMigrations(*pool, common::EmbeddedMigrations());
  if (!applied.ok()) {
    common::LogError("database migration failed", {{"error", applied.status().message()}});
    return 1;
  }
  common::LogInfo("database schema up to date", {{"applied", absl::StrCat(*applied)}});
  if (config.migrate_only) return 0;

  auto registry = std::make_shared<SchedulerRegistry>();
  grpc::ChannelArguments args;
  // dns:/// targets resolve to every worker replica; spread runs across them.
  args.SetLoadBalancingPolicyName("round_robin");
  std::shared_ptr<grpc::Channel> worker = grpc::CreateCustomChannel(
      config.worker_target, security.ChannelCredentials(worker_tls_name), args);
  RealClock clock;
  SchedulerCore core(config, *pool, *registry, clock, worker);
  if (absl::Status s = core.Start(); !s.ok()) {
    common::LogError("cannot load the schedule", {{"error", s.message()}});
    return 1;
  }
  SchedulerService service(core);
  // Readiness follows the database (every Scheduler RPC and claim needs it) and this service's
  // own TLS certificate (expired, no peer accepts it). Requests up to 33 MiB: an ImportFxRates
  // CSV may be 32 MiB (its own limit answers with a clear message).
  common::PgPool& db = *pool;
  std::unique_ptr<common::CertificateExpiryCheck> expiry;
  if (!security.insecure) {
    expiry = std::make_unique<common::CertificateExpiryCheck>(security.files.cert_file, *registry);
  }
  const int code = common::ServeGrpcUntilSignal(
      config.listen, config.metrics_listen, {&service}, {"autosync.v1.Scheduler"},
      security.ServerCredentials(), registry, config.shutdown_grace,
      {.check =
           [&db, &expiry] {
             if (expiry != nullptr) {
               if (absl::Status s = expiry->Check(); !s.ok()) return s;
             }
             return db.Ping();
           }},
      static_cast<int>(kMaxFxCsvBytes) + (1 << 20));
  core.Stop();
  return code;
}

}  // namespace
}  // namespace autosync::scheduler

int main(int argc, char** argv) { return autosync::scheduler::Main(argc, argv); }
