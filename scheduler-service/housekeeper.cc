#include "scheduler-service/housekeeper.h"

#include <malloc.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "scheduler-service/run_end.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::SyncProgress;

// Group claims are kept two days (catch-up reaches back one day at most).
constexpr absl::Duration kGroupClaimsKept = absl::Hours(48);
// The minute refresh reloads every schedule only when the stores changed (their version moved),
// and at least this often regardless: a bound on any drift, ~4 s of CPU an hour at 1M stores.
constexpr absl::Duration kFullRefreshEvery = absl::Hours(1);
// A run's end is written with its transaction's start time and commits a moment later: the
// completed runs are read again from this far back, so none committed late is missed.
constexpr absl::Duration kSuccessesOverlap = absl::Minutes(2);
// Run history pruned per housekeeping pass: small batches, so the deletes never hold many row
// locks or bloat one transaction; a pass catches up with a day's history of a large fleet.
constexpr int kPruneBatch = 1000;
constexpr int kPruneBatches = 50;

}  // namespace

// A full load or refresh allocates and frees a row per store (the query result, the rows, the
// new freshness table): ~300 B a store for a moment. glibc keeps freed memory below the top of
// each arena, so without this the RSS after a load stays at its peak (measured at 1M stores:
// see BENCHMARKS.md). Returning it costs a few ms per minute.
void ReleaseFreedMemory() { malloc_trim(0); }

Housekeeper::Housekeeper(const SchedulerConfig& config, const Clock& clock,
                         HousekeepingStore& store, RunQueueStore& queue, SchedulerMetrics& metrics,
                         RunEvents& events, HousekeeperHooks& hooks)
    : config_(config),
      clock_(clock),
      store_(store),
      queue_(queue),
      metrics_(metrics),
      events_(events),
      hooks_(hooks) {}

Housekeeper::~Housekeeper() { Stop(); }

void Housekeeper::Start() {
  thread_ = std::thread([this] {
    FirstPass();
    while (SleepUnlessStopping(config_.heartbeat_interval())) Pass();
  });
}

void Housekeeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Housekeeper::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stop), d);
}

absl::StatusOr<int> Housekeeper::Load(absl::StatusOr<int64_t> version, bool catch_up) {
  absl::StatusOr<std::vector<StoreSchedule>> schedules = store_.LoadSchedules();
  if (!schedules.ok()) return schedules.status();
  const int unusable = hooks_.LoadSchedules(*schedules, catch_up);
  loaded_version_ = version.ok() ? std::optional<int64_t>(*version) : std::nullopt;
  loaded_at_ = clock_.Now();
  return unusable;
}

absl::StatusOr<int> Housekeeper::LoadAll(bool catch_up) {
  absl::StatusOr<int> unusable = Load(store_.StoresVersion(), catch_up);
  ReleaseFreedMemory();
  return unusable;
}

void Housekeeper::FirstPass() {
  next_refresh_ = clock_.Now() + config_.schedule_refresh;
  ExportFreshness();
  ReleaseFreedMemory();
  NotifyStaleStores();
}

void Housekeeper::Pass() {
  if (absl::Status s = store_.Heartbeat(hooks_.ActiveRuns()); !s.ok()) {
    common::LogWarn("cannot heartbeat runs", {{"error", s.message()}});
  }
  Reap();
  ExportQueue();
  hooks_.VerifyLostTicks();
  if (clock_.Now() >= next_refresh_) {
    next_refresh_ = clock_.Now() + config_.schedule_refresh;
    Prune();
    Refresh();
  }
}

void Housekeeper::Reap() {
  absl::StatusOr<std::vector<ReapedRun>> reaped =
      store_.ReapStale(config_.run_stale, kMaxAttempts, config_.replica_id);
  if (!reaped.ok()) {
    common::LogWarn("cannot reap stale runs", {{"error", reaped.status().message()}});
    return;
  }
  for (const ReapedRun& r : *reaped) {
    metrics_.runs_reaped.Increment();
    common::LogWarn("run reaped: its owner stopped heartbeating",
                    {{"store", r.store_id}, {"run", r.run_id}});
    SyncProgress p;
    p.set_store_id(r.store_id);
    p.set_run_id(r.run_id);
    p.set_stage(autosync::v1::STAGE_FAILED);
    p.set_message("Sync failed");
    p.set_error(r.error);
    ToProto(clock_.Now(), p.mutable_time());
    events_.PublishProgress(p);
    events_.PublishStatus(r.store_id);
    // The last attempt reaped, nothing after it: failed for good.
    if (r.follow_up_run_id.empty() && r.attempt >= kMaxAttempts) {
      events_.OnRunFailed(r.store_id, r.run_id, r.error);
    }
    if (!r.follow_up_run_id.empty()) {
      metrics_.runs_queued.Increment();
      common::LogInfo("new run queued after a reaped run",
                      {{"store", r.store_id},
                       {"run", r.follow_up_run_id},
                       {"attempt", absl::StrCat(r.attempt + 1)}});
      hooks_.OnFollowUpQueued();
    }
  }
}

void Housekeeper::Prune() {
  absl::StatusOr<int64_t> pruned =
      queue_.PruneHistory(config_.run_history, kPruneBatch, kPruneBatches);
  if (pruned.ok()) {
    metrics_.runs_pruned.Increment(static_cast<double>(*pruned));
  } else {
    common::LogWarn("cannot prune run history", {{"error", pruned.status().message()}});
  }
  if (absl::StatusOr<int64_t> old = store_.PruneGroupClaims(kGroupClaimsKept); !old.ok()) {
    common::LogWarn("cannot prune old group claims", {{"error", old.status().message()}});
  }
}

void Housekeeper::ExportFreshness() {
  const absl::Time since = clock_.Now() - kSuccessesOverlap;
  absl::StatusOr<std::vector<StoreFreshness>> stores = store_.LoadFreshness();
  if (!stores.ok()) {
    // Keep the last values; the next refresh tries again.
    common::LogWarn("cannot load store freshness", {{"error", stores.status().message()}});
    return;
  }
  // Deleted or paused stores are not in the new set, so they stop being exported (never alert).
  metrics_.store_freshness->Replace(*std::move(stores));
  successes_since_ = since;
  absl::StatusOr<std::vector<NotifyStore>> notify = store_.LoadNotifyStores();
  if (!notify.ok()) {
    common::LogWarn("cannot load the stores with a webhook",
                    {{"error", notify.status().message()}});
    return;
  }
  notify_stores_ = *std::move(notify);
}

void Housekeeper::NotifyStaleStores() {
  const absl::Time now = clock_.Now();
  for (const NotifyStore& store : notify_stores_) {
    std::optional<StoreFreshness> row = metrics_.store_freshness->Find(store.store_id);
    if (!row.has_value() ||
        !IsDataStale(row->last_success_unix, store.created_at, row->staleness_seconds, now)) {
      continue;
    }
    // The notifier claims it (once an hour per store, across replicas) or counts it suppressed.
    hooks_.Notify({.condition = NotifyCondition::kDataStale,
                   .store_id = store.store_id,
                   .run_id = "",
                   .error = "",
                   .staleness_seconds = row->staleness_seconds,
                   .time = now});
  }
}

void Housekeeper::Refresh() {
  absl::StatusOr<int64_t> version = store_.StoresVersion();
  const bool changed = !version.ok() || !loaded_version_.has_value() ||
                       *version != *loaded_version_ ||
                       clock_.Now() - loaded_at_ >= kFullRefreshEvery;
  if (changed) {
    if (absl::StatusOr<int> loaded = Load(version, /*catch_up=*/false); loaded.ok()) {
      metrics_.refreshes_reloaded.Increment();
    } else {
      common::LogWarn("cannot reload the schedules; keeping the loaded ones",
                      {{"error", loaded.status().message()}});
    }
    ExportFreshness();
    ReleaseFreedMemory();
    NotifyStaleStores();
    return;
  }
  // Nothing changed in the stores: only the runs completed since the last look (and an overlap,
  // for a run whose end committed late) move the gauges.
  const absl::Time since = clock_.Now() - kSuccessesOverlap;
  absl::StatusOr<std::vector<std::pair<std::string, double>>> latest =
      store_.LoadSuccessesSince(successes_since_);
  if (!latest.ok()) {
    // The next refresh reads from the same point.
    common::LogWarn("cannot load the runs completed since the last refresh",
                    {{"error", latest.status().message()}});
    return;
  }
  metrics_.refreshes_unchanged.Increment();
  metrics_.store_freshness->Advance(*latest);
  successes_since_ = since;
  NotifyStaleStores();
}

void Housekeeper::ExportQueue() {
  absl::StatusOr<QueueStats> stats = queue_.Stats();
  if (!stats.ok()) {
    // Keep the last values.
    common::LogDebug("cannot read the queue gauges", {{"error", stats.status().message()}});
    return;
  }
  metrics_.queue_depth_manual.Set(static_cast<double>(stats->depth[0]));
  metrics_.queue_depth_cron.Set(static_cast<double>(stats->depth[1]));
  metrics_.queue_depth_low.Set(static_cast<double>(stats->depth[2]));
  metrics_.queue_oldest_seconds.Set(absl::ToDoubleSeconds(stats->oldest));
  metrics_.queue_overdue_runs.Set(static_cast<double>(stats->overdue));
  metrics_.worker_slots_total.Set(stats->slots);
  metrics_.worker_slots_free.Set(std::max(0, stats->slots - stats->running));
}

}  // namespace autosync::scheduler
