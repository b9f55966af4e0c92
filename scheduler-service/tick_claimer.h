// TickClaimer: the schedule loop's FireSink. The fires of one boundary are claimed per (tick
// group, boundary) in one statement at the boundary itself (TickStore::ClaimGroups), then the
// won groups' ticks are recorded in chunks on the claim threads (TickStore::RecordTicks: a skip
// counted, or a run queued). Ticks of groups another replica won are checked after a grace
// (VerifyLost, at each housekeeping pass): any that nobody recorded -- the winner stopped, or did
// not know the store yet -- are recorded here, so every fire a replica pops happens once.
//
// Thread-safe. Stop() before destruction; callbacks must outlive it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "autosync/v1/sync_worker.pb.h"
#include "common/thread_pool.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/schedule_loop.h"

namespace autosync::scheduler {

// What becomes of recorded ticks, for the core to act on.
class TickEvents {
 public:
  virtual ~TickEvents() = default;
  // Skipped fires to announce (a SKIPPED event and a status each).
  virtual void OnSkips(std::vector<autosync::v1::SyncProgress> skips) = 0;
  // Runs were queued: dispatch.
  virtual void OnQueued() = 0;
  // The store was disabled or deleted since it was scheduled here.
  virtual void OnNotScheduled(const std::string& store_id) = 0;
};

class TickClaimer final : public FireSink {
 public:
  // A lost tick is checked at the first VerifyLost this long after its boundary was claimed:
  // the winner records a 100k-store boundary within seconds.
  static constexpr absl::Duration kLostTickGrace = absl::Seconds(5);
  // A lost tick still unchecked this long after its boundary is given up (counted as an error).
  static constexpr absl::Duration kLostTickGiveUp = absl::Minutes(15);

  TickClaimer(const SchedulerConfig& config, const Clock& clock, TickStore& repo,
              SchedulerMetrics& metrics, TickEvents& events);
  ~TickClaimer() override;

  // Prepares the claim connections (before the first boundary).
  void Warm();
  void Stop();

  void OnFire(const Fire& fire) override;
  // The fires of one instant: sorted, grouped, given their run ids ahead of the boundary (the
  // loop hands them over up to its lead early), claimed at the boundary in one statement.
  void OnFires(std::vector<Fire> fires) override;
  // Records the lost ticks (past their grace) that nobody recorded. Blocking; housekeeping.
  void VerifyLost();

 private:
  struct Prepared;
  struct Batch;
  void Claim(const std::shared_ptr<Prepared>& prepared);
  void RecordChunk(std::vector<TickRequest> ticks, const std::shared_ptr<Batch>& batch);
  // Records ticks in one statement, row by row when it was rolled back. Skips are collected in
  // `skips`; failures go back to the lost list (checked again later).
  void Record(const std::vector<TickRequest>& ticks, std::vector<autosync::v1::SyncProgress>* skips,
              bool recovered);
  void AfterRecord(const TickRequest& tick, const TickClaim& claim,
                   std::vector<autosync::v1::SyncProgress>* skips, bool recovered);
  void AddLost(std::vector<TickRequest> ticks, absl::Time check_after);

  const SchedulerConfig& config_;
  const Clock& clock_;
  TickStore& repo_;
  SchedulerMetrics& metrics_;
  TickEvents& events_;
  // Claims run one at a time on their own thread, never queued behind records.
  common::ThreadPool claim_pool_;
  common::ThreadPool record_pool_;

  struct Lost {
    absl::Time check_after;
    std::vector<TickRequest> ticks;
  };
  absl::Mutex mu_;
  std::vector<Lost> lost_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::scheduler
