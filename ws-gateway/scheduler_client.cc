#include "ws-gateway/scheduler_client.h"

#include <grpcpp/grpcpp.h>

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "common/log.h"
#include "common/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace autosync::gateway {

namespace {
thread_local const Caller* current_caller = nullptr;

// Metadata values must be printable ASCII; a forwarded header could hold anything.
std::string MetadataValue(absl::string_view value) {
  std::string out(value.substr(0, 512));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}
}  // namespace

ScopedCaller::ScopedCaller(Caller caller) : caller_(std::move(caller)), previous_(current_caller) {
  current_caller = &caller_;
}
ScopedCaller::~ScopedCaller() { current_caller = previous_; }
const Caller* ScopedCaller::Current() { return current_caller; }

namespace {

namespace v1 = autosync::v1;

// The callback calls gRPC still owes a completion (WatchStore streams, ReportConnections). The
// client's destructor cancels them and waits until each has completed, so the channel is never
// destroyed under an open callback call: its callback queue would then be torn down by whichever
// gRPC thread finished the call last, possibly while the process exits (an ASan double free in
// grpc_cq_internal_unref at the gateway's SIGTERM). Each call is held by a shared pointer whose
// Cancel() is safe to call at any time, so cancelling needs no lock of ours around gRPC.
class OpenCalls final {
 public:
  using Cancel = std::function<void()>;
  uint64_t Add(Cancel cancel) {
    absl::MutexLock lock(&mu_);
    open_.emplace(next_id_, std::move(cancel));
    return next_id_++;
  }
  void Done(uint64_t id) {
    absl::MutexLock lock(&mu_);
    open_.erase(id);
  }
  // Cancels every open call and waits up to `bound` for all of them to complete.
  bool CancelAllAndWait(absl::Duration bound) {
    std::vector<Cancel> cancels;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, cancel] : open_) cancels.push_back(cancel);
    }
    for (const Cancel& cancel : cancels) cancel();
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](absl::flat_hash_map<uint64_t, Cancel>* open) { return open->empty(); }, &open_),
        bound);
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Cancel> open_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

// Deleted in OnDone. The handle given to the caller outlives it and forgets it there, so a late
// Cancel() is harmless.
class WatchReactor final : public grpc::ClientReadReactor<v1::WatchEvent> {
 public:
  struct Handle final : WatchStream {
    void Cancel() override {
      absl::MutexLock lock(&mu);
      cancelled = true;
      if (reactor != nullptr) reactor->context_.TryCancel();
    }
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    bool cancelled ABSL_GUARDED_BY(mu) = false;
  };

  static std::shared_ptr<WatchStream> Start(v1::Scheduler::Stub& stub, OpenCalls& open_calls,
                                            const std::string& store, const std::string& watcher,
                                            WatchCallbacks callbacks) {
    auto handle = std::make_shared<Handle>();
    auto* reactor = new WatchReactor(handle, std::move(callbacks), open_calls);
    reactor->request_.set_store_id(store);
    reactor->request_.set_watcher_id(watcher);
    {
      absl::MutexLock lock(&handle->mu);
      handle->reactor = reactor;
    }
    stub.async()->WatchStore(&reactor->context_, &reactor->request_, reactor);
    reactor->StartRead(&reactor->event_);
    reactor->StartCall();
    return handle;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    if (callbacks_.on_event) callbacks_.on_event(event_);
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&handle_->mu);
      handle_->reactor = nullptr;
    }
    if (callbacks_.on_done) callbacks_.on_done(common::FromGrpcStatus(status));
    OpenCalls& open_calls = open_calls_;
    const uint64_t id = open_id_;
    delete this;
    open_calls.Done(id);  // last: the client may be destroyed as soon as this returns
  }

 private:
  WatchReactor(std::shared_ptr<Handle> handle, WatchCallbacks callbacks, OpenCalls& open_calls)
      : handle_(handle),
        callbacks_(std::move(callbacks)),
        open_calls_(open_calls),
        open_id_(open_calls.Add([handle] { handle->Cancel(); })) {}

  std::shared_ptr<Handle> handle_;
  WatchCallbacks callbacks_;
  OpenCalls& open_calls_;
  const uint64_t open_id_;
  grpc::ClientContext context_;
  v1::WatchStoreRequest request_;
  v1::WatchEvent event_;
};

class GrpcSchedulerClient final : public SchedulerClient {
 public:
  GrpcSchedulerClient(const std::string& target, absl::Duration timeout,
                      std::shared_ptr<grpc::ChannelCredentials> credentials)
      : channel_(grpc::CreateChannel(target, std::move(credentials))),
        health_(grpc::health::v1::Health::NewStub(channel_)),
        scheduler_(v1::Scheduler::NewStub(channel_)),
        timeout_(timeout) {}
  // Every call has a deadline (streams end once cancelled), so the wait is bounded by it.
  ~GrpcSchedulerClient() override {
    if (!open_calls_.CancelAllAndWait(timeout_ + absl::Seconds(5))) {
      common::LogWarn("gRPC calls to the scheduler still open at shutdown");
    }
  }

  absl::Status CheckHealth() override {
    grpc::ClientContext context;
    SetDeadline(context);
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health_->Check(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("scheduler unreachable: ", status.error_message()));
    }
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::UnavailableError(absl::StrCat(
          "scheduler not serving: ",
          grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::TriggerSyncResponse> TriggerSync(
      const v1::TriggerSyncRequest& request) override {
    return Unary<v1::TriggerSyncResponse>(request, &v1::Scheduler::Stub::TriggerSync);
  }
  absl::StatusOr<v1::GetSyncStatusResponse> GetSyncStatus(const std::string& store_id) override {
    v1::GetSyncStatusRequest request;
    request.set_store_id(store_id);
    return Unary<v1::GetSyncStatusResponse>(request, &v1::Scheduler::Stub::GetSyncStatus);
  }
  absl::StatusOr<v1::ListStoresResponse> ListStores(const v1::ListStoresRequest& request) override {
    return Unary<v1::ListStoresResponse>(request, &v1::Scheduler::Stub::ListStores);
  }
  absl::StatusOr<v1::GetLtvCohortsResponse> GetLtvCohorts(const std::string& store_id) override {
    v1::GetLtvCohortsRequest request;
    request.set_store_id(store_id);
    return Unary<v1::GetLtvCohortsResponse>(request, &v1::Scheduler::Stub::GetLtvCohorts);
  }
  absl::StatusOr<v1::ListRunsResponse> ListRuns(const v1::ListRunsRequest& request) override {
    return Unary<v1::ListRunsResponse>(request, &v1::Scheduler::Stub::ListRuns);
  }
  absl::StatusOr<v1::ListQuarantineResponse> ListQuarantine(
      const v1::ListQuarantineRequest& request) override {
    return Unary<v1::ListQuarantineResponse>(request, &v1::Scheduler::Stub::ListQuarantine);
  }
  absl::StatusOr<v1::UpsertStoreResponse> UpsertStore(
      const v1::UpsertStoreRequest& request) override {
    return Unary<v1::UpsertStoreResponse>(request, &v1::Scheduler::Stub::UpsertStore);
  }
  absl::StatusOr<v1::Store> GetStore(const std::string& store_id) override {
    v1::GetStoreRequest request;
    request.set_store_id(store_id);
    return Unary<v1::Store>(request, &v1::Scheduler::Stub::GetStore);
  }
  absl::Status DeleteStore(const std::string& store_id) override {
    v1::DeleteStoreRequest request;
    request.set_store_id(store_id);
    return Unary<v1::DeleteStoreResponse>(request, &v1::Scheduler::Stub::DeleteStore).status();
  }
  absl::StatusOr<v1::Store> PauseStore(const v1::PauseStoreRequest& request) override {
    return Unary<v1::Store>(request, &v1::Scheduler::Stub::PauseStore);
  }
  absl::StatusOr<v1::Store> ResumeStore(const std::string& store_id) override {
    v1::ResumeStoreRequest request;
    request.set_store_id(store_id);
    return Unary<v1::Store>(request, &v1::Scheduler::Stub::ResumeStore);
  }
  absl::StatusOr<v1::PreviewScheduleResponse> PreviewSchedule(
      const v1::PreviewScheduleRequest& request) override {
    return Unary<v1::PreviewScheduleResponse>(request, &v1::Scheduler::Stub::PreviewSchedule);
  }

  absl::StatusOr<v1::ListAuditResponse> ListAudit(const v1::ListAuditRequest& request) override {
    return Unary<v1::ListAuditResponse>(request, &v1::Scheduler::Stub::ListAudit);
  }

  void ReportConnections(const v1::ReportConnectionsRequest& request,
                         std::function<void(absl::Status)> done) override {
    struct Call {
      grpc::ClientContext context;
      v1::ReportConnectionsRequest request;
      v1::ReportConnectionsResponse response;
    };
    auto call = std::make_shared<Call>();
    call->request = request;
    SetDeadline(call->context);
    const uint64_t id = open_calls_.Add([call] { call->context.TryCancel(); });
    scheduler_->async()->ReportConnections(
        &call->context, &call->request, &call->response,
        [this, id, call, done = std::move(done)](grpc::Status status) mutable {
          if (done) done(common::FromGrpcStatus(status));
          call.reset();
          open_calls_.Done(id);  // last: the client may be destroyed as soon as this returns
        });
  }

  std::shared_ptr<WatchStream> Watch(const std::string& store_id, const std::string& watcher_id,
                                     WatchCallbacks callbacks) override {
    return WatchReactor::Start(*scheduler_, open_calls_, store_id, watcher_id,
                               std::move(callbacks));
  }

 private:
  // The deadline, and who the call is for (ScopedCaller) when the thread has a caller.
  void SetDeadline(grpc::ClientContext& context) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (const Caller* caller = ScopedCaller::Current(); caller != nullptr) {
      context.AddMetadata(kActorMetadata, MetadataValue(caller->actor));
      context.AddMetadata(kClientAddressMetadata, MetadataValue(caller->client_address));
    }
  }

  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Unary(const Request& request, Method method) {
    grpc::ClientContext context;
    SetDeadline(context);
    Response response;
    const grpc::Status status = ((*scheduler_).*method)(&context, request, &response);
    if (!status.ok()) return common::FromGrpcStatus(status);
    return response;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<v1::Scheduler::Stub> scheduler_;
  const absl::Duration timeout_;
  OpenCalls open_calls_;  // empty once the destructor's body has run
};

}  // namespace

std::unique_ptr<SchedulerClient> MakeGrpcSchedulerClient(
    const std::string& target, absl::Duration timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return std::make_unique<GrpcSchedulerClient>(target, timeout, std::move(credentials));
}

}  // namespace autosync::gateway
