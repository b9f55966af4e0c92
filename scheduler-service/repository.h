// The scheduler's view of PostgreSQL, cut by consumer so each part can be tested with a fake the
// way the worker's SyncStore is: TickStore (the cron tick claim, tick_claimer.h), RunRecorder (a
// run's progress and outcome, run_executor.h), HousekeepingStore (heartbeats, reaping, pruning,
// schedule and freshness loads, housekeeper.h), RegistryStore (the store registry and the reads
// behind the Scheduler API, store_registry.h), EventChannel (NOTIFY, event_relay.h).
// PgRepository implements them all (and NotificationStore) over a PgPool: the SQL lives in
// pg_stores.cc, pg_runs.cc, pg_queries.cc, pg_ticks.cc, pg_audit.cc and pg_notifications.cc.
// Every method blocks (call it from a common::ThreadPool thread, never from a gRPC reaction).
// Implementations are thread-safe (PgRepository takes a pooled connection per call).
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

// Where a page of quarantined records continues: after (last_seen, kind, record_key).
struct QuarantineCursor {
  absl::Time last_seen;
  std::string kind;
  std::string record_key;
};

// The cron tick claim (pg_ticks.cc): what TickClaimer calls.
class TickStore {
 public:
  virtual ~TickStore() = default;
  // Cron ticks, in two steps. ClaimGroups is the claim: exactly one replica wins each (tick
  // group, boundary), one narrow row each (tick_group_claims), committed at once; returns per key
  // whether this replica won it and when. Then RecordTicks records the won groups' ticks.
  virtual absl::StatusOr<std::vector<GroupClaim>> ClaimGroups(const std::vector<GroupTick>& keys,
                                                              absl::string_view owner) = 0;
  // Opens `n` pooled connections with the claim statement prepared and run once (no keys), so
  // the boundary's claim does not connect or load catalog caches first: on a cold connection
  // the first claim took about twice as long as the next.
  virtual absl::Status WarmClaimConnections(int n) = 0;
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
  virtual absl::StatusOr<std::vector<TickClaim>> RecordTicks(const std::vector<TickRequest>& ticks,
                                                             absl::string_view owner) = 0;
  // RecordTicks for one tick, attempted again (3 times) when a concurrent commit rolled it back.
  virtual absl::StatusOr<TickClaim> RecordTick(const TickRequest& tick,
                                               absl::string_view owner) = 0;
  // The ticks of `ticks` not recorded yet (their store's tick_claims row is at an earlier
  // boundary, or absent), in store order: what a replica that lost their groups records itself.
  virtual absl::StatusOr<std::vector<TickRequest>> UnrecordedTicks(
      const std::vector<TickRequest>& ticks) = 0;
};

// A run's progress and outcome (pg_runs.cc): what RunExecutor calls. A run is named by its store
// and id: every statement on sync_runs names the store, so it stays a one-store ("router")
// statement if the table is ever distributed by store_id (docs/SCALING.md).
class RunRecorder {
 public:
  virtual ~RunRecorder() = default;
  virtual absl::Status UpdateRun(const RunKey& run, autosync::v1::Stage stage,
                                 const autosync::v1::StageCounts& counts) = 0;
  // Terminal: status "completed" or "failed". Only a row still 'running' changes.
  virtual absl::Status FinishRun(const RunKey& run, absl::string_view status,
                                 autosync::v1::Stage stage, const autosync::v1::StageCounts& counts,
                                 absl::string_view error) = 0;
};

// What the housekeeper calls: heartbeats, reaping, pruning, and the schedule and freshness
// loads of the minute refresh.
class HousekeepingStore {
 public:
  virtual ~HousekeepingStore() = default;
  virtual absl::Status Heartbeat(const std::vector<RunKey>& runs) = 0;
  // Marks failed every running run whose heartbeat is older than `stale`, and in the same
  // statement queues its follow-up (attempt + 1, same trigger and priority, owner `owner`)
  // unless it was attempt `max_attempts` or the store has another run queued or running.
  virtual absl::StatusOr<std::vector<ReapedRun>> ReapStale(absl::Duration stale, int max_attempts,
                                                           absl::string_view owner) = 0;
  // Deletes group claims made before `older_than` ago; returns how many.
  virtual absl::StatusOr<int64_t> PruneGroupClaims(absl::Duration older_than) = 0;
  // Every store as the schedule loop needs it (with its latest claimed cron tick).
  virtual absl::StatusOr<std::vector<StoreSchedule>> LoadSchedules() = 0;
  // The version of the stores table (migration 0007): it moves in the transaction of every
  // change to a store, so a load that follows a read of an unchanged version may be skipped.
  virtual absl::StatusOr<int64_t> StoresVersion() = 0;
  // Enabled stores with their staleness threshold and last successful run (0 when never), for
  // the per-store freshness gauges behind the staleness alert.
  virtual absl::StatusOr<std::vector<StoreFreshness>> LoadFreshness() = 0;
  // Stores with a completed run that finished after `since`, with their latest finish time
  // (unix seconds).
  virtual absl::StatusOr<std::vector<std::pair<std::string, double>>> LoadSuccessesSince(
      absl::Time since) = 0;
  // Enabled stores with a webhook (pg_notifications.cc).
  virtual absl::StatusOr<std::vector<NotifyStore>> LoadNotifyStores() = 0;
};

// The store registry and the reads behind the Scheduler API: what StoreRegistry calls.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  // `store` must be normalized (NormalizeStore). Returns the stored row and whether it was
  // created. A store written disabled has its queued scheduled runs dropped.
  virtual absl::StatusOr<std::pair<autosync::v1::Store, bool>> UpsertStore(
      const autosync::v1::Store& store, const UpsertOptions& options) = 0;
  // Pause (with a note) or resume, as one change of the stored row. NOT_FOUND when absent.
  virtual absl::StatusOr<autosync::v1::Store> SetEnabled(absl::string_view store_id, bool enabled,
                                                         absl::string_view note,
                                                         const AuditEntry* audit) = 0;
  virtual absl::StatusOr<autosync::v1::Store> GetStore(absl::string_view store_id) = 0;
  // Stores with store_id > after, ordered by id.
  virtual absl::StatusOr<std::vector<autosync::v1::Store>> ListStores(absl::string_view after,
                                                                      int limit) = 0;
  // Removes the store and its rows in every table in one transaction. NOT_FOUND when absent.
  virtual absl::Status DeleteStore(absl::string_view store_id, const AuditEntry* audit) = 0;
  // The audit trail, newest first (pg_audit.cc).
  virtual absl::StatusOr<std::vector<autosync::v1::AuditEntry>> ListAudit(
      const AuditQuery& query) = 0;
  // One store; nullopt when it does not exist.
  virtual absl::StatusOr<std::optional<StoreSchedule>> LoadSchedule(absl::string_view store_id) = 0;
  // Newest first; strictly older than (before_started, before_run_id) when given.
  virtual absl::StatusOr<std::vector<autosync::v1::Run>> ListRuns(
      absl::string_view store_id, std::optional<std::pair<absl::Time, std::string>> before,
      int limit) = 0;
  // Status. NOT_FOUND when the store does not exist.
  virtual absl::StatusOr<StatusRow> LoadStatus(absl::string_view store_id,
                                               absl::Duration connections_ttl) = 0;
  // Replaces a gateway's table of connections; drops every report older than `ttl`. Returns
  // the stores whose rows changed (a count moved, appeared, or went away).
  virtual absl::StatusOr<std::vector<std::string>> ReportConnections(
      absl::string_view gateway_id, const std::vector<std::pair<std::string, int>>& stores,
      absl::Duration ttl) = 0;
  virtual absl::StatusOr<autosync::v1::GetLtvCohortsResponse> LtvCohorts(
      absl::string_view store_id) = 0;
  // Up to `limit` records of the store, most recently seen first, of `kind` ("" = both), with
  // the totals (records, by_rule) filled in. NOT_FOUND for an unknown store.
  virtual absl::StatusOr<autosync::v1::ListQuarantineResponse> ListQuarantine(
      absl::string_view store_id, absl::string_view kind,
      const std::optional<QuarantineCursor>& after, int limit) = 0;
  // Upserts every rate of `table` into fx_rates by (day, currency), in one transaction.
  // Returns how many rates were stored.
  virtual absl::StatusOr<int64_t> ImportFxRates(const FxRatesTable& table,
                                                const AuditEntry* audit) = 0;
};

// NOTIFY: what the event relay and the registry send to every replica's listener.
class EventChannel {
 public:
  virtual ~EventChannel() = default;
  // pg_notify(channel, payload), sent at once (no surrounding transaction).
  virtual absl::Status Notify(absl::string_view channel, absl::string_view payload) = 0;
};

// Every interface above over PostgreSQL. `pool` must outlive it.
class PgRepository final : public TickStore,
                           public RunRecorder,
                           public HousekeepingStore,
                           public RegistryStore,
                           public EventChannel,
                           public NotificationStore {
 public:
  explicit PgRepository(common::PgPool& pool) : pool_(pool) {}

  // RegistryStore (pg_stores.cc, pg_queries.cc, pg_audit.cc).
  absl::StatusOr<std::pair<autosync::v1::Store, bool>> UpsertStore(
      const autosync::v1::Store& store, const UpsertOptions& options) override;
  absl::StatusOr<autosync::v1::Store> SetEnabled(absl::string_view store_id, bool enabled,
                                                 absl::string_view note,
                                                 const AuditEntry* audit) override;
  absl::StatusOr<autosync::v1::Store> GetStore(absl::string_view store_id) override;
  absl::StatusOr<std::vector<autosync::v1::Store>> ListStores(absl::string_view after,
                                                              int limit) override;
  absl::Status DeleteStore(absl::string_view store_id, const AuditEntry* audit) override;
  absl::StatusOr<std::vector<autosync::v1::AuditEntry>> ListAudit(const AuditQuery& query) override;
  absl::StatusOr<std::optional<StoreSchedule>> LoadSchedule(absl::string_view store_id) override;
  absl::StatusOr<std::vector<autosync::v1::Run>> ListRuns(
      absl::string_view store_id, std::optional<std::pair<absl::Time, std::string>> before,
      int limit) override;
  absl::StatusOr<StatusRow> LoadStatus(absl::string_view store_id,
                                       absl::Duration connections_ttl) override;
  absl::StatusOr<std::vector<std::string>> ReportConnections(
      absl::string_view gateway_id, const std::vector<std::pair<std::string, int>>& stores,
      absl::Duration ttl) override;
  absl::StatusOr<autosync::v1::GetLtvCohortsResponse> LtvCohorts(
      absl::string_view store_id) override;
  absl::StatusOr<autosync::v1::ListQuarantineResponse> ListQuarantine(
      absl::string_view store_id, absl::string_view kind,
      const std::optional<QuarantineCursor>& after, int limit) override;
  absl::StatusOr<int64_t> ImportFxRates(const FxRatesTable& table,
                                        const AuditEntry* audit) override;

  // HousekeepingStore (pg_stores.cc, pg_runs.cc, pg_ticks.cc, pg_notifications.cc).
  absl::Status Heartbeat(const std::vector<RunKey>& runs) override;
  absl::StatusOr<std::vector<ReapedRun>> ReapStale(absl::Duration stale, int max_attempts,
                                                   absl::string_view owner) override;
  absl::StatusOr<int64_t> PruneGroupClaims(absl::Duration older_than) override;
  absl::StatusOr<std::vector<StoreSchedule>> LoadSchedules() override;
  absl::StatusOr<int64_t> StoresVersion() override;
  absl::StatusOr<std::vector<StoreFreshness>> LoadFreshness() override;
  absl::StatusOr<std::vector<std::pair<std::string, double>>> LoadSuccessesSince(
      absl::Time since) override;
  absl::StatusOr<std::vector<NotifyStore>> LoadNotifyStores() override;

  // TickStore (pg_ticks.cc).
  absl::StatusOr<std::vector<GroupClaim>> ClaimGroups(const std::vector<GroupTick>& keys,
                                                      absl::string_view owner) override;
  absl::Status WarmClaimConnections(int n) override;
  absl::StatusOr<std::vector<TickClaim>> RecordTicks(const std::vector<TickRequest>& ticks,
                                                     absl::string_view owner) override;
  absl::StatusOr<TickClaim> RecordTick(const TickRequest& tick, absl::string_view owner) override;
  absl::StatusOr<std::vector<TickRequest>> UnrecordedTicks(
      const std::vector<TickRequest>& ticks) override;

  // RunRecorder (pg_runs.cc).
  absl::Status UpdateRun(const RunKey& run, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts& counts) override;
  absl::Status FinishRun(const RunKey& run, absl::string_view status, autosync::v1::Stage stage,
                         const autosync::v1::StageCounts& counts, absl::string_view error) override;

  // EventChannel (pg_queries.cc).
  absl::Status Notify(absl::string_view channel, absl::string_view payload) override;

  // NotificationStore (pg_notifications.cc): the store's webhook, key reference and last
  // success; the once-an-hour claim of store_notifications (migration 0012); the delivery's
  // outcome.
  absl::StatusOr<std::optional<NotifyTarget>> LoadNotifyTarget(absl::string_view store_id) override;
  absl::StatusOr<NotifyClaim> ClaimNotification(absl::string_view store_id,
                                                absl::string_view condition) override;
  absl::Status RecordNotificationOutcome(absl::string_view store_id, absl::string_view condition,
                                         absl::string_view outcome) override;

 private:
  common::PgPool& pool_;
};

}  // namespace autosync::scheduler
