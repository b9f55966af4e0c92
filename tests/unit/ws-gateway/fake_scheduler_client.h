// A fake SchedulerClient for the gateway's unit tests: WatchStore streams the test feeds and
// ends by hand, recorded ReportConnections, answers for the unary calls the test sets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ws-gateway/scheduler_client.h"

namespace autosync::gateway {

namespace v1 = autosync::v1;

struct FakeStream final : WatchStream {
  void Cancel() override { cancelled = true; }
  std::string store;
  WatchCallbacks callbacks;
  bool cancelled = false;
  bool done = false;
  void Event(const v1::WatchEvent& e) { callbacks.on_event(e); }
  void End(absl::Status s) {
    done = true;
    callbacks.on_done(s);
  }
};

class FakeScheduler final : public SchedulerClient {
 public:
  absl::Status CheckHealth() override { return health; }
  absl::StatusOr<v1::TriggerSyncResponse> TriggerSync(
      const v1::TriggerSyncRequest& request) override {
    triggers.push_back(request);
    if (!trigger_error.ok()) return trigger_error;
    v1::TriggerSyncResponse response;
    response.set_run_id("run_fake");
    response.set_started(trigger_started);
    return response;
  }
  absl::StatusOr<v1::GetSyncStatusResponse> GetSyncStatus(const std::string&) override {
    if (!status_error.ok()) return status_error;
    return status_response;
  }
  absl::StatusOr<v1::ListStoresResponse> ListStores(const v1::ListStoresRequest&) override {
    return v1::ListStoresResponse();
  }
  absl::StatusOr<v1::GetLtvCohortsResponse> GetLtvCohorts(const std::string&) override {
    return v1::GetLtvCohortsResponse();
  }
  absl::StatusOr<v1::ListRunsResponse> ListRuns(const v1::ListRunsRequest&) override {
    return runs_response;
  }
  absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(
      const v1::ListQuarantineRequest& request) override {
    quarantine_requests.push_back(request);
    return quarantine_response;
  }
  absl::StatusOr<v1::UpsertStoreResponse> UpsertStore(
      const v1::UpsertStoreRequest& request) override {
    upserts.push_back(request);
    if (!upsert_error.ok()) return upsert_error;
    v1::UpsertStoreResponse response;
    *response.mutable_store() = request.store();
    response.mutable_store()->set_version(request.expected_version() + 1);
    response.set_created(request.create_only());
    return response;
  }
  absl::StatusOr<v1::Store> GetStore(const std::string& store_id) override {
    v1::Store store = stored;
    store.set_store_id(store_id);
    return store;
  }
  absl::Status DeleteStore(const std::string& store_id) override {
    deleted.push_back(store_id);
    return absl::OkStatus();
  }
  absl::StatusOr<v1::Store> PauseStore(const v1::PauseStoreRequest& request) override {
    v1::Store store = stored;
    store.set_store_id(request.store_id());
    store.set_enabled(false);
    store.set_pause_note(request.note());
    return store;
  }
  absl::StatusOr<v1::Store> ResumeStore(const std::string& store_id) override {
    v1::Store store = stored;
    store.set_store_id(store_id);
    store.set_enabled(true);
    return store;
  }
  absl::StatusOr<v1::PreviewScheduleResponse> PreviewSchedule(
      const v1::PreviewScheduleRequest&) override {
    return v1::PreviewScheduleResponse();
  }
  absl::StatusOr<v1::ListAuditResponse> ListAudit(const v1::ListAuditRequest& request) override {
    audit_requests.push_back(request);
    return audit_page;
  }
  void ReportConnections(const v1::ReportConnectionsRequest& request,
                         std::function<void(absl::Status)> done) override {
    reports.push_back(request);
    done(absl::OkStatus());
  }
  std::shared_ptr<WatchStream> Watch(const std::string& store_id, const std::string&,
                                     WatchCallbacks callbacks) override {
    auto stream = std::make_shared<FakeStream>();
    stream->store = store_id;
    stream->callbacks = std::move(callbacks);
    streams.push_back(stream);
    return stream;
  }

  absl::Status health;                             // what CheckHealth answers
  absl::Status trigger_error;                      // what TriggerSync fails with, when not OK
  bool trigger_started = true;                     // else "a run is already queued or in flight"
  std::vector<v1::TriggerSyncRequest> triggers;    // every TriggerSync request, in order
  absl::Status status_error;                       // what GetSyncStatus fails with, when not OK
  v1::GetSyncStatusResponse status_response;       // what GetSyncStatus answers
  v1::ListRunsResponse runs_response;              // what ListRuns answers
  v1::ListQuarantineResponse quarantine_response;  // what ListQuarantine answers
  std::vector<v1::ListQuarantineRequest> quarantine_requests;
  v1::Store stored;           // what GetStore answers (with the asked id)
  absl::Status upsert_error;  // what UpsertStore fails with, when not OK
  std::vector<v1::UpsertStoreRequest> upserts;
  std::vector<std::string> deleted;
  std::vector<std::shared_ptr<FakeStream>> streams;
  std::vector<v1::ReportConnectionsRequest> reports;
  std::vector<v1::ListAuditRequest> audit_requests;
  v1::ListAuditResponse audit_page;
};

}  // namespace autosync::gateway
