// Fault tests' shared fixture: a whole autosync back end as real processes (store-sim, sync-worker
// replicas, scheduler-service replicas) against one PostgreSQL database, with the handles a test
// needs to break it (SIGKILL a worker or scheduler, restart it on the same port) and to look at
// the outcome (run rows, cursors, WatchStore events, health, metrics).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/store_sim.h"
#include "tests/support/store_watcher.h"

namespace autosync::testing {

// The seed of a test's random choices: AUTOSYNC_FAULT_SEED when set (to replay a failure),
// else a fresh one. Printed, so a failing run can be repeated.
uint64_t FaultSeed();

// Polls `done` every 100 ms until it holds or `timeout` passes (for state only visible by asking:
// database rows, health). Returns whether it held.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout);

class FaultSystem {
 public:
  struct Process {
    std::unique_ptr<ChildProcess> process;
    int port = 0;
    int metrics_port = 0;
    std::vector<std::string> args;  // to restart it the same way
    std::string target() const;
  };
  struct Scheduler : Process {
    std::unique_ptr<autosync::v1::Scheduler::Stub> stub;
  };

  explicit FaultSystem(std::string database_url) : db_url_(std::move(database_url)) {}

  const std::string& db_url() const { return db_url_; }
  StoreSim& sim() { return *sim_; }
  absl::Status StartSim(std::vector<std::string> args);

  // Worker `i` (0-based; its port is chosen on first start and kept for restarts).
  absl::Status StartWorker(size_t i, std::vector<std::string> extra_args = {});
  // SIGKILL and reap.
  absl::Status KillWorker(size_t i);
  // Starts it again on the same port with the same arguments.
  absl::Status RestartWorker(size_t i);
  Process& worker(size_t i) { return workers_.at(i); }
  // "ipv4:127.0.0.1:p1,127.0.0.1:p2,..." for workers 0..count-1 (ports are chosen on first use,
  // so schedulers can start before workers; the scheduler round-robins across them).
  std::string WorkerTarget(size_t count = 1);

  absl::Status StartScheduler(const std::string& name, std::vector<std::string> extra_args = {});
  Scheduler& scheduler(size_t i) { return schedulers_.at(i); }
  autosync::v1::Scheduler::Stub& stub(size_t i = 0) { return *schedulers_.at(i).stub; }

  // A store on store-sim (ads off unless `with_ads`).
  autosync::v1::Store StoreFor(const std::string& id, const std::string& schedule = "0 0 1 1 *",
                               bool with_ads = true);
  grpc::Status Upsert(const autosync::v1::Store& store, size_t replica = 0);
  grpc::Status Trigger(const std::string& store, autosync::v1::TriggerSyncResponse* out,
                       size_t replica = 0, bool force = false);
  grpc::Status Status(const std::string& store, autosync::v1::SyncStatus* out, size_t replica = 0);

  // SQL helpers for checks (a fresh connection each, so they work across database restarts).
  absl::StatusOr<int64_t> Scalar(const std::string& sql);
  absl::StatusOr<std::string> Text(const std::string& sql);
  absl::Status Exec(const std::string& sql);
  int64_t ScalarOrDie(const std::string& sql);

  // store-sim's summary of `store` equals PostgreSQL's (count and checksum); "" when it does,
  // else what differs.
  std::string CompareWithSource(const std::string& store);

 private:
  absl::Status StartProcess(Process& p, const std::string& binary,
                            const std::map<std::string, std::string>& env);

  std::string db_url_;
  std::unique_ptr<StoreSim> sim_;
  std::vector<Process> workers_;
  std::vector<Scheduler> schedulers_;
};

}  // namespace autosync::testing
