#include "scheduler-service/config.h"

#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "common/pg_url.h"
#include "scheduler-service/cron.h"
#include "scheduler-service/flags.h"

namespace autosync::scheduler {
namespace {

// A cron expression (CronSchedule::Parse): the error names the bad field.
std::string CronFlag(const absl::Flag<std::string>& flag, common::ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  if (auto cron = CronSchedule::Parse(value); !cron.ok()) {
    errors.Require(false, common::FlagName(flag), cron.status().message());
  }
  return value;
}

}  // namespace

absl::StatusOr<SchedulerConfig> SchedulerConfigFromFlags(common::ConfigErrors errors) {
  SchedulerConfig config;
  config.listen = common::ListenFlag(FLAGS_listen, errors);
  config.metrics_listen = common::ListenFlag(FLAGS_metrics_listen, errors);
  config.database_url = common::DatabaseUrlFlag(FLAGS_database_url, errors);
  config.database_pool_size = common::FlagInRange(FLAGS_database_pool_size, 1, 100, errors);
  config.worker_target = common::NonEmptyFlag(FLAGS_worker_target, errors);
  config.migrate_only = absl::GetFlag(FLAGS_migrate_only);
  config.startup_timeout = common::SecondsFlag(FLAGS_startup_timeout_seconds, 1, 600, errors);

  config.default_schedule = CronFlag(FLAGS_default_schedule, errors);
  config.default_ads_schedule = CronFlag(FLAGS_default_ads_schedule, errors);
  config.default_orders_api = absl::GetFlag(FLAGS_default_orders_api);
  errors.Require(config.default_orders_api == "rest" || config.default_orders_api == "graphql",
                 "default_orders_api", "must be rest or graphql");
  config.default_timezone = absl::GetFlag(FLAGS_default_timezone);
  if (auto tz = LoadZone(config.default_timezone); !tz.ok()) {
    errors.Require(false, "default_timezone", tz.status().message());
  }
  config.default_staleness_seconds =
      common::FlagInRange(FLAGS_default_staleness_seconds, 1, 31'536'000, errors);
  config.replica_id = common::ProcessNameFlag(FLAGS_replica_id, 128, errors);
  config.max_concurrent_runs = common::FlagInRange(FLAGS_max_concurrent_runs, 1, 1024, errors);
  config.adaptive_dispatch = absl::GetFlag(FLAGS_adaptive_dispatch);
  config.run_timeout = common::SecondsFlag(FLAGS_run_timeout_seconds, 10, 86400, errors);
  config.run_stale = common::SecondsFlag(FLAGS_run_stale_seconds, 2, 3600, errors);
  config.catchup_window = common::SecondsFlag(FLAGS_catchup_window_seconds, 0, 86400, errors);
  config.schedule_refresh = common::SecondsFlag(FLAGS_schedule_refresh_seconds, 1, 3600, errors);
  config.run_history =
      absl::Hours(24) * common::FlagInRange(FLAGS_run_history_days, 1, 3650, errors);
  config.watcher_queue_limit = common::FlagInRange(FLAGS_watcher_queue_limit, 8, 100000, errors);
  config.notify_timeout = common::SecondsFlag(FLAGS_notify_timeout_seconds, 1, 300, errors);
  config.notify_attempts = common::FlagInRange(FLAGS_notify_attempts, 1, 10, errors);

  // A --migrate_only Job serves and calls no gRPC: it needs neither the TLS files nor
  // --insecure_grpc.
  if (!config.migrate_only) {
    config.security = common::GrpcSecurityFromFlags(
        {std::string(common::kGatewayName), std::string(common::kOperatorName)}, errors);
  }
  config.worker_tls_name = common::NonEmptyFlag(FLAGS_worker_tls_name, errors);
  if (!errors.ok()) return errors.ToStatus();
  return config;
}

}  // namespace autosync::scheduler
