// The sync-worker's validated configuration (from flags / AUTOSYNC_* variables).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "common/config.h"
#include "sync-worker/sync_pipeline.h"

namespace autosync::worker {

struct WorkerConfig {
  common::HostPort listen;          // gRPC
  common::HostPort metrics_listen;  // /metrics
  std::string database_url;
  int database_pool_size = 16;
  // Runs at once, a thread each (see README: "Runs are I/O-bound").
  int max_concurrent_syncs = 64;
  // Names this process in worker_slots (default: host name and process id).
  std::string worker_id;
  absl::Duration startup_timeout = absl::Seconds(30);
  absl::Duration shutdown_grace = absl::Seconds(3);
  PipelineOptions pipeline;
  // TLS peer verification for store APIs; only ever off for local experiments.
  bool verify_tls = true;
};

}  // namespace autosync::worker
