// The scheduler-service's validated configuration (from flags / AUTOSYNC_* variables).
#pragma once

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
};

}  // namespace autosync::scheduler
