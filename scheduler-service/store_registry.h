// StoreRegistry: the Scheduler API's blocking operations, minus gRPC plumbing -- the store
// registry (upsert, pause/resume, get, list, delete: each change reloads the store's schedule
// here, tells the other replicas over kStoresChannel and publishes the store's status), manual
// and API triggers (queued through the run executor), the store status (with its next fire times
// from the injected Clock), run history, quarantined records, LTV cohorts, fx rates, the audit
// trail, and gateways' connection reports. Requests are validated here; the SQL is behind
// RegistryStore.
//
// Threads: every method blocks (call it from the rpc pool, never from a gRPC reaction);
// thread-safe. Lifetime: every reference must outlive the registry.
#pragma once

#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "autosync/v1/scheduler.pb.h"
#include "common/thread_pool.h"
#include "scheduler-service/audit.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/config.h"
#include "scheduler-service/event_relay.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/run_executor.h"
#include "scheduler-service/schedule_loop.h"

namespace autosync::scheduler {

// How long a gateway's ReportConnections table counts (gateways report at least every 15 s).
inline constexpr absl::Duration kConnectionsTtl = absl::Seconds(45);

class StoreRegistry final {
 public:
  StoreRegistry(const SchedulerConfig& config, const Clock& clock, RegistryStore& store,
                EventChannel& channel, ScheduleLoop& loop, RunExecutor& executor, EventRelay& relay,
                common::ThreadPool& rpc_pool);

  // From now on triggers are refused (UNAVAILABLE): the replica is shutting down.
  void RefuseTriggers() { stopping_.store(true); }

  // A non-null `audit` is recorded in the change's transaction (audit.h); a failed change
  // records nothing.
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

  // One store's schedule into the loop again (removed when it is gone); on failure the
  // periodic refresh catches up.
  void ReloadSchedule(const std::string& store_id);

 private:
  // After a store was written: its schedule here, the other replicas told, its status published.
  void StoreChanged(const std::string& store_id);

  const SchedulerConfig& config_;
  const Clock& clock_;
  RegistryStore& store_;
  EventChannel& channel_;
  ScheduleLoop& loop_;
  RunExecutor& executor_;
  EventRelay& relay_;
  common::ThreadPool& rpc_pool_;
  std::atomic<bool> stopping_{false};
};

}  // namespace autosync::scheduler
