#include "scheduler-service/run_executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/run_stage.h"
#include "common/status.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::Stage;
using autosync::v1::SyncProgress;

// The dispatcher looks at the queue at least this often (other replicas' finished runs free
// slots it is not told about; retries' backoff ends); a local enqueue or finish wakes it at once.
constexpr absl::Duration kDispatchPoll = absl::Milliseconds(500);
// Queue positions shown to this replica's watchers are refreshed this often.
constexpr absl::Duration kPlacesRefresh = absl::Seconds(2);

// The QUEUED event of a run waiting at `position` (the same for a new run and a refresh).
SyncProgress QueuedEvent(const QueuePlace& place, absl::string_view message, int64_t wait,
                         absl::Time now) {
  SyncProgress p;
  p.set_store_id(place.store_id);
  p.set_run_id(place.run_id);
  p.set_stage(autosync::v1::STAGE_QUEUED);
  p.set_trigger(place.trigger);
  p.set_message(std::string(message));
  p.set_queue_position(place.position);
  p.set_estimated_wait_seconds(wait);
  ToProto(now, p.mutable_time());
  return p;
}

}  // namespace

RunExecutor::RunExecutor(const SchedulerConfig& config, const Clock& clock, RunRecorder& repo,
                         RunQueueStore& queue, SchedulerMetrics& metrics, RunEvents& events,
                         std::shared_ptr<grpc::Channel> worker_channel)
    : config_(config),
      clock_(clock),
      repo_(repo),
      queue_(queue),
      metrics_(metrics),
      events_(events),
      worker_(autosync::v1::SyncWorker::NewStub(std::move(worker_channel))),
      run_pool_(config.max_concurrent_runs, 0),
      limit_(config.max_concurrent_runs, DispatchLimit::kMinLimit) {
  absl::MutexLock lock(&mu_);
  if (!config.adaptive_dispatch) limit_.Disable();
  metrics_.dispatch_limit.Set(limit_.limit());
}

RunExecutor::~RunExecutor() { Stop(); }

void RunExecutor::Start() {
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

void RunExecutor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, run] : active_) {
      if (run.context != nullptr) run.context->TryCancel();
    }
  }
  if (dispatcher_.joinable()) dispatcher_.join();
  run_pool_.Stop();
}

bool RunExecutor::stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool RunExecutor::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stop), d);
}

void RunExecutor::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

std::vector<RunKey> RunExecutor::ActiveRuns() {
  absl::MutexLock lock(&mu_);
  std::vector<RunKey> runs;
  runs.reserve(active_.size());
  for (const auto& [id, run] : active_) runs.push_back({run.store_id, id});
  return runs;
}

void RunExecutor::CancelStore(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  for (auto& [id, run] : active_) {
    if (run.store_id == store_id && run.context != nullptr) run.context->TryCancel();
  }
}

int64_t RunExecutor::EstimateWait(int position) {
  absl::MutexLock lock(&mu_);
  return EstimateWaitSeconds(position, std::min(slots_, limit_.limit()), free_slots_, mean_run_);
}

void RunExecutor::ObserveStart(absl::Duration latency) {
  bool grew = false;
  {
    absl::MutexLock lock(&mu_);
    const int before = limit_.limit();
    limit_.OnStart(latency, static_cast<int>(active_.size()), clock_.Now());
    grew = limit_.limit() > before;
    if (limit_.limit() != before) {
      common::LogDebug(
          "dispatch limit changed",
          {{"limit", absl::StrCat(limit_.limit())},
           {"recent_start_ms", absl::StrCat(absl::ToInt64Milliseconds(limit_.recent()))},
           {"baseline_ms", absl::StrCat(absl::ToInt64Milliseconds(limit_.baseline()))}});
    }
    metrics_.dispatch_limit.Set(limit_.limit());
  }
  metrics_.run_start_latency.Observe(absl::ToDoubleSeconds(latency));
  if (grew) Wake();
}

void RunExecutor::ObserveRunTime(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  // A moving mean over roughly the last 20 runs.
  mean_run_ = mean_run_ == absl::ZeroDuration() ? d : mean_run_ + (d - mean_run_) / 20;
}

absl::StatusOr<EnqueueResult> RunExecutor::Enqueue(EnqueueRequest request) {
  if (request.owner.empty()) request.owner = config_.replica_id;
  absl::StatusOr<EnqueueResult> result = queue_.Enqueue(request);
  if (!result.ok()) return result;
  if (result->queued || result->promoted) {
    metrics_.runs_queued.Increment();
    {
      // Shown now: the next places refresh sends this store's place only when it moves (a
      // refresh between this and the dispatch would otherwise announce it a second time).
      absl::MutexLock lock(&mu_);
      shown_places_[request.store_id] = result->position;
    }
    events_.PublishProgress(
        QueuedEvent({request.store_id, result->run_id, request.trigger, result->position},
                    request.not_before > clock_.Now() ? "Queued for a retry" : "Queued",
                    EstimateWait(result->position), clock_.Now()));
    Wake();
  }
  return result;
}

void RunExecutor::DispatchLoop() {
  absl::Time next_places = clock_.Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || wake_; };
      mu_.AwaitWithTimeout(absl::Condition(&ready), kDispatchPoll);
      if (stopping_) return;
      wake_ = false;
    }
    DispatchOnce();
    if (clock_.Now() >= next_places) {
      next_places = clock_.Now() + kPlacesRefresh;
      RefreshQueuePlaces();
    }
  }
}

void RunExecutor::DispatchOnce() {
  int local_free = 0;
  {
    absl::MutexLock lock(&mu_);
    local_free =
        std::min(config_.max_concurrent_runs, limit_.limit()) - static_cast<int>(active_.size());
  }
  if (local_free <= 0) return;
  absl::StatusOr<Dispatch> taken = queue_.Take(config_.replica_id, local_free);
  if (!taken.ok()) {
    common::LogDebug("cannot dispatch from the run queue", {{"error", taken.status().message()}});
    return;
  }
  const int running = taken->running + static_cast<int>(taken->runs.size());
  metrics_.worker_slots_total.Set(taken->slots);
  metrics_.worker_slots_free.Set(std::max(0, taken->slots - running));
  {
    absl::MutexLock lock(&mu_);
    slots_ = taken->slots;
    free_slots_ = std::max(0, taken->slots - running);
    for (const DispatchedRun& run : taken->runs) active_[run.run_id] = Active{run.store_id};
    metrics_.runs_in_flight.Set(static_cast<double>(active_.size()));
  }
  const absl::Time deadline = clock_.Now() + config_.run_timeout;
  for (DispatchedRun& run : taken->runs) {
    metrics_.runs_dispatched.Increment();
    common::LogInfo("run dispatched", {{"store", run.store_id},
                                       {"run", run.run_id},
                                       {"trigger", common::TriggerName(run.trigger)},
                                       {"attempt", absl::StrCat(run.attempt)}});
    auto task = [this, run, deadline] { ExecuteRun(run, deadline); };
    // Stopping: executed here, where the stop is seen at once and the run handed back.
    if (!run_pool_.Submit(task)) task();
  }
  // More may be dispatchable (the local limit was the bound): look again without waiting.
  if (static_cast<int>(taken->runs.size()) == local_free) Wake();
}

void RunExecutor::RefreshQueuePlaces() {
  const std::vector<std::string> watched = events_.WatchedStores();
  if (watched.empty()) {
    absl::MutexLock lock(&mu_);
    shown_places_.clear();
    return;
  }
  absl::StatusOr<std::vector<QueuePlace>> places = queue_.Places(watched);
  if (!places.ok()) {
    // The places shown stay as they are until the next refresh.
    common::LogDebug("cannot refresh queue places", {{"error", places.status().message()}});
    return;
  }
  std::vector<SyncProgress> changed;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, int> shown;
    for (const QueuePlace& place : *places) {
      shown[place.store_id] = place.position;
      auto it = shown_places_.find(place.store_id);
      if (it != shown_places_.end() && it->second == place.position) continue;
      changed.push_back(QueuedEvent(
          place, "Queued", EstimateWaitSeconds(place.position, slots_, free_slots_, mean_run_),
          clock_.Now()));
    }
    shown_places_ = std::move(shown);
  }
  for (const SyncProgress& p : changed) events_.DeliverLocal(p);
}

void RunExecutor::ExecuteRun(const DispatchedRun& run, absl::Time deadline) {
  const absl::Time began = clock_.Now();
  Stage stage = autosync::v1::STAGE_STARTING;
  autosync::v1::StageCounts counts;
  StreamEnd end;
  end.attempt = run.attempt;
  end.refusals = run.refusals;
  end.run_timeout = config_.run_timeout;
  SyncProgress terminal;
  if (!stopping() && clock_.Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    {
      absl::MutexLock lock(&mu_);
      auto it = active_.find(run.run_id);
      if (it != active_.end()) it->second.context = &context;
      if (stopping_) context.TryCancel();
    }
    autosync::v1::RunSyncRequest request;
    request.set_store_id(run.store_id);
    request.set_run_id(run.run_id);
    request.set_trigger(run.trigger);
    request.set_force(run.force);
    for (std::string& type : DataTypeNames(run.types)) request.add_data_types(std::move(type));
    request.set_backfill_from(run.backfill_from);
    request.set_backfill_to(run.backfill_to);
    std::unique_ptr<grpc::ClientReader<SyncProgress>> reader = worker_->RunSync(&context, request);
    SyncProgress p;
    absl::Time last_write = absl::InfinitePast();
    while (reader->Read(&p)) {
      if (!end.accepted) ObserveStart(clock_.Now() - began);
      end.accepted = true;
      // The scheduler is the authority on these, whatever the worker sent.
      p.set_store_id(run.store_id);
      p.set_run_id(run.run_id);
      p.set_trigger(run.trigger);
      if (!p.has_time()) ToProto(clock_.Now(), p.mutable_time());
      const bool stage_changed = p.stage() != stage;
      stage = p.stage();
      counts = p.counts();
      if (stage == autosync::v1::STAGE_COMPLETED || stage == autosync::v1::STAGE_FAILED) {
        end.terminal = true;
        end.completed = stage == autosync::v1::STAGE_COMPLETED;
        end.retryable = p.retryable();
        end.terminal_error = p.error();
        terminal = p;
        continue;
      }
      // Progress rows are throttled: the stage changes and at most one write a second.
      if (stage_changed || clock_.Now() - last_write >= absl::Seconds(1)) {
        if (absl::Status s = repo_.UpdateRun({run.store_id, run.run_id}, stage, counts); !s.ok()) {
          common::LogDebug("cannot record run progress",
                           {{"run", run.run_id}, {"error", s.message()}});
        }
        last_write = clock_.Now();
      }
      events_.PublishProgress(p);
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      auto it = active_.find(run.run_id);
      if (it != active_.end()) it->second.context = nullptr;
    }
    end.code = static_cast<absl::StatusCode>(status.error_code());
    end.message = status.error_message();
  } else {
    end.code = absl::StatusCode::kCancelled;
  }
  end.stopping = stopping();
  end.deadline_passed = clock_.Now() >= deadline;
  const RunEnd decided = DecideRunEnd(end);
  if (decided.next == RunNext::kGiveBack) {
    metrics_.worker_refusals.Increment();
    if (absl::Status s = queue_.GiveBack({run.store_id, run.run_id}, clock_.Now() + decided.delay);
        !s.ok()) {
      // Left running: the reaper fails it after --run_stale_seconds and its follow-up is queued.
      common::LogWarn("cannot give a refused run back to the queue",
                      {{"store", run.store_id}, {"run", run.run_id}, {"error", s.message()}});
    }
  } else {
    if (decided.synthesize_failure) {
      terminal = SyncProgress();
      terminal.set_store_id(run.store_id);
      terminal.set_run_id(run.run_id);
      terminal.set_stage(autosync::v1::STAGE_FAILED);
      terminal.set_message("Sync failed");
      terminal.set_error(decided.error);
      *terminal.mutable_counts() = counts;
      terminal.set_trigger(run.trigger);
      ToProto(clock_.Now(), terminal.mutable_time());
    }
    FinishAndAnnounce(run, deadline, decided.status, terminal);
    if (end.accepted) ObserveRunTime(clock_.Now() - began);
    const bool completed = decided.status == "completed";
    (completed ? metrics_.runs_completed : metrics_.runs_failed).Increment();
    common::LogInfo(completed ? "run completed" : "run failed",
                    {{"store", run.store_id}, {"run", run.run_id}, {"error", decided.error}});
    if (!completed && decided.next == RunNext::kNothing) {
      events_.OnRunFailed(run.store_id, run.run_id, decided.error);
    }
  }
  {
    absl::MutexLock lock(&mu_);
    active_.erase(run.run_id);
    metrics_.runs_in_flight.Set(static_cast<double>(active_.size()));
    wake_ = true;  // a slot is free
  }
  if (decided.next != RunNext::kGiveBack) events_.PublishStatus(run.store_id);
  if (decided.next == RunNext::kFollowUp || decided.next == RunNext::kRetryLater) {
    QueueNext(run, run.attempt + 1, decided.delay,
              decided.next == RunNext::kFollowUp ? "interrupted" : "failed");
  } else if (end.attempt >= kMaxAttempts && !end.completed && decided.next == RunNext::kNothing) {
    common::LogWarn("run failed again; not retried until the next tick or trigger",
                    {{"store", run.store_id}, {"attempts", absl::StrCat(end.attempt)}});
  }
}

void RunExecutor::FinishAndAnnounce(const DispatchedRun& run, absl::Time deadline,
                                    absl::string_view status, const SyncProgress& terminal) {
  // The row first, then the event: a watcher that reacts to it reads a finished run.
  // While the database is away the row cannot change. Left 'running', it would make every
  // trigger answer "already running" until the reaper noticed (--run_stale_seconds), so the
  // outcome is written as soon as the database is back; the watchers of this replica are told
  // at once meanwhile (they could not read the row anyway). The run stays active until then,
  // and this replica's heartbeat keeps other replicas from reaping it.
  absl::Duration backoff = absl::Milliseconds(200);
  bool announced = false;
  absl::Status s;
  while (true) {
    s = repo_.FinishRun({run.store_id, run.run_id}, status, terminal.stage(), terminal.counts(),
                        terminal.error());
    const bool unreachable = s.code() == absl::StatusCode::kUnavailable ||
                             s.code() == absl::StatusCode::kResourceExhausted;
    if (!unreachable) break;
    if (!announced) {
      events_.PublishProgress(terminal);
      announced = true;
    }
    if (clock_.Now() + backoff > deadline + config_.run_stale) break;
    if (!SleepUnlessStopping(backoff)) break;
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
  if (!s.ok()) {
    common::LogWarn("cannot record a run's outcome",
                    {{"store", run.store_id}, {"run", run.run_id}, {"error", s.message()}});
  }
  // Announced early, it is not sent twice: other replicas' watchers missed it with the relay
  // down, and they get the store's status from the PublishStatus that follows the run and from
  // their listener's refresh on reconnect.
  if (!announced) events_.PublishProgress(terminal);
}

void RunExecutor::QueueNext(const DispatchedRun& run, int attempt, absl::Duration delay,
                            absl::string_view why) {
  const std::string& store_id = run.store_id;
  const autosync::v1::Trigger trigger = run.trigger;
  // The same work again: its data types, full re-fetch and backfill range (a backfill stays
  // at the back of the queue).
  EnqueueRequest next{
      .store_id = store_id,
      .run_id = common::NewRunId(),
      .trigger = trigger,
      .priority = run.backfill_from.empty() ? PriorityOf(trigger) : RunPriority::kLow,
      .force = run.force,
      .types = run.types,
      .backfill_from = run.backfill_from,
      .backfill_to = run.backfill_to,
      .attempt = attempt,
      .not_before = delay > absl::ZeroDuration() ? clock_.Now() + delay : absl::InfinitePast(),
      .owner = config_.replica_id};
  absl::StatusOr<EnqueueResult> queued = Enqueue(next);
  if (!queued.ok() || !queued->queued) {
    // Another run is queued or in flight (it covers the store), or the database is away (the
    // next tick or trigger does it).
    common::LogWarn(
        "no new run after a failed run",
        {{"store", store_id},
         {"reason", queued.ok() ? "a run is queued or in flight" : queued.status().message()}});
    return;
  }
  common::LogInfo("new run queued after a failed run", {{"store", store_id},
                                                        {"run", queued->run_id},
                                                        {"why", why},
                                                        {"attempt", absl::StrCat(attempt)},
                                                        {"delay", absl::FormatDuration(delay)}});
}

}  // namespace autosync::scheduler
