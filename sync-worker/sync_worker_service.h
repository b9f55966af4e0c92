// The autosync.v1.SyncWorker gRPC service: RunSync streams one run's progress. Each call gets a
// write reactor (new'ed in RunSync, deleted in OnDone); the run itself executes on a
// common::ThreadPool, and its events are queued and written one at a time.
#pragma once

#include <memory>

#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/pg_pool.h"
#include "common/thread_pool.h"
#include "sync-worker/config.h"
#include "sync-worker/metrics.h"
#include "sync-worker/sync_pipeline.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker {

class SyncWorkerService final : public autosync::v1::SyncWorker::CallbackService {
 public:
  // `store`, `metrics` must outlive the service. Destroying the service waits for runs in
  // flight (shut the gRPC server down first: that cancels them).
  SyncWorkerService(const WorkerConfig& config, SyncStore& store, TransportFactory transports,
                    WorkerMetrics& metrics);
  ~SyncWorkerService() override;

  grpc::ServerWriteReactor<autosync::v1::SyncProgress>* RunSync(
      grpc::CallbackServerContext* context, const autosync::v1::RunSyncRequest* request) override;
  grpc::ServerUnaryReactor* GetCapacity(grpc::CallbackServerContext* context,
                                        const autosync::v1::GetCapacityRequest* request,
                                        autosync::v1::GetCapacityResponse* response) override;
  // Runs executing now.
  int in_flight() const { return pool_.busy(); }

 private:
  const WorkerConfig& config_;
  SyncStore& store_;
  TransportFactory transports_;
  WorkerMetrics& metrics_;
  common::ThreadPool pool_;
};

}  // namespace autosync::worker
