// The scheduler-service's validated configuration (from flags / AUTOSYNC_* variables), and the
// function that builds it from the flags (flags.h). A plain value: copy it freely; the core keeps
// a reference to the one main.cc builds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/grpc_tls.h"

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
  // gRPC mTLS of the server and of the channel to the workers; left unset with --migrate_only
  // (a migration Job serves and calls no gRPC).
  common::GrpcSecurity security;
  std::string worker_tls_name = "autosync-worker";  // name the workers' certificates carry

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

// Reads and checks every scheduler-service flag (and the shared --tls_* / --insecure_grpc ones).
// `errors` holds problems found before (the logging flags), which come first in the message. On
// any problem: INVALID_ARGUMENT "invalid --<flag>: <problem>; …" on one line, naming each bad
// flag. Call after parsing the flags; the defaults alone are refused only for want of the TLS
// files or --insecure_grpc.
absl::StatusOr<SchedulerConfig> SchedulerConfigFromFlags(common::ConfigErrors errors = {});

}  // namespace autosync::scheduler
