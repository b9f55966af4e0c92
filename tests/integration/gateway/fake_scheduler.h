// An in-process fake of the scheduler-service for gateway tests: a real gRPC server on
// 127.0.0.1:0 whose WatchStore streams the test feeds (Publish), whose TriggerSync plays a
// scripted run (starting -> orders -> ads -> ltv -> completed, then a status) to the store's
// watchers, and whose unary answers and errors the test can set.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.grpc.pb.h"

namespace autosync::testing {

class FakeScheduler final : public autosync::v1::Scheduler::CallbackService {
 public:
  class Watcher;

  // Starts serving on 127.0.0.1 with the given known stores.
  explicit FakeScheduler(std::set<std::string> stores);
  ~FakeScheduler() override;

  std::string target() const { return target_; }

  // Sends `event` to every open WatchStore stream of `store_id`.
  void Publish(const std::string& store_id, const autosync::v1::WatchEvent& event);
  void PublishProgress(const std::string& store_id, const std::string& run_id,
                       autosync::v1::Stage stage, int progress, const std::string& message);
  // Ends every open stream of `store_id` with UNAVAILABLE (a scheduler restart).
  void BreakStreams(const std::string& store_id);
  // Waits until `store_id` has `count` open streams.
  bool WaitForWatchers(const std::string& store_id, int count, absl::Duration timeout);
  int watchers(const std::string& store_id);
  int watch_calls();

  // Every unary call answers `status` while it is not OK.
  void SetUnaryError(absl::Status status);
  // TriggerSync answers started=false (a run in flight) while set.
  void SetRunInFlight(bool in_flight);
  int triggers();
  // The last ReportConnections table: store -> count.
  std::map<std::string, int> last_report();
  bool WaitForReport(const std::string& store_id, int count, absl::Duration timeout);
  // From now on ReportConnections calls are taken (last_report() updated) but left unanswered
  // until the fake is destroyed: a scheduler that is slow to answer.
  void HoldReports();
  // Waits until `count` reports are being held.
  bool WaitForHeldReports(int count, absl::Duration timeout);

  // grpc::Service handlers.
  grpc::ServerUnaryReactor* TriggerSync(grpc::CallbackServerContext* context,
                                        const autosync::v1::TriggerSyncRequest* request,
                                        autosync::v1::TriggerSyncResponse* response) override;
  grpc::ServerUnaryReactor* GetSyncStatus(grpc::CallbackServerContext* context,
                                          const autosync::v1::GetSyncStatusRequest* request,
                                          autosync::v1::GetSyncStatusResponse* response) override;
  grpc::ServerWriteReactor<autosync::v1::WatchEvent>* WatchStore(
      grpc::CallbackServerContext* context,
      const autosync::v1::WatchStoreRequest* request) override;
  grpc::ServerUnaryReactor* ListStores(grpc::CallbackServerContext* context,
                                       const autosync::v1::ListStoresRequest* request,
                                       autosync::v1::ListStoresResponse* response) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const autosync::v1::ListRunsRequest* request,
                                     autosync::v1::ListRunsResponse* response) override;
  grpc::ServerUnaryReactor* GetLtvCohorts(grpc::CallbackServerContext* context,
                                          const autosync::v1::GetLtvCohortsRequest* request,
                                          autosync::v1::GetLtvCohortsResponse* response) override;
  // An empty page (the role tests only need an answer).
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* context,
                                      const autosync::v1::ListAuditRequest* request,
                                      autosync::v1::ListAuditResponse* response) override;
  grpc::ServerUnaryReactor* ReportConnections(
      grpc::CallbackServerContext* context, const autosync::v1::ReportConnectionsRequest* request,
      autosync::v1::ReportConnectionsResponse* response) override;

  autosync::v1::SyncStatus StatusOf(const std::string& store_id);

 private:
  friend class Watcher;
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, grpc::Status status);
  // Waits up to `timeout` until `done()` (evaluated with mu_ held) is true; whether it became so.
  template <typename Predicate>
  bool Await(const Predicate& done, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
  grpc::Status Check(const std::string& store_id);
  void Unregister(Watcher* watcher);

  std::unique_ptr<grpc::Server> server_;
  std::string target_;
  absl::Mutex mu_;
  std::set<std::string> stores_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  absl::Status unary_error_ ABSL_GUARDED_BY(mu_);
  bool run_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  int triggers_ ABSL_GUARDED_BY(mu_) = 0;
  int watch_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> last_report_ ABSL_GUARDED_BY(mu_);
  bool hold_reports_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> held_reports_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::testing
