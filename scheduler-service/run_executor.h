// RunExecutor: takes runs from the run queue (run_queue.h) as worker slots free up and executes
// them -- one RunSync stream per run, its progress relayed and throttled into sync_runs, its end
// decided by DecideRunEnd (run_end.h): recorded, given back to the queue, or followed by a
// retry. Also refreshes the queue positions shown to this replica's watchers.
//
// How many: as many as the live workers have free slots, and no more than DispatchLimit allows
// (the runs in flight adapted to their start latency: a crowded CPU or database gets fewer).
//
// Threads: one dispatcher thread; each dispatched run holds a thread of a pool of
// --max_concurrent_runs while its stream is open (a run mostly waits on the worker, which waits
// on the store APIs: the pool is sized for waiting, and the fleet's capacity is the workers'
// slots, not this pool). Thread-safe; Stop() before destruction.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "autosync/v1/scheduler.pb.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/thread_pool.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/dispatch_limit.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_end.h"
#include "scheduler-service/run_queue.h"

namespace autosync::scheduler {

// Where the executor's events go (SchedulerCore: NOTIFY to every replica, and the local hub).
class RunEvents {
 public:
  virtual ~RunEvents() = default;
  virtual void PublishProgress(const autosync::v1::SyncProgress& progress) = 0;
  virtual void PublishStatus(const std::string& store_id) = 0;
  // This replica's watchers only (queue positions are refreshed by every replica for its own).
  virtual void DeliverLocal(const autosync::v1::SyncProgress& progress) = 0;
  virtual std::vector<std::string> WatchedStores() = 0;
  // A run was recorded failed and nothing follows it (no retry or follow-up run queued, not
  // given back to the queue): the store's run_failed notification. Must not block.
  virtual void OnRunFailed(const std::string& store_id, const std::string& run_id,
                           const std::string& error) = 0;
};

class RunExecutor final {
 public:
  // Every reference must outlive the executor.
  RunExecutor(const SchedulerConfig& config, const Clock& clock, RunRecorder& repo,
              RunQueueStore& queue, SchedulerMetrics& metrics, RunEvents& events,
              std::shared_ptr<grpc::Channel> worker_channel);
  ~RunExecutor();

  void Start();
  // Stops dispatching, cancels this replica's runs (each recorded failed and queued again for
  // another replica) and joins every thread. Idempotent.
  void Stop();

  // Queues a run (see RunQueueStore::Enqueue), announces it to watchers, and wakes the
  // dispatcher. Blocking.
  absl::StatusOr<EnqueueResult> Enqueue(EnqueueRequest request);
  // Something was queued or a slot may be free: dispatch now rather than at the next poll.
  void Wake();
  // Cancels this replica's runs of a deleted store.
  void CancelStore(const std::string& store_id);
  std::vector<RunKey> ActiveRuns();
  // The estimated wait of a run at `position`, from the last dispatch's capacity and the recent
  // mean run time (-1: unknown).
  int64_t EstimateWait(int position);

 private:
  struct Active {
    std::string store_id;
    grpc::ClientContext* context = nullptr;  // while a RunSync call is open
  };
  void DispatchLoop();
  // Takes what the workers' slots allow and starts each run on the run pool.
  void DispatchOnce();
  void ExecuteRun(const DispatchedRun& run, absl::Time deadline);
  // Records the run's outcome, repeated while the database is unreachable (up to the run's
  // budget or until the replica stops), and publishes `terminal` to watchers.
  void FinishAndAnnounce(const DispatchedRun& run, absl::Time deadline, absl::string_view status,
                         const autosync::v1::SyncProgress& terminal);
  // Queues the run that follows `run` (the same work, attempt `attempt`) after `delay`.
  void QueueNext(const DispatchedRun& run, int attempt, absl::Duration delay,
                 absl::string_view why);
  void RefreshQueuePlaces();
  void ObserveRunTime(absl::Duration d);
  // A run's first event arrived `latency` after its stream was opened.
  void ObserveStart(absl::Duration latency);
  bool stopping();
  bool SleepUnlessStopping(absl::Duration d);

  const SchedulerConfig& config_;
  const Clock& clock_;
  RunRecorder& repo_;
  RunQueueStore& queue_;
  SchedulerMetrics& metrics_;
  RunEvents& events_;
  std::unique_ptr<autosync::v1::SyncWorker::Stub> worker_;
  common::ThreadPool run_pool_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Active> active_ ABSL_GUARDED_BY(mu_);  // by run id
  int slots_ ABSL_GUARDED_BY(mu_) = 0;
  int free_slots_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration mean_run_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // Runs this replica keeps in flight, adapted to their start latency (dispatch_limit.h).
  DispatchLimit limit_ ABSL_GUARDED_BY(mu_);
  // The position last shown to local watchers, by store (to send only changes).
  absl::flat_hash_map<std::string, int> shown_places_ ABSL_GUARDED_BY(mu_);
  std::thread dispatcher_;
};

}  // namespace autosync::scheduler
