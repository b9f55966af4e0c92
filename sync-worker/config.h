// The sync-worker's validated configuration (from flags / AUTOSYNC_* variables), and the function
// that builds it from the flags (flags.h). A plain value: copy it freely.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/grpc_tls.h"
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
  // gRPC mTLS of the server (the schedulers and the operator are its clients).
  common::GrpcSecurity security;
};

// Reads and checks every sync-worker flag (and the shared --tls_* / --insecure_grpc ones).
// `errors` holds problems found before (the logging flags), which come first in the message. On
// any problem: INVALID_ARGUMENT "invalid --<flag>: <problem>; …" on one line, naming each bad
// flag. Call after parsing the flags; the defaults alone are refused only for want of the TLS
// files or --insecure_grpc.
absl::StatusOr<WorkerConfig> WorkerConfigFromFlags(common::ConfigErrors errors = {});

}  // namespace autosync::worker
