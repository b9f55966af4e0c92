// The scheduler's view of PostgreSQL: the store registry, run rows (claims, progress, outcome,
// heartbeats, reaping), status, gateway connection reports, LTV cohorts, and NOTIFY. All SQL
// lives in pg_repository.cc; every method blocks (call it from a common::ThreadPool thread, never
// from a gRPC reaction). Thread-safe (each call takes a pooled connection).
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
#include "scheduler-service/audit.h"
#include "scheduler-service/data_schedule.h"
#include "scheduler-service/fx_rates_csv.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/notifier.h"
#include "scheduler-service/run_queue.h"
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

// One cron tick to record (RecordTicks).
struct TickRequest {
  std::string store_id;
  std::string run_id;  // the run row's id if a run is queued
  absl::Time scheduled_for;
  // When its group's claim was won (kept as tick_claims.claimed_at); InfinitePast: the record's
  // own time (a tick recorded by a replica that lost its group).
  absl::Time claimed_at = absl::InfinitePast();
  // The data types whose schedule fires at this boundary; the run syncs those that are stale.
  DataTypes types = kAllDataTypes;
};

// One (tick group, boundary) to claim (ClaimGroups); tick_group.h.
struct GroupTick {
  int group = 0;
  absl::Time boundary;
};

struct GroupClaim {
  bool won = false;
  absl::Time claimed_at;  // when this replica's claim row was written
};

// A run reaped because its owner stopped heartbeating.
struct ReapedRun {
  std::string run_id;
  std::string store_id;
  std::string error;
  autosync::v1::Trigger trigger = autosync::v1::TRIGGER_CRON;
  int attempt = 1;
  std::string follow_up_run_id;  // the run queued in its place; empty: none
};

// The database part of a SyncStatus (next_fire_time and has_cron_job are derived by the caller).
struct StatusRow {
  autosync::v1::SyncStatus status;
  int64_t jitter_seconds = 0;
};

struct UpsertOptions {
  int64_t expected_version = 0;  // non-zero: update only this version (ABORTED otherwise)
  bool create_only = false;      // insert only (ALREADY_EXISTS otherwise)
  // Recorded in the write's transaction (action store.create or store.replace, from what the
  // write did); null: not audited.
  const AuditEntry* audit = nullptr;
};

// Where a page of the audit trail continues: entries with id < before (0 = from the newest).
struct AuditQuery {
  std::string store_id;  // "" = any
  std::string action;    // "" = any
  int64_t before = 0;
  int limit = 100;
};

// An enabled store with a notification webhook (the data_stale check).
struct NotifyStore {
  std::string store_id;
  absl::Time created_at;
};

class Repository final : public NotificationStore {
 public:
  explicit Repository(common::PgPool& pool) : pool_(pool) {}

  // Registry. `store` must be normalized (NormalizeStore). Returns the stored row and whether it
  // was created. A store written disabled has its queued scheduled runs dropped.
  absl::StatusOr<std::pair<autosync::v1::Store, bool>> UpsertStore(
      const autosync::v1::Store& store, const UpsertOptions& options = {});
  // Pause (with a note) or resume, as one change of the stored row. NOT_FOUND when absent.
  absl::StatusOr<autosync::v1::Store> SetEnabled(absl::string_view store_id, bool enabled,
                                                 absl::string_view note,
                                                 const AuditEntry* audit = nullptr);
  absl::StatusOr<autosync::v1::Store> GetStore(absl::string_view store_id);  // NOT_FOUND
  // Stores with store_id > after, ordered by id.
  absl::StatusOr<std::vector<autosync::v1::Store>> ListStores(absl::string_view after, int limit);
  // Removes the store and its rows in every table in one transaction. NOT_FOUND when absent.
  absl::Status DeleteStore(absl::string_view store_id, const AuditEntry* audit = nullptr);
  // The audit trail, newest first (pg_audit.cc).
  absl::StatusOr<std::vector<autosync::v1::AuditEntry>> ListAudit(const AuditQuery& query);

  // Every store as the schedule loop needs it (with its latest claimed cron tick).
  absl::StatusOr<std::vector<StoreSchedule>> LoadSchedules();
  // Enabled stores with their staleness threshold and last successful run (0 when never), for
  // the per-store freshness gauges behind the staleness alert.
  absl::StatusOr<std::vector<StoreFreshness>> LoadFreshness();
  // The version of the stores table (migration 0007): it moves in the transaction of every
  // change to a store, so a load that follows a read of an unchanged version may be skipped.
  absl::StatusOr<int64_t> StoresVersion();
  // Stores with a completed run that finished after `since`, with their latest finish time
  // (unix seconds).
  absl::StatusOr<std::vector<std::pair<std::string, double>>> LoadSuccessesSince(absl::Time since);
  // One store; nullopt when it does not exist.
  absl::StatusOr<std::optional<StoreSchedule>> LoadSchedule(absl::string_view store_id);

  // Runs. They are queued and dispatched by the run queue (run_queue.h).
  // Cron ticks, in two steps (pg_ticks.cc). ClaimGroups is the claim: exactly one replica
  // wins each (tick group, boundary), one narrow row each (tick_group_claims), committed at
  // once; returns per key whether this replica won it and when. Then RecordTicks records the
  // won groups' ticks.
  absl::StatusOr<std::vector<GroupClaim>> ClaimGroups(const std::vector<GroupTick>& keys,
                                                      absl::string_view owner);
  // Opens `n` pooled connections with the claim statement prepared and run once (no keys), so
  // the boundary's claim does not connect or load catalog caches first: on a cold connection
  // the first claim took about twice as long as the next.
  absl::Status WarmClaimConnections(int n);
  // Records ticks: for each, the store's tick_claims row moves to its boundary unless a later or
  // equal one is recorded already (then kLost: a tick is recorded once, by whoever comes
  // first), and the tick is decided: kSkippedFresh / kSkippedOverlap (counted on that row, with
  // the reason in `detail`; no run row), kQueued (a 'queued' run under the request's run id),
  // kNotScheduled (the store is disabled or gone). One transaction of one statement; returns
  // one TickClaim per request, in order. queued_at / recorded_at are the clock when each row was
  // written. ALREADY_EXISTS: a run of one of the stores was queued concurrently (a manual
  // trigger) and the whole batch was rolled back; ABORTED: a store was deleted meanwhile, or a
  // deadlock or serialization failure, also rolled back. Either way nothing was recorded:
  // record the ticks again one by one (RecordTick). Rows are written in store order.
  absl::StatusOr<std::vector<TickClaim>> RecordTicks(const std::vector<TickRequest>& ticks,
                                                     absl::string_view owner);
  // RecordTicks for one tick, attempted again (3 times) when a concurrent commit rolled it back.
  absl::StatusOr<TickClaim> RecordTick(const TickRequest& tick, absl::string_view owner);
  // The ticks of `ticks` not recorded yet (their store's tick_claims row is at an earlier
  // boundary, or absent), in store order: what a replica that lost their groups records itself.
  absl::StatusOr<std::vector<TickRequest>> UnrecordedTicks(const std::vector<TickRequest>& ticks);
  // Deletes group claims made before `older_than` ago; returns how many.
  absl::StatusOr<int64_t> PruneGroupClaims(absl::Duration older_than);
  // A run is named by its store and id: every statement on sync_runs names the store, so it
  // stays a one-store ("router") statement if the table is ever distributed by store_id
  // (docs/SCALING.md).
  absl::Status UpdateRun(const RunKey& run, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts& counts);
  // Terminal: status "completed" or "failed". Only a row still 'running' changes.
  absl::Status FinishRun(const RunKey& run, absl::string_view status, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts& counts, absl::string_view error);
  absl::Status Heartbeat(const std::vector<RunKey>& runs);
  // Marks failed every running run whose heartbeat is older than `stale`, and in the same
  // statement queues its follow-up (attempt + 1, same trigger and priority, owner `owner`)
  // unless it was attempt `max_attempts` or the store has another run queued or running.
  absl::StatusOr<std::vector<ReapedRun>> ReapStale(absl::Duration stale, int max_attempts,
                                                   absl::string_view owner);
  // Newest first; strictly older than (before_started, before_run_id) when given.
  absl::StatusOr<std::vector<autosync::v1::Run>> ListRuns(
      absl::string_view store_id, std::optional<std::pair<absl::Time, std::string>> before,
      int limit);

  // Status. NOT_FOUND when the store does not exist.
  absl::StatusOr<StatusRow> LoadStatus(absl::string_view store_id, absl::Duration connections_ttl);

  // Replaces a gateway's table of connections; drops every report older than `ttl`. Returns
  // the stores whose rows changed (a count moved, appeared, or went away).
  absl::StatusOr<std::vector<std::string>> ReportConnections(
      absl::string_view gateway_id, const std::vector<std::pair<std::string, int>>& stores,
      absl::Duration ttl);

  absl::StatusOr<autosync::v1::GetLtvCohortsResponse> LtvCohorts(absl::string_view store_id);
  // Where a page of quarantined records continues: after (last_seen, kind, record_key).
  struct QuarantineCursor {
    absl::Time last_seen;
    std::string kind;
    std::string record_key;
  };
  // Up to `limit` records of the store, most recently seen first, of `kind` ("" = both), with
  // the totals (records, by_rule) filled in. NOT_FOUND for an unknown store.
  absl::StatusOr<autosync::v1::ListQuarantineResponse> ListQuarantine(
      absl::string_view store_id, absl::string_view kind,
      const std::optional<QuarantineCursor>& after, int limit);

  // Notifications (pg_notifications.cc). Enabled stores with a webhook.
  absl::StatusOr<std::vector<NotifyStore>> LoadNotifyStores();
  // NotificationStore: the store's webhook, key reference and last success; the once-an-hour
  // claim of store_notifications (migration 0012); the delivery's outcome.
  absl::StatusOr<std::optional<NotifyTarget>> LoadNotifyTarget(absl::string_view store_id) override;
  absl::StatusOr<NotifyClaim> ClaimNotification(absl::string_view store_id,
                                                absl::string_view condition) override;
  absl::Status RecordNotificationOutcome(absl::string_view store_id, absl::string_view condition,
                                         absl::string_view outcome) override;
  // Upserts every rate of `table` into fx_rates by (day, currency), in one transaction.
  // Returns how many rates were stored.
  absl::StatusOr<int64_t> ImportFxRates(const FxRatesTable& table,
                                        const AuditEntry* audit = nullptr);

  // pg_notify(channel, payload), sent at once (no surrounding transaction).
  absl::Status Notify(absl::string_view channel, absl::string_view payload);

 private:
  common::PgPool& pool_;
};

}  // namespace autosync::scheduler
