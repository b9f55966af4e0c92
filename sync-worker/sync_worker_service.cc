#include "sync-worker/sync_worker_service.h"

#include <deque>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status.h"

namespace autosync::worker {
namespace {

using autosync::v1::RunSyncRequest;
using autosync::v1::SyncProgress;

// Deleted in OnDone. The pipeline thread holds a shared_ptr to the reactor's Channel, never to
// the reactor itself after Finish, so it can outlive the RPC safely.
class RunSyncReactor final : public grpc::ServerWriteReactor<SyncProgress> {
 public:
  // Queue between the run's thread and gRPC: one write in flight, the rest waiting.
  struct Channel {
    absl::Mutex mu;
    RunSyncReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    std::deque<SyncProgress> queue ABSL_GUARDED_BY(mu);
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool write_failed ABSL_GUARDED_BY(mu) = false;
    bool run_done ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;
    grpc::Status final_status ABSL_GUARDED_BY(mu);
    std::atomic<bool> cancelled{false};
    RealSleeper sleeper;

    // Finish exactly once: when the run is done and no write is in flight. Returns the reactor
    // to call Finish on (and the status) when this caller is the one to do it.
    RunSyncReactor* TakeFinisher(grpc::Status* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (!run_done || writing || finished || reactor == nullptr) return nullptr;
      finished = true;
      *status = final_status;
      return reactor;
    }
  };

  RunSyncReactor() : channel_(std::make_shared<Channel>()) {
    absl::MutexLock lock(&channel_->mu);
    channel_->reactor = this;
  }

  std::shared_ptr<Channel> channel() { return channel_; }

  // Called from the run's thread for each event.
  static void Emit(const std::shared_ptr<Channel>& ch, const SyncProgress& progress) {
    const SyncProgress* to_write = nullptr;
    RunSyncReactor* reactor = nullptr;
    {
      absl::MutexLock lock(&ch->mu);
      if (ch->finished || ch->write_failed) return;
      ch->queue.push_back(progress);
      if (!ch->writing) {
        ch->writing = true;
        to_write = &ch->queue.front();
        reactor = ch->reactor;
      }
    }
    // Outside the lock: OnWriteDone may run inline. The reactor cannot be gone: Finish is only
    // called once the run is done, and this thread is the run.
    if (reactor != nullptr) reactor->StartWrite(to_write);
  }

  // Called from the run's thread once, after its last Emit.
  static void RunDone(const std::shared_ptr<Channel>& ch, grpc::Status status) {
    RunSyncReactor* reactor = nullptr;
    {
      absl::MutexLock lock(&ch->mu);
      ch->run_done = true;
      ch->final_status = status;
      reactor = ch->TakeFinisher(&status);
    }
    if (reactor != nullptr) reactor->Finish(status);
  }

  void OnWriteDone(bool ok) override {
    const SyncProgress* next = nullptr;
    RunSyncReactor* finisher = nullptr;
    grpc::Status status;
    {
      absl::MutexLock lock(&channel_->mu);
      channel_->queue.pop_front();
      channel_->writing = false;
      if (!ok) {
        channel_->write_failed = true;
        channel_->queue.clear();
      } else if (!channel_->queue.empty()) {
        channel_->writing = true;
        next = &channel_->queue.front();
      }
      if (next == nullptr) finisher = channel_->TakeFinisher(&status);
    }
    if (next != nullptr) StartWrite(next);
    if (finisher != nullptr) Finish(status);
  }

  void OnCancel() override {
    channel_->cancelled.store(true);
    channel_->sleeper.Cancel();
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&channel_->mu);
      channel_->reactor = nullptr;
    }
    delete this;
  }

 private:
  std::shared_ptr<Channel> channel_;
};

}  // namespace

SyncWorkerService::SyncWorkerService(const WorkerConfig& config, SyncStore& store,
                                     TransportFactory transports, WorkerMetrics& metrics)
    : config_(config),
      store_(store),
      transports_(std::move(transports)),
      metrics_(metrics),
      pool_(config.max_concurrent_syncs) {}

SyncWorkerService::~SyncWorkerService() = default;

grpc::ServerWriteReactor<SyncProgress>* SyncWorkerService::RunSync(
    grpc::CallbackServerContext* context, const RunSyncRequest* request) {
  (void)context;
  auto* reactor = new RunSyncReactor();
  std::shared_ptr<RunSyncReactor::Channel> ch = reactor->channel();
  RunSyncRequest req = *request;
  const bool started = pool_.TrySubmit([this, ch, req] {
    metrics_.active_runs().Increment();
    SyncPipeline pipeline(store_, transports_, ch->sleeper, ch->cancelled, config_.pipeline,
                          &metrics_);
    const absl::Status status =
        pipeline.Run(req, [&ch](const SyncProgress& p) { RunSyncReactor::Emit(ch, p); });
    metrics_.active_runs().Decrement();
    if (!status.ok()) {
      common::LogWarn("RunSync refused", {{"rpc", "RunSync"},
                                          {"store", req.store_id().substr(0, 64)},
                                          {"error", status.message()}});
    }
    RunSyncReactor::RunDone(ch, common::ToGrpcStatus(status));
  });
  if (!started) {
    metrics_.RunFinished("rejected");
    RunSyncReactor::RunDone(
        ch,
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("this worker is already running ", config_.max_concurrent_syncs,
                                  " syncs (--max_concurrent_syncs); try another replica")));
  }
  return reactor;
}

grpc::ServerUnaryReactor* SyncWorkerService::GetCapacity(
    grpc::CallbackServerContext* context, const autosync::v1::GetCapacityRequest* /*request*/,
    autosync::v1::GetCapacityResponse* response) {
  response->set_worker_id(config_.worker_id);
  response->set_slots(config_.max_concurrent_syncs);
  response->set_in_flight(pool_.busy());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace autosync::worker
