// SchedulerCore: the thin owner that wires a scheduler replica together. It owns the PostgreSQL
// repository, the metrics, the notifier, and one of each part:
//  - StoreRegistry (store_registry.h): the Scheduler API's blocking operations;
//  - ScheduleLoop + TickClaimer (schedule_loop.h, tick_claimer.h): cron fires claimed and
//    recorded a few hundred ticks per statement;
//  - RunExecutor (run_executor.h): the run queue's dispatch to worker slots, streams, retries;
//  - EventRelay (event_relay.h): progress and status to every replica's watchers (NOTIFY) and
//    the local WatchHub;
//  - Housekeeper (housekeeper.h): heartbeats, reaping, pruning, schedule refresh, freshness.
// It routes the parts' events to each other (it is the claimer's TickEvents, the executor's
// RunEvents and the housekeeper's hooks) and holds no logic of its own.
//
// Threads: Start() and Stop() from the main thread; the rest is thread-safe. Blocking
// operations (registry()) must run on a common::ThreadPool thread (rpc_pool()). Lifetime: Stop()
// (or the destructor) joins every thread.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "autosync/v1/scheduler.pb.h"
#include "common/thread_pool.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/event_relay.h"
#include "scheduler-service/housekeeper.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/notifier.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_executor.h"
#include "scheduler-service/run_queue.h"
#include "scheduler-service/schedule_loop.h"
#include "scheduler-service/store_registry.h"
#include "scheduler-service/tick_claimer.h"
#include "scheduler-service/watch_hub.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::scheduler {

class SchedulerCore final : public RunEvents, public TickEvents, private HousekeeperHooks {
 public:
  // `pool`, `registry`, `clock` must outlive the core.
  SchedulerCore(const SchedulerConfig& config, common::PgPool& pool, SchedulerRegistry& registry,
                const Clock& clock, std::shared_ptr<grpc::Channel> worker_channel);
  ~SchedulerCore() override;

  // Loads the schedules (with catch-up), starts the loop, the listener and housekeeping.
  absl::Status Start();
  // Stops firing, cancels this replica's runs (recorded as failed) and joins every thread.
  void Stop();

  common::ThreadPool& rpc_pool() { return rpc_pool_; }
  WatchHub& hub() { return relay_.hub(); }
  SchedulerMetrics& metrics() { return metrics_; }
  const SchedulerConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  StoreRegistry& registry() { return registry_; }

  // TickEvents (the claimer's): skips announced, queued runs dispatched, unscheduled stores
  // removed from the loop.
  void OnSkips(std::vector<autosync::v1::SyncProgress> skips) override;
  void OnQueued() override;
  void OnNotScheduled(const std::string& store_id) override;

  // RunEvents (the executor's and the housekeeper's): through the relay; failures notified.
  void PublishProgress(const autosync::v1::SyncProgress& progress) override;
  void PublishStatus(const std::string& store_id) override;
  void DeliverLocal(const autosync::v1::SyncProgress& progress) override;
  std::vector<std::string> WatchedStores() override;
  void OnRunFailed(const std::string& store_id, const std::string& run_id,
                   const std::string& error) override;

 private:
  // HousekeeperHooks.
  std::vector<RunKey> ActiveRuns() override;
  void OnFollowUpQueued() override;
  void VerifyLostTicks() override;
  int LoadSchedules(const std::vector<StoreSchedule>& schedules, bool catch_up) override;
  void Notify(Notification notification) override;

  const SchedulerConfig& config_;
  const Clock& clock_;
  PgRepository repo_;
  SchedulerMetrics metrics_;
  // Before the executor: it tells the notifier of failed runs until it stops.
  Notifier notifier_;
  common::ThreadPool rpc_pool_;
  EventRelay relay_;
  PgRunQueue queue_;
  RunExecutor executor_;
  TickClaimer claimer_;
  ScheduleLoop loop_;
  StoreRegistry registry_;
  Housekeeper housekeeper_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace autosync::scheduler
