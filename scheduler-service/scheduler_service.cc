#include "scheduler-service/scheduler_service.h"

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/status.h"
#include "scheduler-service/audit.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::WatchEvent;

// Copies a result into the call's response; its status is the call's.
template <typename T>
absl::Status Fill(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

// Runs `fn` (returning absl::Status, filling the response) on the core's rpc pool and finishes
// the call from there. A full pool answers RESOURCE_EXHAUSTED at once.
template <typename Fn>
grpc::ServerUnaryReactor* OnPool(SchedulerCore& core, grpc::CallbackServerContext* context,
                                 absl::string_view rpc, Fn fn) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool queued = core.rpc_pool().Submit([reactor, rpc, fn = std::move(fn)]() mutable {
    const absl::Status status = fn();
    if (!status.ok() && (absl::IsInternal(status) || absl::IsUnavailable(status))) {
      common::LogWarn("rpc failed", {{"rpc", rpc}, {"error", status.message()}});
    }
    reactor->Finish(common::ToGrpcStatus(status));
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the scheduler is overloaded; retry with backoff"));
  }
  return reactor;
}

// The value of client metadata `key`, or "".
std::string Metadata(const grpc::CallbackServerContext& context, absl::string_view key) {
  const auto& md = context.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// The DNS name of the gateway's client certificate (README "mTLS between services").
constexpr absl::string_view kGatewayIdentity = "autosync-gateway";

// Who is calling, for the audit trail. With TLS, the peer's authenticated identity decides: a
// gateway's (a certificate naming autosync-gateway) actor metadata is recorded as verified, any
// other peer is recorded as "grpc:<identity>" (what it claimed is kept in the detail). Without TLS
// nothing can be verified: the gateway's actor metadata is recorded as given (actor_verified
// false), a caller without it is "grpc:anonymous". README "Audit trail".
AuditEntry AuditFor(const grpc::CallbackServerContext& context, absl::string_view action,
                    const std::string& store_id, std::string detail_json = "{}") {
  AuditEntry entry;
  entry.action = std::string(action);
  entry.store_id = store_id;
  entry.detail_json = std::move(detail_json);
  const std::string peer = context.peer();
  std::string identity;  // the first of the peer's names (its certificate's DNS SANs)
  bool gateway_peer = false;
  if (std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
      auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& id : auth->GetPeerIdentity()) {
      const absl::string_view name(id.data(), id.size());
      if (identity.empty()) identity = std::string(name);
      if (name == kGatewayIdentity) gateway_peer = true;
    }
  }
  const std::string claimed = Metadata(context, "x-autosync-actor");
  const std::string client = Metadata(context, "x-autosync-client-address");
  const bool from_gateway = !claimed.empty();
  if (!identity.empty()) {
    if (from_gateway && gateway_peer) {
      entry.actor = claimed;
      entry.actor_verified = true;
    } else {
      entry.actor = absl::StrCat("grpc:", identity);
      if (from_gateway) AddAuditDetail(&entry.detail_json, "claimed_actor", claimed);
    }
  } else {
    entry.actor = from_gateway ? claimed : "grpc:anonymous";
  }
  entry.source = from_gateway ? absl::StrCat(client, " via ", peer) : peer;
  return entry;
}

// One WatchStore stream. Deleted in OnDone. The hub holds the Queue weakly; the Queue points at
// the reactor only while it is alive.
class WatchReactor final : public grpc::ServerWriteReactor<WatchEvent> {
 public:
  struct Queue final : public Subscriber {
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    std::deque<std::shared_ptr<const WatchEvent>> events ABSL_GUARDED_BY(mu);
    bool ready ABSL_GUARDED_BY(mu) = false;    // the first status is in place
    bool writing ABSL_GUARDED_BY(mu) = false;  // one write in flight
    bool finishing ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;
    grpc::Status final_status ABSL_GUARDED_BY(mu);
    size_t limit = 256;
    SchedulerMetrics* metrics = nullptr;

    // What to do after a state change, decided under the lock and done outside it: the reactor
    // cannot go away meanwhile, since OnDone needs Finish, and Finish is only called here.
    struct Action {
      WatchReactor* reactor = nullptr;
      const WatchEvent* write = nullptr;
      bool finish = false;
      grpc::Status status;
    };
    Action Next() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      Action a;
      if (reactor == nullptr || finished || writing) return a;
      if (finishing) {
        finished = true;
        a.reactor = reactor;
        a.finish = true;
        a.status = final_status;
        return a;
      }
      if (ready && !events.empty()) {
        writing = true;
        a.reactor = reactor;
        a.write = events.front().get();
      }
      return a;
    }
    static void Do(const Action& a) {
      if (a.reactor == nullptr) return;
      if (a.finish) {
        a.reactor->Finish(a.status);
      } else if (a.write != nullptr) {
        a.reactor->StartWrite(a.write);
      }
    }
    void RequestFinish(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      if (finishing || finished) return;
      finishing = true;
      final_status = std::move(status);
    }

    void Deliver(const std::shared_ptr<const WatchEvent>& event) override {
      Action a;
      {
        absl::MutexLock lock(&mu);
        if (finishing || finished) return;
        if (events.size() >= limit) {
          // Too slow: its view would be stale anyway. It reconnects and starts from a status.
          events.clear();
          if (metrics != nullptr) metrics->watchers_dropped.Increment();
          RequestFinish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                     "this watcher fell too far behind; reconnect"));
        } else {
          events.push_back(event);
        }
        a = Next();
      }
      Do(a);
    }

    void Ready(const absl::StatusOr<autosync::v1::SyncStatus>& status, const std::string& id) {
      Action a;
      {
        absl::MutexLock lock(&mu);
        if (!status.ok()) {
          events.clear();
          RequestFinish(common::ToGrpcStatus(status.status()));
        } else {
          auto first = std::make_shared<WatchEvent>();
          first->set_store_id(id);
          *first->mutable_status() = *status;
          events.push_front(std::move(first));
          ready = true;
        }
        a = Next();
      }
      Do(a);
    }
  };

  WatchReactor(SchedulerCore& core, std::string store_id)
      : core_(core), store_id_(std::move(store_id)), queue_(std::make_shared<Queue>()) {
    queue_->limit = static_cast<size_t>(core.config().watcher_queue_limit);
    queue_->metrics = &core.metrics();
    absl::MutexLock lock(&queue_->mu);
    queue_->reactor = this;
  }

  void Begin() {
    core_.hub().Add(store_id_, queue_);
    core_.metrics().watchers.Increment();
    std::shared_ptr<Queue> queue = queue_;
    SchedulerCore* core = &core_;
    const std::string id = store_id_;
    if (!core_.rpc_pool().Submit(
            [core, queue, id] { queue->Ready(core->registry().Status(id), id); })) {
      queue->Ready(absl::ResourceExhaustedError("the scheduler is overloaded; retry"), id);
    }
  }

  void OnWriteDone(bool ok) override {
    Queue::Action a;
    {
      absl::MutexLock lock(&queue_->mu);
      queue_->writing = false;
      if (!queue_->events.empty()) queue_->events.pop_front();
      if (!ok) queue_->RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      a = queue_->Next();
    }
    Queue::Do(a);
  }

  void OnCancel() override {
    Queue::Action a;
    {
      absl::MutexLock lock(&queue_->mu);
      queue_->RequestFinish(grpc::Status::CANCELLED);
      a = queue_->Next();
    }
    Queue::Do(a);
  }

  void OnDone() override {
    core_.hub().Remove(store_id_, queue_.get());
    core_.metrics().watchers.Decrement();
    {
      absl::MutexLock lock(&queue_->mu);
      queue_->reactor = nullptr;
    }
    delete this;
  }

 private:
  SchedulerCore& core_;
  const std::string store_id_;
  std::shared_ptr<Queue> queue_;
};

// A reactor that answers one error and is deleted in OnDone.
class ErrorReactor final : public grpc::ServerWriteReactor<WatchEvent> {
 public:
  explicit ErrorReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* SchedulerService::TriggerSync(
    grpc::CallbackServerContext* context, const autosync::v1::TriggerSyncRequest* request,
    autosync::v1::TriggerSyncResponse* response) {
  const absl::string_view action = !request->backfill_from().empty() ? kAuditSyncBackfill
                                   : request->force()                ? kAuditSyncResync
                                                                     : kAuditSyncTrigger;
  std::string detail = "{}";
  if (action == kAuditSyncBackfill) {
    detail = AuditDetail({{"from", request->backfill_from()}, {"to", request->backfill_to()}});
  }
  AuditEntry audit = AuditFor(*context, action, request->store_id(), std::move(detail));
  return OnPool(core_, context, "TriggerSync",
                [this, request, response, audit = std::move(audit)]() mutable -> absl::Status {
                  auto r = core_.registry().TriggerSync(*request, &audit);
                  if (!r.ok()) return r.status();
                  *response = *std::move(r);
                  if (response->started()) {
                    AddAuditDetail(&audit.detail_json, "run_id", response->run_id());
                    LogAudit(audit);
                  }
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* SchedulerService::GetSyncStatus(
    grpc::CallbackServerContext* context, const autosync::v1::GetSyncStatusRequest* request,
    autosync::v1::GetSyncStatusResponse* response) {
  return OnPool(core_, context, "GetSyncStatus", [this, request, response]() -> absl::Status {
    auto r = core_.registry().Status(request->store_id());
    if (!r.ok()) return r.status();
    response->set_store_id(request->store_id());
    *response->mutable_status() = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<WatchEvent>* SchedulerService::WatchStore(
    grpc::CallbackServerContext* context, const autosync::v1::WatchStoreRequest* request) {
  (void)context;
  if (absl::Status s = common::ValidateStoreId(request->store_id()); !s.ok()) {
    return new ErrorReactor(common::ToGrpcStatus(s));
  }
  auto* reactor = new WatchReactor(core_, request->store_id());
  reactor->Begin();
  return reactor;
}

grpc::ServerUnaryReactor* SchedulerService::UpsertStore(
    grpc::CallbackServerContext* context, const autosync::v1::UpsertStoreRequest* request,
    autosync::v1::UpsertStoreResponse* response) {
  AuditEntry audit = AuditFor(*context, kAuditStoreReplace, request->store().store_id());
  return OnPool(
      core_, context, "UpsertStore",
      [this, request, response, audit = std::move(audit)]() mutable -> absl::Status {
        if (!request->has_store()) return absl::InvalidArgumentError("store: is missing");
        auto r = core_.registry().UpsertStore(*request, &audit);
        if (!r.ok()) return r.status();
        *response = *std::move(r);
        audit.action = std::string(response->created() ? kAuditStoreCreate : kAuditStoreReplace);
        audit.detail_json = absl::StrCat("{\"version\":", response->store().version(), "}");
        LogAudit(audit);
        common::LogInfo(response->created() ? "store created" : "store updated",
                        {{"rpc", "UpsertStore"}, {"store", response->store().store_id()}});
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SchedulerService::GetStore(grpc::CallbackServerContext* context,
                                                     const autosync::v1::GetStoreRequest* request,
                                                     autosync::v1::Store* response) {
  return OnPool(core_, context, "GetStore", [this, request, response] {
    return Fill(core_.registry().GetStore(request->store_id()), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::ListStores(
    grpc::CallbackServerContext* context, const autosync::v1::ListStoresRequest* request,
    autosync::v1::ListStoresResponse* response) {
  return OnPool(core_, context, "ListStores", [this, request, response] {
    return Fill(core_.registry().ListStores(*request), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::PauseStore(
    grpc::CallbackServerContext* context, const autosync::v1::PauseStoreRequest* request,
    autosync::v1::Store* response) {
  return SetEnabled(context, "PauseStore", request->store_id(), /*enabled=*/false, request->note(),
                    AuditFor(*context, kAuditStorePause, request->store_id(),
                             AuditDetail({{"note", request->note()}})),
                    response);
}

grpc::ServerUnaryReactor* SchedulerService::ResumeStore(
    grpc::CallbackServerContext* context, const autosync::v1::ResumeStoreRequest* request,
    autosync::v1::Store* response) {
  return SetEnabled(context, "ResumeStore", request->store_id(), /*enabled=*/true, "",
                    AuditFor(*context, kAuditStoreResume, request->store_id()), response);
}

grpc::ServerUnaryReactor* SchedulerService::SetEnabled(grpc::CallbackServerContext* context,
                                                       absl::string_view rpc,
                                                       const std::string& store_id, bool enabled,
                                                       const std::string& note, AuditEntry audit,
                                                       autosync::v1::Store* response) {
  return OnPool(
      core_, context, rpc,
      [this, rpc, store_id, enabled, note, response, audit = std::move(audit)]() -> absl::Status {
        auto r = core_.registry().SetEnabled(store_id, enabled, note, &audit);
        if (!r.ok()) return r.status();
        LogAudit(audit);
        *response = *std::move(r);
        common::LogInfo(enabled ? "store resumed" : "store paused",
                        {{"rpc", rpc}, {"store", store_id}});
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* SchedulerService::DeleteStore(
    grpc::CallbackServerContext* context, const autosync::v1::DeleteStoreRequest* request,
    autosync::v1::DeleteStoreResponse* response) {
  (void)response;
  AuditEntry audit = AuditFor(*context, kAuditStoreDelete, request->store_id());
  return OnPool(core_, context, "DeleteStore",
                [this, request, audit = std::move(audit)]() -> absl::Status {
                  absl::Status s = core_.registry().DeleteStore(request->store_id(), &audit);
                  if (s.ok()) {
                    LogAudit(audit);
                    common::LogInfo("store deleted",
                                    {{"rpc", "DeleteStore"}, {"store", request->store_id()}});
                  }
                  return s;
                });
}

grpc::ServerUnaryReactor* SchedulerService::ListRuns(grpc::CallbackServerContext* context,
                                                     const autosync::v1::ListRunsRequest* request,
                                                     autosync::v1::ListRunsResponse* response) {
  return OnPool(core_, context, "ListRuns", [this, request, response] {
    return Fill(core_.registry().ListRuns(*request), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::GetLtvCohorts(
    grpc::CallbackServerContext* context, const autosync::v1::GetLtvCohortsRequest* request,
    autosync::v1::GetLtvCohortsResponse* response) {
  return OnPool(core_, context, "GetLtvCohorts", [this, request, response] {
    return Fill(core_.registry().LtvCohorts(request->store_id()), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::ListQuarantine(
    grpc::CallbackServerContext* context, const autosync::v1::ListQuarantineRequest* request,
    autosync::v1::ListQuarantineResponse* response) {
  return OnPool(core_, context, "ListQuarantine", [this, request, response] {
    return Fill(core_.registry().ListQuarantine(*request), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::ImportFxRates(
    grpc::CallbackServerContext* context, const autosync::v1::ImportFxRatesRequest* request,
    autosync::v1::ImportFxRatesResponse* response) {
  AuditEntry audit = AuditFor(*context, kAuditFxImport, "");
  return OnPool(core_, context, "ImportFxRates",
                [this, request, response, audit = std::move(audit)]() mutable -> absl::Status {
                  auto r = core_.registry().ImportFxRates(*request, &audit);
                  if (!r.ok()) return r.status();
                  *response = *std::move(r);
                  audit.detail_json = absl::StrCat("{\"days\":", response->days(),
                                                   ",\"rates\":", response->rates(), "}");
                  LogAudit(audit);
                  common::LogInfo("fx rates imported", {{"rpc", "ImportFxRates"},
                                                        {"days", absl::StrCat(response->days())},
                                                        {"rates", absl::StrCat(response->rates())},
                                                        {"first_day", response->first_day()},
                                                        {"last_day", response->last_day()}});
                  return absl::OkStatus();
                });
}

grpc::ServerUnaryReactor* SchedulerService::ListAudit(grpc::CallbackServerContext* context,
                                                      const autosync::v1::ListAuditRequest* request,
                                                      autosync::v1::ListAuditResponse* response) {
  return OnPool(core_, context, "ListAudit", [this, request, response] {
    return Fill(core_.registry().ListAudit(*request), response);
  });
}

grpc::ServerUnaryReactor* SchedulerService::PreviewSchedule(
    grpc::CallbackServerContext* context, const autosync::v1::PreviewScheduleRequest* request,
    autosync::v1::PreviewScheduleResponse* response) {
  // Pure computation, bounded by count <= 100: answered inline.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto r = scheduler::PreviewSchedule(*request, core_.clock().Now());
  if (r.ok()) *response = *std::move(r);
  reactor->Finish(common::ToGrpcStatus(r.status()));
  return reactor;
}

grpc::ServerUnaryReactor* SchedulerService::ReportConnections(
    grpc::CallbackServerContext* context, const autosync::v1::ReportConnectionsRequest* request,
    autosync::v1::ReportConnectionsResponse* response) {
  (void)response;
  return OnPool(core_, context, "ReportConnections",
                [this, request]() { return core_.registry().ReportConnections(*request); });
}

}  // namespace autosync::scheduler
