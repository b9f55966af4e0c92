#include "sync-worker/config.h"

#include <algorithm>
#include <string>

#include "absl/flags/flag.h"
#include "common/pg_url.h"
#include "sync-worker/flags.h"

namespace autosync::worker {

absl::StatusOr<WorkerConfig> WorkerConfigFromFlags(common::ConfigErrors errors) {
  WorkerConfig config;
  config.listen = common::ListenFlag(FLAGS_listen, errors);
  config.metrics_listen = common::ListenFlag(FLAGS_metrics_listen, errors);
  config.database_url = common::DatabaseUrlFlag(FLAGS_database_url, errors);
  config.database_pool_size = common::FlagInRange(FLAGS_database_pool_size, 1, 100, errors);
  config.max_concurrent_syncs = common::FlagInRange(FLAGS_max_concurrent_syncs, 1, 256, errors);
  config.startup_timeout = common::SecondsFlag(FLAGS_startup_timeout_seconds, 1, 600, errors);

  PipelineOptions& pipeline = config.pipeline;
  pipeline.orders_lookback = common::SecondsFlag(FLAGS_orders_lookback_seconds, 0, 86400, errors);
  pipeline.ads_window_days = common::FlagInRange(FLAGS_ads_window_days, 1, 90, errors);
  pipeline.ads_initial_days =
      common::FlagInRange(FLAGS_ads_initial_days, 1, 1100, errors,
                          "must be between 1 and 1100 (the ads API keeps 37 months)");
  const absl::Duration throttle =
      common::SecondsFlag(FLAGS_ads_max_throttle_wait_seconds, 1, 3600, errors);
  pipeline.ads_client.max_throttle_wait = throttle;
  pipeline.ads_client.default_throttle_wait =
      std::min(pipeline.ads_client.default_throttle_wait, throttle);
  const int request_timeout =
      common::FlagInRange(FLAGS_source_request_timeout_seconds, 0, 300, errors);
  if (request_timeout > 0) {  // 0: each client keeps its own default
    pipeline.orders_client.request_timeout = absl::Seconds(request_timeout);
    pipeline.ads_client.request_timeout = absl::Seconds(request_timeout);
  }
  pipeline.graphql_bulk = absl::GetFlag(FLAGS_graphql_bulk);
  pipeline.orders_deletions = absl::GetFlag(FLAGS_orders_deletions);
  pipeline.sweep_interval = absl::Hours(common::FlagInRange(
      FLAGS_sweep_interval_hours, 0, 24 * 366, errors, "must be 0 (no sweep) to 8784"));
  pipeline.orders_sweep = absl::Hours(
      24 * common::FlagInRange(FLAGS_orders_sweep_days, 1, 366, errors, "must be 1 to 366"));
  pipeline.ads_sweep_days =
      common::FlagInRange(FLAGS_ads_sweep_days, 1, 1100, errors, "must be 1 to 1100");
  pipeline.bulk.timeout = absl::Seconds(
      common::FlagInRange(FLAGS_bulk_timeout_seconds, 10, 864000, errors,
                          "must be between 10 and 864000 (Shopify's own limit is 10 days)"));
  pipeline.bulk.max_poll = common::SecondsFlag(FLAGS_bulk_max_poll_seconds, 1, 600, errors);
  pipeline.ads_async = absl::GetFlag(FLAGS_ads_async);
  pipeline.ads_async_timeout =
      common::SecondsFlag(FLAGS_ads_async_timeout_seconds, 10, 86400, errors);
  config.verify_tls = absl::GetFlag(FLAGS_verify_tls);
  config.worker_id = common::ProcessNameFlag(FLAGS_worker_id, 128, errors);

  config.security = common::GrpcSecurityFromFlags(
      {std::string(common::kSchedulerName), std::string(common::kOperatorName)}, errors);
  if (!errors.ok()) return errors.ToStatus();
  return config;
}

}  // namespace autosync::worker
