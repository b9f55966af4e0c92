// Housekeeper: the scheduler's periodic upkeep, one pass per heartbeat interval on its own thread.
// Each pass: heartbeats this replica's runs (so no other replica reaps them), reaps the runs of
// replicas that stopped heartbeating (a FAILED event and a status each; their follow-up runs,
// queued in the same statement, wake the dispatcher; the last attempt reaped is a run_failed
// notification), exports the queue gauges and checks the ticks another replica claimed but did not
// record. Every --schedule_refresh_seconds: prunes the run history and old group claims, and
// refreshes the schedules and per-store freshness gauges (a full reload only when the stores
// changed or an hour passed), then the data_stale notifications. Every failure is logged; the next
// pass tries again. Time comes from the injected Clock.
//
// Threads: Start() runs the passes on one thread; LoadAll() is called before it (Start of the
// core), Pass() and FirstPass() by tests without the thread. Lifetime: every reference must
// outlive the housekeeper; Stop() before destruction.
#pragma once

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/notifier.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_executor.h"
#include "scheduler-service/run_queue.h"
#include "scheduler-service/schedule_loop.h"

namespace autosync::scheduler {

// What the housekeeper asks of the rest of the replica (SchedulerCore wires them).
class HousekeeperHooks {
 public:
  virtual ~HousekeeperHooks() = default;
  // This replica's runs in flight (to heartbeat).
  virtual std::vector<RunKey> ActiveRuns() = 0;
  // A follow-up run was queued: dispatch.
  virtual void OnFollowUpQueued() = 0;
  // Records the lost ticks nobody recorded (TickClaimer::VerifyLost).
  virtual void VerifyLostTicks() = 0;
  // Every schedule into the schedule loop; returns how many are unusable (ScheduleLoop::Load).
  virtual int LoadSchedules(const std::vector<StoreSchedule>& schedules, bool catch_up) = 0;
  // A store notification to send (Notifier::Enqueue). Must not block.
  virtual void Notify(Notification notification) = 0;
};

class Housekeeper final {
 public:
  Housekeeper(const SchedulerConfig& config, const Clock& clock, HousekeepingStore& store,
              RunQueueStore& queue, SchedulerMetrics& metrics, RunEvents& events,
              HousekeeperHooks& hooks);
  ~Housekeeper();

  // Every schedule into the loop (with catch-up at start); returns how many stores have an
  // unusable schedule. Before Start().
  absl::StatusOr<int> LoadAll(bool catch_up);
  // Runs FirstPass(), then a Pass() every heartbeat interval until Stop().
  void Start();
  // Idempotent; joins the thread.
  void Stop();

  // The freshness gauges and data_stale notifications at start; the first refresh is due a
  // --schedule_refresh_seconds later.
  void FirstPass();
  // One pass (see above).
  void Pass();

 private:
  // `version`: the stores version, read before this call, so a change committed in between is
  // loaded now and again at the next refresh, never missed.
  absl::StatusOr<int> Load(absl::StatusOr<int64_t> version, bool catch_up);
  void Reap();
  // The minute refresh: every schedule and the per-store freshness gauges reloaded when the
  // stores version moved since the last load (or an hour passed); otherwise only the runs
  // completed since the last look move the gauges.
  void Refresh();
  void Prune();
  void ExportFreshness();
  // data_stale notifications: every enabled store with a webhook whose last success (the
  // freshness gauges' table) is older than twice its threshold.
  void NotifyStaleStores();
  void ExportQueue();
  bool SleepUnlessStopping(absl::Duration d);

  const SchedulerConfig& config_;
  const Clock& clock_;
  HousekeepingStore& store_;
  RunQueueStore& queue_;
  SchedulerMetrics& metrics_;
  RunEvents& events_;
  HousekeeperHooks& hooks_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // The pass thread's state (LoadAll before it starts).
  absl::Time next_refresh_ = absl::InfiniteFuture();
  // What the last load loaded.
  std::optional<int64_t> loaded_version_;
  absl::Time loaded_at_ = absl::InfinitePast();
  absl::Time successes_since_ = absl::InfinitePast();
  // Enabled stores with a webhook, loaded with the freshness table.
  std::vector<NotifyStore> notify_stores_;
};

// Returns freed heap memory to the system (after a load of every store).
void ReleaseFreedMemory();

}  // namespace autosync::scheduler
