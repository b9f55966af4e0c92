// The autosync.v1.SyncWorker gRPC service. Issue #3 fills in RunSync; until then it answers
// UNIMPLEMENTED (the generated CallbackService default).
#pragma once

#include "autosync/v1/sync_worker.grpc.pb.h"
#include "sync-worker/config.h"

namespace autosync::worker {

class SyncWorkerService final : public autosync::v1::SyncWorker::CallbackService {
 public:
  explicit SyncWorkerService(const WorkerConfig& config) : config_(config) {}

 private:
  const WorkerConfig& config_;
};

}  // namespace autosync::worker
