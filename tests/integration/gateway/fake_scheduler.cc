#include "tests/integration/gateway/fake_scheduler.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace autosync::testing {
namespace v1 = autosync::v1;

// One WatchStore stream: events queued, one write in flight; deleted in OnDone.
class FakeScheduler::Watcher final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  Watcher(FakeScheduler* owner, std::string store) : owner_(owner), store_(std::move(store)) {}

  const std::string& store() const { return store_; }

  void Push(const v1::WatchEvent& event) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    queue_.push_back(event);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void End(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
    if (!writing_) {
      Finish(status);
    } else {
      final_status_ = status;
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (!ok) {
      writing_ = false;
      if (!finishing_) {
        finishing_ = true;
        Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      } else {
        Finish(final_status_);
      }
      return;
    }
    if (!queue_.empty() && !finishing_) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    if (finishing_) Finish(final_status_);
  }

  void OnCancel() override { End(grpc::Status::CANCELLED); }

  void OnDone() override {
    owner_->Unregister(this);
    delete this;
  }

 private:
  FakeScheduler* owner_;
  const std::string store_;
  absl::Mutex mu_;
  std::deque<v1::WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

FakeScheduler::FakeScheduler(std::set<std::string> stores) : stores_(std::move(stores)) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  target_ = absl::StrCat("127.0.0.1:", port);
}

FakeScheduler::~FakeScheduler() {
  {
    absl::MutexLock lock(&mu_);
    for (auto& [store, w] : watchers_) w->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye"));
    for (grpc::ServerUnaryReactor* held : held_reports_) {
      held->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye"));
    }
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
}

void FakeScheduler::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  for (auto it = watchers_.begin(); it != watchers_.end(); ++it) {
    if (it->second == watcher) {
      watchers_.erase(it);
      return;
    }
  }
}

v1::SyncStatus FakeScheduler::StatusOf(const std::string&) {
  v1::SyncStatus status;
  status.set_is_syncing(false);
  status.set_has_cron_job(true);
  status.set_schedule("0 * * * *");
  status.set_timezone("UTC");
  status.set_enabled(true);
  absl::MutexLock lock(&mu_);
  int total = 0;
  for (const auto& [store, n] : last_report_) total += n;
  status.set_active_connections(total);
  return status;
}

void FakeScheduler::Publish(const std::string& store_id, const v1::WatchEvent& event) {
  absl::MutexLock lock(&mu_);
  auto [begin, end] = watchers_.equal_range(store_id);
  for (auto it = begin; it != end; ++it) it->second->Push(event);
}

void FakeScheduler::PublishProgress(const std::string& store_id, const std::string& run_id,
                                    v1::Stage stage, int progress, const std::string& message) {
  v1::WatchEvent event;
  event.set_store_id(store_id);
  v1::SyncProgress* p = event.mutable_progress();
  p->set_store_id(store_id);
  p->set_run_id(run_id);
  p->set_stage(stage);
  p->set_progress(progress);
  p->set_message(message);
  p->set_trigger(v1::TRIGGER_MANUAL);
  Publish(store_id, event);
}

void FakeScheduler::BreakStreams(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  auto [begin, end] = watchers_.equal_range(store_id);
  for (auto it = begin; it != end; ++it) {
    it->second->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "scheduler restarting"));
  }
}

bool FakeScheduler::WaitForWatchers(const std::string& store_id, int count,
                                    absl::Duration timeout) {
  return Await(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return static_cast<int>(watchers_.count(store_id)) == count;
      },
      timeout);
}

int FakeScheduler::watchers(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(watchers_.count(store_id));
}

int FakeScheduler::watch_calls() {
  absl::MutexLock lock(&mu_);
  return watch_calls_;
}

void FakeScheduler::SetUnaryError(absl::Status status) {
  absl::MutexLock lock(&mu_);
  unary_error_ = std::move(status);
}

void FakeScheduler::SetRunInFlight(bool in_flight) {
  absl::MutexLock lock(&mu_);
  run_in_flight_ = in_flight;
}

int FakeScheduler::triggers() {
  absl::MutexLock lock(&mu_);
  return triggers_;
}

std::map<std::string, int> FakeScheduler::last_report() {
  absl::MutexLock lock(&mu_);
  return last_report_;
}

bool FakeScheduler::WaitForReport(const std::string& store_id, int count, absl::Duration timeout) {
  return Await(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        auto it = last_report_.find(store_id);
        return (it == last_report_.end() ? 0 : it->second) == count;
      },
      timeout);
}

grpc::ServerUnaryReactor* FakeScheduler::Answer(grpc::CallbackServerContext* context,
                                                grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status FakeScheduler::Check(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  if (!unary_error_.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(unary_error_.code()),
                        std::string(unary_error_.message()));
  }
  if (!store_id.empty() && !stores_.contains(store_id)) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no store ", store_id));
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* FakeScheduler::TriggerSync(grpc::CallbackServerContext* context,
                                                     const v1::TriggerSyncRequest* request,
                                                     v1::TriggerSyncResponse* response) {
  const std::string store = request->store_id();
  if (grpc::Status s = Check(store); !s.ok()) return Answer(context, s);
  bool in_flight = false;
  {
    absl::MutexLock lock(&mu_);
    ++triggers_;
    in_flight = run_in_flight_;
  }
  const std::string run_id = common::NewRunId();
  response->set_run_id(run_id);
  response->set_started(!in_flight);
  response->set_message(in_flight ? "run in flight" : "started");
  if (!in_flight) {
    // A scripted run, relayed to the store's watchers the way the scheduler relays the worker's.
    PublishProgress(store, run_id, v1::STAGE_STARTING, 0, "Starting sync");
    PublishProgress(store, run_id, v1::STAGE_ORDERS, 30, "Fetched 120 orders (page 1)");
    PublishProgress(store, run_id, v1::STAGE_ADS, 70, "Fetched 14 ad rows");
    PublishProgress(store, run_id, v1::STAGE_LTV, 90, "Recomputed LTV cohorts");
    PublishProgress(store, run_id, v1::STAGE_COMPLETED, 100, "Sync completed");
    v1::WatchEvent status;
    status.set_store_id(store);
    *status.mutable_status() = StatusOf(store);
    Publish(store, status);
  }
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeScheduler::GetSyncStatus(grpc::CallbackServerContext* context,
                                                       const v1::GetSyncStatusRequest* request,
                                                       v1::GetSyncStatusResponse* response) {
  if (grpc::Status s = Check(request->store_id()); !s.ok()) return Answer(context, s);
  response->set_store_id(request->store_id());
  *response->mutable_status() = StatusOf(request->store_id());
  return Answer(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<v1::WatchEvent>* FakeScheduler::WatchStore(
    grpc::CallbackServerContext*, const v1::WatchStoreRequest* request) {
  auto* watcher = new Watcher(this, request->store_id());
  grpc::Status check = Check(request->store_id());
  {
    absl::MutexLock lock(&mu_);
    ++watch_calls_;
    if (check.ok()) watchers_.emplace(request->store_id(), watcher);
  }
  if (!check.ok()) {
    watcher->End(check);
    return watcher;
  }
  // The first event of a stream is always the current status.
  v1::WatchEvent first;
  first.set_store_id(request->store_id());
  *first.mutable_status() = StatusOf(request->store_id());
  watcher->Push(first);
  return watcher;
}

grpc::ServerUnaryReactor* FakeScheduler::ListStores(grpc::CallbackServerContext* context,
                                                    const v1::ListStoresRequest*,
                                                    v1::ListStoresResponse* response) {
  if (grpc::Status s = Check(""); !s.ok()) return Answer(context, s);
  absl::MutexLock lock(&mu_);
  for (const std::string& id : stores_) {
    v1::Store* store = response->add_stores();
    store->set_store_id(id);
    store->set_display_name(absl::StrCat("Store ", id));
    store->set_enabled(true);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* FakeScheduler::ListRuns(grpc::CallbackServerContext* context,
                                                  const v1::ListRunsRequest* request,
                                                  v1::ListRunsResponse* response) {
  if (grpc::Status s = Check(request->store_id()); !s.ok()) return Answer(context, s);
  v1::Run* run = response->add_runs();
  run->set_run_id("run_1");
  run->set_store_id(request->store_id());
  run->set_status("completed");
  run->set_stage(v1::STAGE_COMPLETED);
  run->set_trigger(v1::TRIGGER_CRON);
  run->mutable_counts()->set_orders_written(42);
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeScheduler::GetLtvCohorts(grpc::CallbackServerContext* context,
                                                       const v1::GetLtvCohortsRequest* request,
                                                       v1::GetLtvCohortsResponse* response) {
  if (grpc::Status s = Check(request->store_id()); !s.ok()) return Answer(context, s);
  response->set_store_id(request->store_id());
  response->set_currency("USD");
  v1::Cohort* cohort = response->add_cohorts();
  cohort->set_cohort_month("2024-01");
  cohort->set_customers(10);
  v1::CohortCell* cell = cohort->add_cells();
  cell->set_month_offset(0);
  cell->set_net_revenue(125.5);
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeScheduler::ListAudit(grpc::CallbackServerContext* context,
                                                   const v1::ListAuditRequest*,
                                                   v1::ListAuditResponse*) {
  return Answer(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* FakeScheduler::ReportConnections(
    grpc::CallbackServerContext* context, const v1::ReportConnectionsRequest* request,
    v1::ReportConnectionsResponse*) {
  {
    absl::MutexLock lock(&mu_);
    last_report_.clear();
    for (const auto& entry : request->stores()) {
      last_report_[entry.store_id()] = entry.connections();
    }
    if (hold_reports_) {
      held_reports_.push_back(context->DefaultReactor());
      return held_reports_.back();
    }
  }
  return Answer(context, grpc::Status::OK);
}

void FakeScheduler::HoldReports() {
  absl::MutexLock lock(&mu_);
  hold_reports_ = true;
}

bool FakeScheduler::WaitForHeldReports(int count, absl::Duration timeout) {
  return Await(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return static_cast<int>(held_reports_.size()) >= count;
      },
      timeout);
}

}  // namespace autosync::testing
