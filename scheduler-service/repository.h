// The scheduler's view of PostgreSQL: the store registry, run rows (claims, progress, outcome,
// heartbeats, reaping), status, gateway connection reports, LTV cohorts, and NOTIFY. All SQL
// lives in pg_repository.cc; every method blocks (call it from a TaskPool thread, never from a
// gRPC reaction). Thread-safe (each call takes a pooled connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.pb.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/schedule_loop.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::scheduler {

// Channels of LISTEN/NOTIFY.
inline constexpr char kEventsChannel[] = "autosync_events";  // payload: base64 WatchEvent
inline constexpr char kStoresChannel[] = "autosync_stores";  // payload: a store id

enum class TickOutcome {
  kQueued,          // the tick is ours and its run is queued (a 'queued' row of sync_runs)
  kSkippedFresh,    // ours; counted as skipped: the last success is within the staleness
  kSkippedOverlap,  // ours; counted as skipped: a run was queued or in flight
  kLost,            // another replica claimed (or already recorded) this tick
  kNotScheduled,    // the store was deleted or disabled meanwhile
};

struct TickClaim {
  TickOutcome outcome = TickOutcome::kLost;
  std::string detail;  // the skip reason kept on the store (tick_claims.last_skip_reason)
};

// One cron tick to claim (ClaimTicks) or record (RecordTicks).
struct TickRequest {
  std::string store_id;
  std::string run_id;  // the claim's run id: the run row's id once recorded
  absl::Time scheduled_for;
};

// A run reaped because its owner stopped heartbeating.
struct ReapedRun {
  std::string run_id;
  std::string store_id;
  std::string error;
  autosync::v1::Trigger trigger = autosync::v1::TRIGGER_CRON;
  int attempt = 1;
};

// The database part of a SyncStatus (next_fire_time and has_cron_job are derived by the caller).
struct StatusRow {
  autosync::v1::SyncStatus status;
  int64_t jitter_seconds = 0;
};

class Repository final {
 public:
  explicit Repository(common::PgPool& pool) : pool_(pool) {}

  // Registry. `store` must be normalized (NormalizeStore). Returns the stored row and whether it
  // was created.
  absl::StatusOr<std::pair<autosync::v1::Store, bool>> UpsertStore(
      const autosync::v1::Store& store);
  absl::StatusOr<autosync::v1::Store> GetStore(absl::string_view store_id);  // NOT_FOUND
  // Stores with store_id > after, ordered by id.
  absl::StatusOr<std::vector<autosync::v1::Store>> ListStores(absl::string_view after, int limit);
  // Removes the store and its rows in every table in one transaction. NOT_FOUND when absent.
  absl::Status DeleteStore(absl::string_view store_id);

  // Every store as the schedule loop needs it (with its latest claimed cron tick).
  absl::StatusOr<std::vector<StoreSchedule>> LoadSchedules();
  // Enabled stores with their staleness threshold and last successful run (0 when never), for
  // the per-store freshness gauges behind the staleness alert.
  absl::StatusOr<std::vector<StoreFreshness>> LoadFreshness();
  // One store; nullopt when it does not exist.
  absl::StatusOr<std::optional<StoreSchedule>> LoadSchedule(absl::string_view store_id);

  // Runs. They are queued and dispatched by the run queue (run_queue.h).
  // Cron ticks, in two steps. ClaimTicks is the claim: exactly one replica wins each (store,
  // boundary), in one upsert of a narrow row per tick (tick_claims), committed at once; returns
  // per request whether this replica won it (a store's claim only moves to later boundaries, so
  // an earlier or equal boundary is never won twice). claimed_at is the clock when each row was
  // written. Then RecordTicks decides each won tick and writes its run row.
  absl::StatusOr<std::vector<bool>> ClaimTicks(const std::vector<TickRequest>& ticks,
                                               absl::string_view owner);
  // Opens `n` pooled connections with the claim statement prepared and run once (no ticks), so
  // a boundary's parallel claims do not connect or load catalog caches first: on a cold
  // connection the first 500-tick claim took about twice as long as the next.
  absl::Status WarmClaimConnections(int n);
  // Decides a claimed tick (fresh, overlap, or run) and records it: a skip is counted on the
  // claim row, a run is queued in sync_runs under the claim's run id; kLost when the tick is already recorded (a recovery pass raced a slow
  // original), kNotScheduled when the store was deleted or disabled since the claim. The
  // RecordTicks statement for one tick, attempted again when a concurrent commit rolled it back.
  absl::StatusOr<TickClaim> RecordTick(absl::string_view store_id, absl::string_view run_id,
                                       absl::Time scheduled_for, absl::string_view owner);
  // RecordTick for many ticks in one transaction of one statement (same outcomes, details and
  // row contents). Returns one TickClaim per request, in order. queued_at of each row is the
  // clock when that row was written (clock_timestamp()), not the transaction start.
  // ALREADY_EXISTS: a run of one of the stores was queued concurrently (a manual trigger) and
  // the whole batch was rolled back; ABORTED: a store was deleted meanwhile, or a deadlock or
  // serialization failure, also rolled back. Either way nothing was recorded: record the ticks
  // again one by one. Rows are inserted in store_id order so concurrent batches cannot deadlock.
  absl::StatusOr<std::vector<TickClaim>> RecordTicks(const std::vector<TickRequest>& ticks,
                                                     absl::string_view owner);
  // Claims made between `within` and `older_than` ago that were never recorded (the
  // claiming replica stopped or lost the database between claim and record), store order, at
  // most `limit`. Any replica records them (RecordTicks) under the claim's run id.
  absl::StatusOr<std::vector<TickRequest>> UnrecordedClaims(absl::Duration older_than,
                                                            absl::Duration within, int limit);
  absl::Status UpdateRun(absl::string_view run_id, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts& counts);
  // Terminal: status "completed" or "failed". Only a row still 'running' changes.
  absl::Status FinishRun(absl::string_view run_id, absl::string_view status,
                         autosync::v1::Stage stage, const autosync::v1::StageCounts& counts,
                         absl::string_view error);
  absl::Status Heartbeat(const std::vector<std::string>& run_ids);
  // Marks failed every running run whose heartbeat is older than `stale`.
  absl::StatusOr<std::vector<ReapedRun>> ReapStale(absl::Duration stale);
  absl::StatusOr<autosync::v1::Run> GetRun(absl::string_view run_id);
  // Newest first; strictly older than (before_started, before_run_id) when given.
  absl::StatusOr<std::vector<autosync::v1::Run>> ListRuns(
      absl::string_view store_id, std::optional<std::pair<absl::Time, std::string>> before,
      int limit);

  // Status. NOT_FOUND when the store does not exist.
  absl::StatusOr<StatusRow> LoadStatus(absl::string_view store_id,
                                       absl::Duration connections_ttl);

  // Replaces a gateway's table of connections; drops every report older than `ttl`.
  absl::Status ReportConnections(absl::string_view gateway_id,
                                 const std::vector<std::pair<std::string, int>>& stores,
                                 absl::Duration ttl);

  absl::StatusOr<autosync::v1::GetLtvCohortsResponse> LtvCohorts(absl::string_view store_id);

  // pg_notify(channel, payload), sent at once (no surrounding transaction).
  absl::Status Notify(absl::string_view channel, absl::string_view payload);

 private:
  common::PgPool& pool_;
};

}  // namespace autosync::scheduler
