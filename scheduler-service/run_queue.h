// The run queue: runs wait as `queued` rows of sync_runs until a worker slot takes them
// (migration 0005). This header holds the queue's vocabulary, the storage interface the
// dispatcher and the run executor use (PgRunQueue in pg_run_queue.cc, tested against PostgreSQL
// in tests/integration/scheduler/run_queue_test.cc), and the pure rules: priorities, retry
// backoff, the wait estimate.
//
// Order of dispatch: priority (a person or an API call before a scheduled fire, a backfill
// last), then the store whose data is oldest (its last success when the run was queued), then
// queue time. Capacity: runs are taken only while the live workers' slots (worker_slots rows
// seen within kWorkerTtl) exceed the runs already running, fleet-wide, under one advisory lock,
// so two replicas never hand out the same slot and a refusal is rare.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "autosync/v1/sync_worker.pb.h"
#include "scheduler-service/audit.h"
#include "scheduler-service/data_schedule.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::scheduler {

// A worker's worker_slots row counts while it was refreshed within this (workers refresh it
// every 2 s).
inline constexpr absl::Duration kWorkerTtl = absl::Seconds(10);

enum class RunPriority : int16_t { kPerson = 0, kCron = 1, kLow = 2 };
inline constexpr int kPriorities = 3;
// "manual" (people and API calls), "cron", "low": the metric label of a priority.
absl::string_view PriorityLabel(RunPriority priority);
// kPerson for MANUAL and API, kCron for CRON.
RunPriority PriorityOf(autosync::v1::Trigger trigger);

struct EnqueueRequest {
  std::string store_id;
  std::string run_id;
  autosync::v1::Trigger trigger = autosync::v1::TRIGGER_API;
  RunPriority priority = RunPriority::kPerson;
  bool force = false;
  DataTypes types = kAllDataTypes;
  // A backfill's days (YYYY-MM-DD, validated); both empty for any other run. A backfill is never
  // merged into the store's queued run.
  std::string backfill_from = {};
  std::string backfill_to = {};
  int attempt = 1;
  absl::Time not_before = absl::InfinitePast();  // a retry's backoff
  std::string owner;                             // the replica that queued it
  // Recorded in the enqueue's transaction when it queues a run (a person's trigger); null: not
  // audited. Must outlive the call.
  const AuditEntry* audit = nullptr;
};

struct EnqueueResult {
  // The queued run, or the store's run already queued or running (queued = false).
  std::string run_id;
  bool queued = false;
  // The store's queued run was of a lower priority and now has the request's.
  bool promoted = false;
  // Where the queued or promoted run stands in the dispatch order (1 = next); 0 otherwise.
  int position = 0;
};

// A run row's key: sync_runs' primary key is (store_id, run_id), and every statement on a run
// names both, so it stays a one-store statement if the table is distributed by store_id
// (docs/SCALING.md).
struct RunKey {
  std::string store_id;
  std::string run_id;
};

// A run a dispatch took: now 'running', owned by the dispatching replica.
struct DispatchedRun {
  std::string run_id;
  std::string store_id;
  autosync::v1::Trigger trigger = autosync::v1::TRIGGER_CRON;
  bool force = false;
  DataTypes types = kAllDataTypes;
  std::string backfill_from = {};
  std::string backfill_to = {};
  int attempt = 1;
  int refusals = 0;
  absl::Time queued_at;
};

struct Dispatch {
  std::vector<DispatchedRun> runs;
  int slots = 0;    // slots of the live workers
  int running = 0;  // runs running fleet-wide before this dispatch
};

struct QueueStats {
  int64_t depth[kPriorities] = {0, 0, 0};
  absl::Duration oldest = absl::ZeroDuration();  // age of the oldest queued run
  int64_t overdue = 0;  // queued longer than their store's staleness threshold
  int slots = 0;
  int running = 0;
};

// A queued run of a watched store and its place in the dispatch order (1 = next).
struct QueuePlace {
  std::string store_id;
  std::string run_id;
  autosync::v1::Trigger trigger = autosync::v1::TRIGGER_CRON;
  int position = 0;
};

// The queue's storage. Every method blocks (call it from a pool thread). Thread-safe.
class RunQueueStore {
 public:
  virtual ~RunQueueStore() = default;
  // Queues a run unless the store has one queued or running (then answers that one, promoting a
  // queued one to the request's priority when that is higher). NOT_FOUND: no such store.
  virtual absl::StatusOr<EnqueueResult> Enqueue(const EnqueueRequest& request) = 0;
  // Takes up to `limit` dispatchable runs in dispatch order, as many as the live workers have
  // free slots, and marks them running for `owner` (started_at = now).
  virtual absl::StatusOr<Dispatch> Take(absl::string_view owner, int limit) = 0;
  // A worker refused the run before starting it: back to 'queued' (same place in the order),
  // not dispatched before `not_before`.
  virtual absl::Status GiveBack(const RunKey& run, absl::Time not_before) = 0;
  // The queued runs of `store_ids` and their positions.
  virtual absl::StatusOr<std::vector<QueuePlace>> Places(
      const std::vector<std::string>& store_ids) = 0;
  virtual absl::StatusOr<QueueStats> Stats() = 0;
  // Deletes finished runs queued before `older_than` ago, at most `batch` rows per statement and
  // `max_batches` statements; a store's newest run is always kept. Returns the rows deleted.
  virtual absl::StatusOr<int64_t> PruneHistory(absl::Duration older_than, int batch,
                                               int max_batches) = 0;
};

class PgRunQueue final : public RunQueueStore {
 public:
  explicit PgRunQueue(common::PgPool& pool) : pool_(pool) {}
  absl::StatusOr<EnqueueResult> Enqueue(const EnqueueRequest& request) override;
  absl::StatusOr<Dispatch> Take(absl::string_view owner, int limit) override;
  absl::Status GiveBack(const RunKey& run, absl::Time not_before) override;
  absl::StatusOr<std::vector<QueuePlace>> Places(
      const std::vector<std::string>& store_ids) override;
  absl::StatusOr<QueueStats> Stats() override;
  absl::StatusOr<int64_t> PruneHistory(absl::Duration older_than, int batch,
                                       int max_batches) override;

 private:
  common::PgPool& pool_;
};

// How long a run at `position` (1 = next) waits for a slot: 0 while a slot is free for it;
// otherwise the runs ahead of it, in rounds of `slots` runs, each round taking about
// `mean_run` (the recent mean time a run holds a slot). Zero slots or no mean yet: unknown (-1).
int64_t EstimateWaitSeconds(int position, int slots, int free_slots, absl::Duration mean_run);

// Backoff before a refused run is dispatched again: 250 ms doubling to 10 s (refusals >= 1).
absl::Duration RefusalBackoff(int refusals);
// Backoff before the retry of a run that failed with a passing cause: 30 s doubling to 15 min
// (attempt = the failed run's attempt).
absl::Duration RetryBackoff(int attempt);

}  // namespace autosync::scheduler
