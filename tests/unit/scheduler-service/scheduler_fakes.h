// In-memory fakes of the scheduler's seams, for unit tests of its decisions without a database:
// a clock moved by hand, a repository (TickStore, RunRecorder, HousekeepingStore) and a run queue
// that record every call and answer what the test scripted, and the events the parts send
// (TickEvents, RunEvents). Thread-safe: the parts call them from their own threads; a test waits
// for a call with Await (a condition with a bounded deadline, never a sleep).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_executor.h"
#include "scheduler-service/run_queue.h"
#include "scheduler-service/tick_claimer.h"

namespace autosync::scheduler::testing {

// How long a test waits for another thread before it fails.
inline constexpr absl::Duration kAwait = absl::Seconds(20);

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time t) : now_(t) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepUntil(absl::Time) const override {}  // the test moves the time
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// A base for fakes whose state a test waits on: Await(pred) holds mu_ while pred is evaluated.
class Awaitable {
 public:
  // True once `pred` holds (evaluated under the fake's lock), false after kAwait.
  template <typename Pred>
  bool Await(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pred(); };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), kAwait);
  }
  // Runs `fn` under the fake's lock (to read or script its state).
  template <typename Fn>
  auto With(Fn fn) {
    absl::MutexLock lock(&mu_);
    return fn();
  }

 protected:
  absl::Mutex mu_;
};

struct FinishedRun {
  RunKey run;
  std::string status;
  autosync::v1::Stage stage = autosync::v1::STAGE_UNSPECIFIED;
  std::string error;
};

// The parts' view of PostgreSQL, in memory. Ticks: every group is won and every tick queued
// unless scripted otherwise; a tick is recorded once (again: kLost). Fields are read and scripted
// under With(); the parts only call the interface.
class FakeRepository final : public Awaitable,
                             public TickStore,
                             public RunRecorder,
                             public HousekeepingStore {
 public:
  // ---- Script (set under With()) ----
  // ClaimGroups: a failure, or per group whether this replica won it.
  absl::Status claim_error;
  std::function<bool(const GroupTick&)> wins = [](const GroupTick&) { return true; };
  // RecordTicks / RecordTick: the outcome per store (default kQueued), and failures of the
  // batch statement (consumed one per call; OK when empty) and of single records.
  std::map<std::string, TickClaim> outcome;
  std::deque<absl::Status> batch_errors;
  absl::Status single_error;
  absl::Status unrecorded_error;
  // RunRecorder / HousekeepingStore.
  absl::Status finish_error;
  absl::Status heartbeat_error;
  absl::StatusOr<std::vector<ReapedRun>> reaped = std::vector<ReapedRun>{};
  absl::Status prune_error;
  absl::StatusOr<std::vector<StoreFreshness>> freshness = std::vector<StoreFreshness>{};

  // ---- What was called ----
  int claim_calls = 0;
  int batch_calls = 0;
  int single_calls = 0;
  std::vector<std::vector<TickRequest>> unrecorded_asked;
  std::vector<TickRequest> recorded;  // every tick recorded (not kLost), in order
  std::vector<std::pair<RunKey, autosync::v1::Stage>> updates;
  std::vector<FinishedRun> finished;
  std::vector<std::vector<RunKey>> heartbeats;
  int reap_calls = 0;
  int prune_calls = 0;

  // TickStore.
  absl::StatusOr<std::vector<GroupClaim>> ClaimGroups(const std::vector<GroupTick>& keys,
                                                      absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++claim_calls;
    if (!claim_error.ok()) return claim_error;
    std::vector<GroupClaim> out;
    for (const GroupTick& key : keys) out.push_back({wins(key), key.boundary});
    return out;
  }
  absl::Status WarmClaimConnections(int) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<TickClaim>> RecordTicks(const std::vector<TickRequest>& ticks,
                                                     absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++batch_calls;
    if (!batch_errors.empty()) {
      absl::Status s = batch_errors.front();
      batch_errors.pop_front();
      if (!s.ok()) return s;
    }
    std::vector<TickClaim> out;
    for (const TickRequest& tick : ticks) out.push_back(RecordLocked(tick));
    return out;
  }
  absl::StatusOr<TickClaim> RecordTick(const TickRequest& tick, absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++single_calls;
    if (!single_error.ok()) return single_error;
    return RecordLocked(tick);
  }
  absl::StatusOr<std::vector<TickRequest>> UnrecordedTicks(
      const std::vector<TickRequest>& ticks) override {
    absl::MutexLock lock(&mu_);
    unrecorded_asked.push_back(ticks);
    if (!unrecorded_error.ok()) return unrecorded_error;
    std::vector<TickRequest> out;
    for (const TickRequest& t : ticks) {
      if (!done_.contains({t.store_id, t.scheduled_for})) out.push_back(t);
    }
    return out;
  }
  // Marks a tick recorded by "another replica".
  void RecordedElsewhere(const std::string& store_id, absl::Time boundary) {
    absl::MutexLock lock(&mu_);
    done_.insert({store_id, boundary});
  }

  // RunRecorder.
  absl::Status UpdateRun(const RunKey& run, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts&) override {
    absl::MutexLock lock(&mu_);
    updates.emplace_back(run, stage);
    return absl::OkStatus();
  }
  absl::Status FinishRun(const RunKey& run, absl::string_view status, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts&, absl::string_view error) override {
    absl::MutexLock lock(&mu_);
    finished.push_back({run, std::string(status), stage, std::string(error)});
    return finish_error;
  }

  // HousekeepingStore.
  absl::Status Heartbeat(const std::vector<RunKey>& runs) override {
    absl::MutexLock lock(&mu_);
    heartbeats.push_back(runs);
    return heartbeat_error;
  }
  absl::StatusOr<std::vector<ReapedRun>> ReapStale(absl::Duration, int,
                                                   absl::string_view) override {
    absl::MutexLock lock(&mu_);
    ++reap_calls;
    absl::StatusOr<std::vector<ReapedRun>> out = reaped;
    reaped = std::vector<ReapedRun>{};  // a run is reaped once
    return out;
  }
  absl::StatusOr<int64_t> PruneGroupClaims(absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++prune_calls;
    if (!prune_error.ok()) return prune_error;
    return 0;
  }
  absl::StatusOr<std::vector<StoreSchedule>> LoadSchedules() override {
    return std::vector<StoreSchedule>{};
  }
  absl::StatusOr<int64_t> StoresVersion() override { return 1; }
  absl::StatusOr<std::vector<StoreFreshness>> LoadFreshness() override {
    absl::MutexLock lock(&mu_);
    return freshness;
  }
  absl::StatusOr<std::vector<std::pair<std::string, double>>> LoadSuccessesSince(
      absl::Time) override {
    return std::vector<std::pair<std::string, double>>{};
  }
  absl::StatusOr<std::vector<NotifyStore>> LoadNotifyStores() override {
    return std::vector<NotifyStore>{};
  }

 private:
  TickClaim RecordLocked(const TickRequest& tick) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!done_.insert({tick.store_id, tick.scheduled_for}).second) {
      return {TickOutcome::kLost, ""};
    }
    recorded.push_back(tick);
    auto it = outcome.find(tick.store_id);
    return it == outcome.end() ? TickClaim{TickOutcome::kQueued, ""} : it->second;
  }

  std::set<std::pair<std::string, absl::Time>> done_ ABSL_GUARDED_BY(mu_);
};

// The run queue in memory: Take hands out the runs the test put in `ready`.
class FakeRunQueue final : public Awaitable, public RunQueueStore {
 public:
  std::deque<DispatchedRun> ready;
  int slots = 8;
  absl::Status give_back_error;
  absl::StatusOr<QueueStats> stats = QueueStats{};
  absl::Status prune_error;

  std::vector<EnqueueRequest> enqueued;
  std::vector<std::pair<RunKey, absl::Time>> given_back;
  int prune_calls = 0;

  absl::StatusOr<EnqueueResult> Enqueue(const EnqueueRequest& request) override {
    absl::MutexLock lock(&mu_);
    enqueued.push_back(request);
    return EnqueueResult{.run_id = request.run_id, .queued = true, .position = 1};
  }
  absl::StatusOr<Dispatch> Take(absl::string_view, int limit) override {
    absl::MutexLock lock(&mu_);
    Dispatch out;
    out.slots = slots;
    while (!ready.empty() && static_cast<int>(out.runs.size()) < limit) {
      out.runs.push_back(std::move(ready.front()));
      ready.pop_front();
    }
    return out;
  }
  absl::Status GiveBack(const RunKey& run, absl::Time not_before) override {
    absl::MutexLock lock(&mu_);
    given_back.emplace_back(run, not_before);
    return give_back_error;
  }
  absl::StatusOr<std::vector<QueuePlace>> Places(const std::vector<std::string>&) override {
    return std::vector<QueuePlace>{};
  }
  absl::StatusOr<QueueStats> Stats() override {
    absl::MutexLock lock(&mu_);
    return stats;
  }
  absl::StatusOr<int64_t> PruneHistory(absl::Duration, int, int) override {
    absl::MutexLock lock(&mu_);
    ++prune_calls;
    if (!prune_error.ok()) return prune_error;
    return 3;
  }
};

struct FailedRun {
  std::string store_id;
  std::string run_id;
  std::string error;
};

// Every event the claimer, the executor and the housekeeper send.
class RecordingEvents final : public Awaitable, public TickEvents, public RunEvents {
 public:
  std::vector<std::vector<autosync::v1::SyncProgress>> skips;
  int queued = 0;
  std::vector<std::string> not_scheduled;
  std::vector<autosync::v1::SyncProgress> progress;
  std::vector<std::string> statuses;
  std::vector<FailedRun> failed;

  void OnSkips(std::vector<autosync::v1::SyncProgress> s) override {
    absl::MutexLock lock(&mu_);
    skips.push_back(std::move(s));
  }
  void OnQueued() override {
    absl::MutexLock lock(&mu_);
    ++queued;
  }
  void OnNotScheduled(const std::string& store_id) override {
    absl::MutexLock lock(&mu_);
    not_scheduled.push_back(store_id);
  }
  void PublishProgress(const autosync::v1::SyncProgress& p) override {
    absl::MutexLock lock(&mu_);
    progress.push_back(p);
  }
  void PublishStatus(const std::string& store_id) override {
    absl::MutexLock lock(&mu_);
    statuses.push_back(store_id);
  }
  void DeliverLocal(const autosync::v1::SyncProgress&) override {}
  std::vector<std::string> WatchedStores() override { return {}; }
  void OnRunFailed(const std::string& store_id, const std::string& run_id,
                   const std::string& error) override {
    absl::MutexLock lock(&mu_);
    failed.push_back({store_id, run_id, error});
  }
};

}  // namespace autosync::scheduler::testing
