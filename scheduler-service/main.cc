// scheduler-service: parses configuration, applies migrations, serves the Scheduler API.
// Wiring only; the logic lives in the autosync_scheduler library.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
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
#include "scheduler-service/cron.h"
#include "scheduler-service/fx_rates_csv.h"
#include "scheduler-service/scheduler_service.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9101", "Prometheus /metrics listen address");
ABSL_FLAG(std::string, database_url, "postgresql://autosync@127.0.0.1:5432/autosync",
          "PostgreSQL connection string (libpq URI or key=value); prefer AUTOSYNC_DATABASE_URL "
          "from a Secret, since it may hold a password");
ABSL_FLAG(int32_t, database_pool_size, 8, "PostgreSQL connections kept by this process (1-100)");
ABSL_FLAG(std::string, worker_target, "dns:///127.0.0.1:50052",
          "gRPC target of the sync-worker(s); dns:/// names round-robin across replicas");
ABSL_FLAG(std::string, worker_tls_name, "autosync-worker",
          "DNS name the workers' TLS certificates must carry (checked instead of the host in "
          "--worker_target)");
ABSL_FLAG(bool, migrate_only, false, "Apply database migrations and exit (for a Kubernetes Job)");
ABSL_FLAG(int32_t, startup_timeout_seconds, 30,
          "How long to wait for PostgreSQL at start before giving up (1-600)");
ABSL_FLAG(std::string, default_schedule, "0 * * * *",
          "Orders cron expression of stores registered without one");
ABSL_FLAG(std::string, default_ads_schedule, "0 */6 * * *",
          "Ads cron expression of stores registered without any schedule (a store registered "
          "with only `schedule` uses it for ads too)");
ABSL_FLAG(std::string, default_orders_api, "graphql",
          "Shopify Admin API of stores registered without orders_api: graphql (Shopify's "
          "current API) or rest (legacy since October 2024)");
ABSL_FLAG(std::string, default_timezone, "UTC", "IANA time zone of stores registered without one");
ABSL_FLAG(int64_t, default_staleness_seconds, 3600,
          "Staleness threshold of stores registered without one (1-31536000): a scheduled fire "
          "syncs only when the last success is older");
ABSL_FLAG(std::string, replica_id, "",
          "Name of this replica in sync_runs.owner (default: host name + pid); unique per process");
ABSL_FLAG(int32_t, max_concurrent_runs, 256,
          "Runs this replica streams from the workers at once (1-1024), a thread each while it "
          "waits on its stream; the fleet's capacity is the workers' slots (worker_slots), so "
          "this only bounds one replica's share");
ABSL_FLAG(bool, adaptive_dispatch, true,
          "Keep fewer runs in flight than the workers' free slots when runs start slower than "
          "usual (a crowded CPU or database): each run, a person's included, stays near its time "
          "alone (scheduler-service/dispatch_limit.h). false: fill every free slot");
ABSL_FLAG(int32_t, run_timeout_seconds, 1800,
          "Budget of one run, worker retries included (10-86400)");
ABSL_FLAG(int32_t, run_stale_seconds, 60,
          "A running run whose heartbeat is older than this is marked failed (2-3600)");
ABSL_FLAG(int32_t, catchup_window_seconds, 3600,
          "After a restart, a scheduled fire missed within this window runs once (0-86400)");
ABSL_FLAG(int32_t, schedule_refresh_seconds, 60,
          "Full reload of the schedule from the database, catching changes made through other "
          "replicas if a notification was missed (1-3600)");
ABSL_FLAG(int32_t, run_history_days, 30,
          "Runs older than this are pruned from sync_runs in small batches (1-3650); each "
          "store's newest run is kept");
ABSL_FLAG(int32_t, notify_timeout_seconds, 10,
          "Budget of one POST to a store's notification webhook (1-300)");
ABSL_FLAG(int32_t, notify_attempts, 4,
          "POSTs of one store notification at most, with exponential backoff and jitter between "
          "them (1-10)");
ABSL_FLAG(int32_t, watcher_queue_limit, 256,
          "Events queued for one WatchStore stream before it is dropped as too slow (8-100000)");

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

  config.default_schedule = absl::GetFlag(FLAGS_default_schedule);
  if (auto cron = CronSchedule::Parse(config.default_schedule); !cron.ok()) {
    errors.Require(false, "default_schedule", cron.status().message());
  }
  config.default_ads_schedule = absl::GetFlag(FLAGS_default_ads_schedule);
  if (auto cron = CronSchedule::Parse(config.default_ads_schedule); !cron.ok()) {
    errors.Require(false, "default_ads_schedule", cron.status().message());
  }
  config.default_orders_api = absl::GetFlag(FLAGS_default_orders_api);
  errors.Require(config.default_orders_api == "rest" || config.default_orders_api == "graphql",
                 "default_orders_api", "must be rest or graphql");
  config.default_timezone = absl::GetFlag(FLAGS_default_timezone);
  if (auto tz = LoadZone(config.default_timezone); !tz.ok()) {
    errors.Require(false, "default_timezone", tz.status().message());
  }
  config.default_staleness_seconds = absl::GetFlag(FLAGS_default_staleness_seconds);
  errors.Require(
      config.default_staleness_seconds >= 1 && config.default_staleness_seconds <= 31'536'000,
      "default_staleness_seconds", "must be between 1 and 31536000");
  config.replica_id = absl::GetFlag(FLAGS_replica_id);
  if (config.replica_id.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    config.replica_id = absl::StrCat(host, "-", ::getpid());
  }
  errors.Require(config.replica_id.size() <= 128, "replica_id", "is longer than 128 characters");
  config.max_concurrent_runs = absl::GetFlag(FLAGS_max_concurrent_runs);
  config.adaptive_dispatch = absl::GetFlag(FLAGS_adaptive_dispatch);
  errors.Require(config.max_concurrent_runs >= 1 && config.max_concurrent_runs <= 1024,
                 "max_concurrent_runs", "must be between 1 and 1024");
  const int run_timeout = absl::GetFlag(FLAGS_run_timeout_seconds);
  errors.Require(run_timeout >= 10 && run_timeout <= 86400, "run_timeout_seconds",
                 "must be between 10 and 86400");
  config.run_timeout = absl::Seconds(run_timeout);
  const int stale = absl::GetFlag(FLAGS_run_stale_seconds);
  errors.Require(stale >= 2 && stale <= 3600, "run_stale_seconds", "must be between 2 and 3600");
  config.run_stale = absl::Seconds(stale);
  const int catchup = absl::GetFlag(FLAGS_catchup_window_seconds);
  errors.Require(catchup >= 0 && catchup <= 86400, "catchup_window_seconds",
                 "must be between 0 and 86400");
  config.catchup_window = absl::Seconds(catchup);
  const int refresh = absl::GetFlag(FLAGS_schedule_refresh_seconds);
  errors.Require(refresh >= 1 && refresh <= 3600, "schedule_refresh_seconds",
                 "must be between 1 and 3600");
  config.schedule_refresh = absl::Seconds(refresh);
  const int history_days = absl::GetFlag(FLAGS_run_history_days);
  errors.Require(history_days >= 1 && history_days <= 3650, "run_history_days",
                 "must be between 1 and 3650");
  config.run_history = absl::Hours(24) * history_days;
  config.watcher_queue_limit = absl::GetFlag(FLAGS_watcher_queue_limit);
  errors.Require(config.watcher_queue_limit >= 8 && config.watcher_queue_limit <= 100000,
                 "watcher_queue_limit", "must be between 8 and 100000");
  const int notify_timeout = absl::GetFlag(FLAGS_notify_timeout_seconds);
  errors.Require(notify_timeout >= 1 && notify_timeout <= 300, "notify_timeout_seconds",
                 "must be between 1 and 300");
  config.notify_timeout = absl::Seconds(notify_timeout);
  config.notify_attempts = absl::GetFlag(FLAGS_notify_attempts);
  errors.Require(config.notify_attempts >= 1 && config.notify_attempts <= 10, "notify_attempts",
                 "must be between 1 and 10");
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
  // A --migrate_only Job serves and calls no gRPC: it needs neither the TLS files nor
  // --insecure_grpc.
  common::GrpcSecurity security;
  if (!config.migrate_only) {
    security = common::GrpcSecurityFromFlags(
        {std::string(common::kGatewayName), std::string(common::kOperatorName)}, errors);
  }
  const std::string worker_tls_name = absl::GetFlag(FLAGS_worker_tls_name);
  errors.Require(!worker_tls_name.empty(), "worker_tls_name", "is empty");
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto pool = common::PgPool::Create({.url = config.database_url,
                                      .size = config.database_pool_size,
                                      .application_name = "scheduler-service"});
  if (!pool.ok()) common::ExitWithConfigError(argv[0], pool.status().message());
  if (absl::Status s = common::WaitForDatabase(**pool, config.startup_timeout); !s.ok()) {
    common::LogError(
        "cannot reach the database (--database_url)",
        {{"error", s.message()}, {"database", common::RedactDatabaseUrl(config.database_url)}});
    return 1;
  }
  absl::StatusOr<int> applied = common::ApplyMigrations(**pool, common::EmbeddedMigrations());
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
  SchedulerCore core(config, **pool, *registry, clock, worker);
  if (absl::Status s = core.Start(); !s.ok()) {
    common::LogError("cannot load the schedule", {{"error", s.message()}});
    return 1;
  }
  SchedulerService service(core);
  // Readiness follows the database (every Scheduler RPC and claim needs it) and this service's
  // own TLS certificate (expired, no peer accepts it). Requests up to 33 MiB: an ImportFxRates
  // CSV may be 32 MiB (its own limit answers with a clear message).
  common::PgPool& db = **pool;
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
