// The scheduler-service's validated configuration (from flags / AUTOSYNC_* variables).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/config.h"

namespace autosync::scheduler {

struct SchedulerConfig {
  common::HostPort listen;          // gRPC
  common::HostPort metrics_listen;  // /metrics
  std::string database_url;
  int database_pool_size = 8;
  std::string worker_target;  // gRPC name syntax: "dns:///sync-worker:50052"
  bool migrate_only = false;
  absl::Duration startup_timeout = absl::Seconds(30);
  absl::Duration shutdown_grace = absl::Seconds(3);

  // Store defaults for fields an UpsertStore leaves empty / zero.
  std::string default_schedule = "0 * * * *";
  std::string default_ads_schedule = "0 */6 * * *";
  std::string default_orders_api = "graphql";
  std::string default_timezone = "UTC";
  int64_t default_staleness_seconds = 3600;

  // Runs.
  std::string replica_id;  // recorded as sync_runs.owner; unique per process
  int max_concurrent_runs = 256;
  // Runs in flight adapted to their start latency (DispatchLimit); off: as many as the workers'
  // free slots and max_concurrent_runs allow.
  bool adaptive_dispatch = true;
  absl::Duration run_timeout = absl::Minutes(30);  // whole-run budget, retries included
  absl::Duration run_stale = absl::Seconds(60);    // heartbeat age after which a run is failed
  absl::Duration catchup_window = absl::Hours(1);
  absl::Duration schedule_refresh = absl::Seconds(60);  // full reload of other replicas' changes
  absl::Duration run_history = absl::Hours(24 * 30);    // runs older than this are pruned
  int watcher_queue_limit = 256;  // events queued per WatchStore stream before it is dropped

  // Notification webhooks (notifier.h): one POST's budget, and the attempts of one notification.
  absl::Duration notify_timeout = absl::Seconds(10);
  int notify_attempts = 4;

  // How often a replica heartbeats its runs and reaps stale ones: well inside run_stale.
  absl::Duration heartbeat_interval() const {
    return std::clamp(run_stale / 4, absl::Milliseconds(500), absl::Seconds(5));
  }
};

}  // namespace autosync::scheduler
