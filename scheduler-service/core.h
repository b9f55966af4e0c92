// SchedulerCore: everything the Scheduler API does, minus gRPC plumbing. It owns the registry
// access, the schedule loop (it is the loop's FireSink: the fires of one instant claim their
// ticks in PostgreSQL a few hundred per statement, and queue a run per tick that is due), the
// run queue's executor (run_executor.h: dispatch to worker slots, streams, retries), heartbeat
// and reaping, status, and the event relay (progress and status published with NOTIFY, received
// by every replica's listener and fanned out to local watchers). Blocking methods must run on a
// common::ThreadPool thread (rpc_pool()).
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "autosync/v1/scheduler.pb.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/ids.h"
#include "common/thread_pool.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/metrics.h"
#include "scheduler-service/notifier.h"
#include "scheduler-service/pg_listener.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_executor.h"
#include "scheduler-service/run_queue.h"
#include "scheduler-service/schedule_loop.h"
#include "scheduler-service/store_validation.h"
#include "scheduler-service/tick_claimer.h"
#include "scheduler-service/watch_hub.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::scheduler {

// How long a gateway's ReportConnections table counts (gateways report at least every 15 s).
inline constexpr absl::Duration kConnectionsTtl = absl::Seconds(45);

class SchedulerCore final : public RunEvents, public TickEvents {
 public:
  // `pool`, `registry`, `clock` must outlive the core.
  SchedulerCore(const SchedulerConfig& config, common::PgPool& pool, SchedulerRegistry& registry,
                const Clock& clock, std::shared_ptr<grpc::Channel> worker_channel);
  ~SchedulerCore() override;

  // Loads the schedules (with catch-up), starts the loop, the listener and housekeeping.
  absl::Status Start();
  // Stops firing, cancels this replica's runs (recorded as failed) and joins every thread.
  void Stop();

  common::ThreadPool& rpc_pool() { return rpc_pool_; }
  WatchHub& hub() { return hub_; }
  SchedulerMetrics& metrics() { return metrics_; }
  const SchedulerConfig& config() const { return config_; }

  // Blocking operations (rpc_pool threads). A non-null `audit` is recorded in the change's
  // transaction (audit.h); a failed change records nothing.
  absl::StatusOr<autosync::v1::UpsertStoreResponse> UpsertStore(
      const autosync::v1::UpsertStoreRequest& request, const AuditEntry* audit = nullptr);
  // Pause (enabled=false, with a note) or resume one store, as one change.
  absl::StatusOr<autosync::v1::Store> SetEnabled(const std::string& store_id, bool enabled,
                                                 const std::string& note,
                                                 const AuditEntry* audit = nullptr);
  absl::StatusOr<autosync::v1::Store> GetStore(const std::string& store_id);
  absl::StatusOr<autosync::v1::ListStoresResponse> ListStores(
      const autosync::v1::ListStoresRequest& request);
  absl::Status DeleteStore(const std::string& store_id, const AuditEntry* audit = nullptr);
  // Audited only when it queues a run (started=true): a trigger answered by the store's queued
  // or running run starts nothing.
  absl::StatusOr<autosync::v1::TriggerSyncResponse> TriggerSync(
      const autosync::v1::TriggerSyncRequest& request, const AuditEntry* audit = nullptr);
  // The audit trail, newest first; page_token is the last id of the previous page.
  absl::StatusOr<autosync::v1::ListAuditResponse> ListAudit(
      const autosync::v1::ListAuditRequest& request);
  absl::StatusOr<autosync::v1::SyncStatus> Status(const std::string& store_id);
  absl::StatusOr<autosync::v1::ListRunsResponse> ListRuns(
      const autosync::v1::ListRunsRequest& request);
  absl::StatusOr<autosync::v1::GetLtvCohortsResponse> LtvCohorts(const std::string& store_id);
  absl::StatusOr<autosync::v1::ListQuarantineResponse> ListQuarantine(
      const autosync::v1::ListQuarantineRequest& request);
  absl::Status ReportConnections(const autosync::v1::ReportConnectionsRequest& request);
  // Parses the CSV (fx_rates_csv.h; a body over kMaxFxCsvBytes is refused unread) and stores
  // its rates, all or nothing.
  absl::StatusOr<autosync::v1::ImportFxRatesResponse> ImportFxRates(
      const autosync::v1::ImportFxRatesRequest& request, const AuditEntry* audit = nullptr);

  // TickEvents (the claimer's): skips announced, queued runs dispatched, unscheduled stores
  // removed from the loop.
  void OnSkips(std::vector<autosync::v1::SyncProgress> skips) override;
  void OnQueued() override;
  void OnNotScheduled(const std::string& store_id) override;

  // RunEvents (the executor's events), also used by the core itself.
  // Publishes an event to every replica's watchers (NOTIFY; local delivery if that fails).
  void PublishProgress(const autosync::v1::SyncProgress& progress) override;
  void PublishStatus(const std::string& store_id) override;
  void DeliverLocal(const autosync::v1::SyncProgress& progress) override;
  std::vector<std::string> WatchedStores() override;
  void OnRunFailed(const std::string& store_id, const std::string& run_id,
                   const std::string& error) override;

 private:
  // Each skip's event and the store's status, a few hundred stores per announce task.
  void AnnounceSkips(std::vector<autosync::v1::SyncProgress> skips);
  void Publish(const autosync::v1::WatchEvent& event);
  void OnNotification(const std::string& channel, const std::string& payload);
  void ReloadSchedule(const std::string& store_id);
  // After a store was written: its schedule here, the other replicas told, its status published.
  void StoreChanged(const std::string& store_id);
  // Every schedule into the loop. `version`: the stores version, read before this call, so a
  // change committed in between is loaded now and again at the next refresh, never missed.
  // Returns how many stores have an unusable schedule. Start, then the housekeeping thread.
  absl::StatusOr<int> LoadEverySchedule(absl::StatusOr<int64_t> version, bool catch_up);
  // The minute refresh (housekeeping thread only): every schedule and the per-store freshness
  // gauges reloaded when the stores version moved since the last load (or an hour passed);
  // otherwise only the runs completed since the last look move the gauges.
  void Refresh();
  void ExportFreshness();
  // data_stale notifications: every enabled store with a webhook whose last success (the
  // freshness gauges' table) is older than twice its threshold, on the injected clock.
  void NotifyStaleStores();
  // Queue gauges from the database (housekeeping thread only).
  void ExportQueue();
  void Housekeeping();
  bool SleepUnlessStopping(absl::Duration d);
  bool stopping();

  const SchedulerConfig& config_;
  const Clock& clock_;
  Repository repo_;
  SchedulerMetrics metrics_;
  // Before the executor: it tells the notifier of failed runs until it stops.
  Notifier notifier_;
  // This process's token on the events it NOTIFYs, so that their echo is not delivered twice.
  const std::string origin_ = common::NewRunId();
  WatchHub hub_;
  common::ThreadPool rpc_pool_;
  common::ThreadPool announce_pool_;
  PgRunQueue queue_;
  RunExecutor executor_;
  TickClaimer claimer_;
  ScheduleLoop loop_;
  PgListener listener_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread housekeeping_;
  // What the last LoadEverySchedule loaded (Start, then the housekeeping thread only).
  std::optional<int64_t> loaded_version_;
  absl::Time loaded_at_ = absl::InfinitePast();
  absl::Time successes_since_ = absl::InfinitePast();
  // Enabled stores with a webhook, loaded with the freshness table (housekeeping thread only).
  std::vector<NotifyStore> notify_stores_;
};

}  // namespace autosync::scheduler
