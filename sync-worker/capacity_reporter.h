// CapacityReporter: publishes this worker's run slots to the scheduler replicas, who dispatch
// queued runs only to free slots (proto: SyncWorker.GetCapacity, table worker_slots). A thread
// refreshes the row every `every`; Stop() removes it, so a worker that stops cleanly stops
// counting at once (one that dies stops counting when its row ages out, 10 s).
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::worker {

struct SlotReport {
  std::string worker_id;
  int slots = 0;
  int in_flight = 0;
};

// Upserts the worker's row (seen_at = now). Blocking.
absl::Status PublishWorkerSlots(common::PgPool& pool, const SlotReport& report);
// Deletes the worker's row. Blocking.
absl::Status RemoveWorkerSlots(common::PgPool& pool, const std::string& worker_id);

// Thread-safe; Stop() (or the destructor) joins the thread.
class CapacityReporter final {
 public:
  CapacityReporter(common::PgPool& pool, std::string worker_id, int slots,
                   std::function<int()> in_flight, absl::Duration every = absl::Seconds(2));
  ~CapacityReporter();
  CapacityReporter(const CapacityReporter&) = delete;
  CapacityReporter& operator=(const CapacityReporter&) = delete;

  void Start();
  void Stop();

 private:
  void Loop();

  common::PgPool& pool_;
  const std::string worker_id_;
  const int slots_;
  const std::function<int()> in_flight_;
  const absl::Duration every_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace autosync::worker
