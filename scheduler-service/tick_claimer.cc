#include "scheduler-service/tick_claimer.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "scheduler-service/store_validation.h"
#include "scheduler-service/tick_group.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::SyncProgress;

constexpr int kRecordThreads = 4;
// One task per pass of the schedule loop (a whole boundary, up to 250k fires).
constexpr size_t kClaimQueue = 10'000;
// Ticks recorded by one statement: a boundary of 10k stores is a handful of statements, spread
// over the claim threads, and a rare rollback (a manual run queued concurrently) re-records few
// rows one by one.
constexpr size_t kRecordChunk = 500;
// Lost ticks checked per statement (one unnest join each).
constexpr size_t kVerifyChunk = 5000;

}  // namespace

// The fires of one pass, sorted by store, with their run ids and (group, boundary) keys.
struct TickClaimer::Prepared {
  std::vector<Fire> fires;
  std::vector<TickRequest> ticks;  // the same fires, with their run ids
  std::vector<size_t> key_of;      // index into keys, per fire
  std::vector<GroupTick> keys;
};

// The records of one boundary in flight: the last chunk to finish announces the skips.
struct TickClaimer::Batch {
  absl::Mutex mu;
  size_t pending ABSL_GUARDED_BY(mu) = 0;
  std::vector<SyncProgress> skips ABSL_GUARDED_BY(mu);
};

TickClaimer::TickClaimer(const SchedulerConfig& config, const Clock& clock, TickStore& repo,
                         SchedulerMetrics& metrics, TickEvents& events)
    : config_(config),
      clock_(clock),
      repo_(repo),
      metrics_(metrics),
      events_(events),
      claim_pool_(1, kClaimQueue),
      record_pool_(kRecordThreads, 0) {}

TickClaimer::~TickClaimer() { Stop(); }

void TickClaimer::Warm() {
  if (absl::Status s = repo_.WarmClaimConnections(1); !s.ok()) {
    common::LogWarn("cannot prepare the claim connections", {{"error", s.message()}});
  }
}

void TickClaimer::Stop() {
  claim_pool_.Stop();
  record_pool_.Stop();
}

void TickClaimer::OnFire(const Fire& fire) { OnFires({fire}); }

void TickClaimer::OnFires(std::vector<Fire> fires) {
  if (fires.empty()) return;
  // Prepared before the fires are due (the loop hands them over up to its lead early).
  auto prepared = std::make_shared<Prepared>();
  std::sort(fires.begin(), fires.end(),
            [](const Fire& a, const Fire& b) { return a.store_id < b.store_id; });
  absl::flat_hash_map<std::pair<int, int64_t>, size_t> keys;
  absl::Time due = absl::InfinitePast();
  prepared->ticks.reserve(fires.size());
  prepared->key_of.reserve(fires.size());
  for (const Fire& fire : fires) {
    due = std::max(due, fire.due);
    prepared->ticks.push_back(
        {fire.store_id, common::NewRunId(), fire.scheduled_for, absl::InfinitePast(), fire.types});
    const auto key =
        std::make_pair(TickGroupOf(fire.store_id), absl::ToUnixMicros(fire.scheduled_for));
    auto [it, added] = keys.emplace(key, prepared->keys.size());
    if (added) prepared->keys.push_back({key.first, fire.scheduled_for});
    prepared->key_of.push_back(it->second);
  }
  prepared->fires = std::move(fires);
  clock_.SleepUntil(due);
  if (!claim_pool_.Submit([this, prepared] { Claim(prepared); })) {
    metrics_.fires_error.Increment(static_cast<double>(prepared->fires.size()));
    common::LogWarn("schedule fires dropped: the claim queue is full or stopping",
                    {{"count", absl::StrCat(prepared->fires.size())}});
  }
}

void TickClaimer::Claim(const std::shared_ptr<Prepared>& prepared) {
  absl::StatusOr<std::vector<GroupClaim>> claimed =
      repo_.ClaimGroups(prepared->keys, config_.replica_id);
  const absl::Time now = clock_.Now();
  if (!claimed.ok()) {
    // Nothing was claimed (one statement). Another replica may win these groups; whoever does
    // not record a tick, this replica's check after the grace does.
    metrics_.fires_error.Increment(static_cast<double>(prepared->fires.size()));
    common::LogWarn(
        "cannot claim scheduled ticks; checking them again later",
        {{"count", absl::StrCat(prepared->fires.size())}, {"error", claimed.status().message()}});
    AddLost(std::move(prepared->ticks), now + kLostTickGrace);
    return;
  }
  std::vector<TickRequest> won;
  std::vector<TickRequest> lost;
  won.reserve(prepared->ticks.size());
  for (size_t i = 0; i < prepared->ticks.size(); ++i) {
    const GroupClaim& group = (*claimed)[prepared->key_of[i]];
    TickRequest& tick = prepared->ticks[i];
    if (!group.won) {
      lost.push_back(std::move(tick));
      continue;
    }
    metrics_.fire_lateness.Observe(
        std::max(0.0, absl::ToDoubleSeconds(now - prepared->fires[i].due)));
    tick.claimed_at = group.claimed_at;
    won.push_back(std::move(tick));
  }
  if (!lost.empty()) {
    metrics_.fires_lost.Increment(static_cast<double>(lost.size()));
    AddLost(std::move(lost), now + kLostTickGrace);
  }
  if (won.empty()) return;
  // Recorded in chunks of contiguous store ranges over the claim threads.
  const size_t chunks = (won.size() + kRecordChunk - 1) / kRecordChunk;
  auto batch = std::make_shared<Batch>();
  {
    absl::MutexLock lock(&batch->mu);
    batch->pending = chunks;
  }
  for (size_t begin = 0; begin < won.size(); begin += kRecordChunk) {
    const size_t end = std::min(won.size(), begin + kRecordChunk);
    std::vector<TickRequest> part(
        std::make_move_iterator(won.begin() + static_cast<ptrdiff_t>(begin)),
        std::make_move_iterator(won.begin() + static_cast<ptrdiff_t>(end)));
    auto task = [this, part = std::move(part), batch]() mutable {
      RecordChunk(std::move(part), batch);
    };
    // Stopping: recorded here (the pool no longer takes work), as claimed ticks must be.
    if (!record_pool_.Submit(task)) task();
  }
}

void TickClaimer::RecordChunk(std::vector<TickRequest> ticks, const std::shared_ptr<Batch>& batch) {
  std::vector<SyncProgress> skips;
  Record(ticks, &skips, /*recovered=*/false);
  {
    absl::MutexLock lock(&batch->mu);
    for (SyncProgress& p : skips) batch->skips.push_back(std::move(p));
    if (--batch->pending > 0) return;
    skips = std::move(batch->skips);
  }
  if (!skips.empty()) events_.OnSkips(std::move(skips));
}

void TickClaimer::Record(const std::vector<TickRequest>& ticks, std::vector<SyncProgress>* skips,
                         bool recovered) {
  if (ticks.empty()) return;
  absl::StatusOr<std::vector<TickClaim>> records = repo_.RecordTicks(ticks, config_.replica_id);
  if (!records.ok() && (records.status().code() == absl::StatusCode::kAlreadyExists ||
                        records.status().code() == absl::StatusCode::kAborted)) {
    // Rolled back as a whole: a run of one of these stores was queued after the statement's
    // snapshot, a store was deleted, or a deadlock. Rare; row by row decides each.
    common::LogInfo(
        "batch record rolled back; recording one by one",
        {{"count", absl::StrCat(ticks.size())}, {"reason", records.status().message()}});
    std::vector<TickRequest> failed;
    bool queued = false;
    for (const TickRequest& tick : ticks) {
      absl::StatusOr<TickClaim> one = repo_.RecordTick(tick, config_.replica_id);
      if (one.ok()) {
        AfterRecord(tick, *one, skips, recovered);
        queued = queued || one->outcome == TickOutcome::kQueued;
      } else {
        failed.push_back(tick);
      }
    }
    // Woken as after a batch: otherwise these runs wait for the dispatcher's next poll.
    if (queued) events_.OnQueued();
    if (!failed.empty()) {
      metrics_.fires_error.Increment(static_cast<double>(failed.size()));
      AddLost(std::move(failed), clock_.Now() + kLostTickGrace);
    }
    return;
  }
  if (!records.ok()) {
    // Claimed but not recorded: checked again after the grace, like a lost group.
    metrics_.fires_error.Increment(static_cast<double>(ticks.size()));
    common::LogWarn("cannot record claimed ticks; checking them again later",
                    {{"count", absl::StrCat(ticks.size())}, {"error", records.status().message()}});
    AddLost(ticks, clock_.Now() + kLostTickGrace);
    return;
  }
  bool queued = false;
  for (size_t i = 0; i < ticks.size(); ++i) {
    AfterRecord(ticks[i], (*records)[i], skips, recovered);
    queued = queued || (*records)[i].outcome == TickOutcome::kQueued;
  }
  if (queued) events_.OnQueued();
}

void TickClaimer::AfterRecord(const TickRequest& tick, const TickClaim& claim,
                              std::vector<SyncProgress>* skips, bool recovered) {
  switch (claim.outcome) {
    case TickOutcome::kLost:
      // Recorded by someone else first (the winner was late, or another checker).
      if (!recovered) metrics_.fires_lost.Increment();
      return;
    case TickOutcome::kNotScheduled:
      events_.OnNotScheduled(tick.store_id);
      return;
    case TickOutcome::kQueued:
      // Queued in PostgreSQL: the dispatcher takes it when a worker slot is free. Watchers see
      // its place from the executor's refresh (one query for every watched store, not one
      // event per queued run of a boundary).
      metrics_.fires_started.Increment();
      if (recovered) metrics_.fires_recovered.Increment();
      return;
    case TickOutcome::kSkippedFresh:
    case TickOutcome::kSkippedOverlap:
      break;
  }
  if (recovered) metrics_.fires_recovered.Increment();
  metrics_.fires_skipped.Increment();
  (claim.outcome == TickOutcome::kSkippedFresh ? metrics_.skips_fresh : metrics_.skips_overlap)
      .Increment();
  SyncProgress progress;
  progress.set_store_id(tick.store_id);
  progress.set_run_id(tick.run_id);
  progress.set_stage(autosync::v1::STAGE_SKIPPED);
  progress.set_message(claim.detail);
  progress.set_progress(100);
  progress.set_trigger(autosync::v1::TRIGGER_CRON);
  ToProto(clock_.Now(), progress.mutable_time());
  skips->push_back(std::move(progress));
}

void TickClaimer::AddLost(std::vector<TickRequest> ticks, absl::Time check_after) {
  if (ticks.empty()) return;
  absl::MutexLock lock(&mu_);
  lost_.push_back({check_after, std::move(ticks)});
}

void TickClaimer::VerifyLost() {
  std::vector<TickRequest> due;
  size_t given_up = 0;
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    auto keep = std::partition(lost_.begin(), lost_.end(),
                               [now](const Lost& l) { return l.check_after > now; });
    for (auto it = keep; it != lost_.end(); ++it) {
      for (TickRequest& t : it->ticks) {
        // A tick that could not be checked for this long is left to the next boundary (the
        // database was away all that time).
        if (t.scheduled_for < now - kLostTickGiveUp) {
          ++given_up;
        } else {
          due.push_back(std::move(t));
        }
      }
    }
    lost_.erase(keep, lost_.end());
  }
  if (given_up > 0) {
    metrics_.fires_error.Increment(static_cast<double>(given_up));
    common::LogWarn("scheduled ticks not checked for 15 min are left to their next boundary",
                    {{"count", absl::StrCat(given_up)}});
  }
  if (due.empty()) return;
  std::vector<SyncProgress> skips;
  size_t recorded = 0;
  for (size_t begin = 0; begin < due.size(); begin += kVerifyChunk) {
    const size_t end = std::min(due.size(), begin + kVerifyChunk);
    std::vector<TickRequest> part(due.begin() + static_cast<ptrdiff_t>(begin),
                                  due.begin() + static_cast<ptrdiff_t>(end));
    absl::StatusOr<std::vector<TickRequest>> missing = repo_.UnrecordedTicks(part);
    if (!missing.ok()) {
      common::LogWarn(
          "cannot check lost ticks; checking them again later",
          {{"count", absl::StrCat(part.size())}, {"error", missing.status().message()}});
      AddLost(std::move(part), clock_.Now() + kLostTickGrace);
      continue;
    }
    if (missing->empty()) continue;
    recorded += missing->size();
    for (size_t b = 0; b < missing->size(); b += kRecordChunk) {
      const size_t e = std::min(missing->size(), b + kRecordChunk);
      Record(std::vector<TickRequest>(missing->begin() + static_cast<ptrdiff_t>(b),
                                      missing->begin() + static_cast<ptrdiff_t>(e)),
             &skips, /*recovered=*/true);
    }
  }
  if (recorded > 0) {
    common::LogWarn("recorded scheduled ticks that the replica which claimed them did not",
                    {{"count", absl::StrCat(recorded)}});
  }
  if (!skips.empty()) events_.OnSkips(std::move(skips));
}

}  // namespace autosync::scheduler
