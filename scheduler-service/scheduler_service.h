// The autosync.v1.Scheduler gRPC service: request plumbing over SchedulerCore. Unary RPCs run
// their (blocking, database) work on the core's rpc pool and finish the call from there;
// WatchStore is a write reactor per stream (new'ed in WatchStore, deleted in OnDone) fed by the
// core's WatchHub, with one write in flight and a bounded queue behind it. PreviewSchedule is
// answered inline from the core's injected Clock.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "scheduler-service/audit.h"
#include "scheduler-service/core.h"

namespace autosync::scheduler {

class SchedulerService final : public autosync::v1::Scheduler::CallbackService {
 public:
  // `core` must outlive the service (and the gRPC server it is registered with).
  explicit SchedulerService(SchedulerCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* TriggerSync(grpc::CallbackServerContext* context,
                                        const autosync::v1::TriggerSyncRequest* request,
                                        autosync::v1::TriggerSyncResponse* response) override;
  grpc::ServerUnaryReactor* GetSyncStatus(grpc::CallbackServerContext* context,
                                          const autosync::v1::GetSyncStatusRequest* request,
                                          autosync::v1::GetSyncStatusResponse* response) override;
  grpc::ServerWriteReactor<autosync::v1::WatchEvent>* WatchStore(
      grpc::CallbackServerContext* context,
      const autosync::v1::WatchStoreRequest* request) override;
  grpc::ServerUnaryReactor* UpsertStore(grpc::CallbackServerContext* context,
                                        const autosync::v1::UpsertStoreRequest* request,
                                        autosync::v1::UpsertStoreResponse* response) override;
  grpc::ServerUnaryReactor* GetStore(grpc::CallbackServerContext* context,
                                     const autosync::v1::GetStoreRequest* request,
                                     autosync::v1::Store* response) override;
  grpc::ServerUnaryReactor* ListStores(grpc::CallbackServerContext* context,
                                       const autosync::v1::ListStoresRequest* request,
                                       autosync::v1::ListStoresResponse* response) override;
  grpc::ServerUnaryReactor* DeleteStore(grpc::CallbackServerContext* context,
                                        const autosync::v1::DeleteStoreRequest* request,
                                        autosync::v1::DeleteStoreResponse* response) override;
  grpc::ServerUnaryReactor* PauseStore(grpc::CallbackServerContext* context,
                                       const autosync::v1::PauseStoreRequest* request,
                                       autosync::v1::Store* response) override;
  grpc::ServerUnaryReactor* ResumeStore(grpc::CallbackServerContext* context,
                                        const autosync::v1::ResumeStoreRequest* request,
                                        autosync::v1::Store* response) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const autosync::v1::ListRunsRequest* request,
                                     autosync::v1::ListRunsResponse* response) override;
  grpc::ServerUnaryReactor* ListQuarantine(grpc::CallbackServerContext* context,
                                           const autosync::v1::ListQuarantineRequest* request,
                                           autosync::v1::ListQuarantineResponse* response) override;
  grpc::ServerUnaryReactor* GetLtvCohorts(grpc::CallbackServerContext* context,
                                          const autosync::v1::GetLtvCohortsRequest* request,
                                          autosync::v1::GetLtvCohortsResponse* response) override;
  grpc::ServerUnaryReactor* PreviewSchedule(
      grpc::CallbackServerContext* context, const autosync::v1::PreviewScheduleRequest* request,
      autosync::v1::PreviewScheduleResponse* response) override;
  grpc::ServerUnaryReactor* ImportFxRates(grpc::CallbackServerContext* context,
                                          const autosync::v1::ImportFxRatesRequest* request,
                                          autosync::v1::ImportFxRatesResponse* response) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* context,
                                      const autosync::v1::ListAuditRequest* request,
                                      autosync::v1::ListAuditResponse* response) override;
  grpc::ServerUnaryReactor* ReportConnections(
      grpc::CallbackServerContext* context, const autosync::v1::ReportConnectionsRequest* request,
      autosync::v1::ReportConnectionsResponse* response) override;

 private:
  // PauseStore and ResumeStore: one audited change of the store's `enabled` (with the note).
  grpc::ServerUnaryReactor* SetEnabled(grpc::CallbackServerContext* context, absl::string_view rpc,
                                       const std::string& store_id, bool enabled,
                                       const std::string& note, AuditEntry audit,
                                       autosync::v1::Store* response);

  SchedulerCore& core_;
};

}  // namespace autosync::scheduler
