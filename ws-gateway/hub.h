// The fan-out hub: which local client watches which store, one upstream WatchStore stream per
// store with at least one client (opened on the first select, cancelled after the last client
// leaves, re-opened with backoff when it breaks), each event encoded once per framing and the
// same bytes handed to every recipient, and the per-store client counts reported to the
// scheduler (on change, debounced, and periodically). No sockets here: clients are HubClients.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ws-gateway/event_json.h"
#include "ws-gateway/gateway_metrics.h"
#include "ws-gateway/scheduler_client.h"
#include "ws-gateway/timers.h"

namespace autosync::gateway {

// A local client as the hub sees it. Deliver is called from any thread, must not block, and
// must bound what it queues (a client that cannot keep up disconnects itself).
class HubClient {
 public:
  virtual ~HubClient() = default;
  virtual void Deliver(const EncodedEvent& event) = 0;
};

struct HubOptions {
  std::string gateway_id = "ws-gateway";
  absl::Duration report_debounce = absl::Milliseconds(500);
  absl::Duration report_period = absl::Seconds(15);
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(10);
};

// A store the scheduler refuses to watch (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED) is not
// retried: its clients get one `error` event and are dropped from it.
// Thread-safe. Lifetime: outlives every client session; Shutdown() before destruction, and the
// Timers must stop running callbacks (be destroyed) before the hub is.
class Hub final {
 public:
  // `metrics` may be null (unit tests).
  Hub(SchedulerClient& scheduler, Timers& timers, GatewayMetrics* metrics, HubOptions options);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Starts the periodic connection report.
  void Start();
  // Cancels every upstream stream and waits (bounded) for them to end; later calls are no-ops.
  void Shutdown();

  uint64_t NewClientId();
  // `client` now watches `store_id` only (leaving the store it watched before). When the store's
  // upstream is already open, the client gets the last status at once.
  void Select(uint64_t client_id, std::weak_ptr<HubClient> client, const std::string& store_id);
  // The client leaves its store (on disconnect). Unknown ids are ignored.
  void Remove(uint64_t client_id);

  // Hands `event` to every client of `store_id`; returns how many got it.
  size_t Broadcast(const std::string& store_id, const EncodedEvent& event);

  // store -> local clients (stores with none are absent).
  std::map<std::string, int> ClientCounts();
  // Open upstream streams (including ones being cancelled that have not ended yet).
  int open_streams();

 private:
  struct StoreState {
    absl::flat_hash_map<uint64_t, std::weak_ptr<HubClient>> clients;
    std::shared_ptr<WatchStream> stream;
    uint64_t generation = 0;  // of the current stream; callbacks of older ones are ignored
    bool reopen_scheduled = false;
    int failures = 0;
    std::shared_ptr<const EncodedEvent> last_status;
  };

  void OpenStreamLocked(const std::string& store_id, StoreState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveLocked(uint64_t client_id, std::vector<std::shared_ptr<WatchStream>>& to_cancel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnEvent(const std::string& store_id, uint64_t generation,
               const autosync::v1::WatchEvent& event);
  void OnDone(const std::string& store_id, uint64_t generation, const absl::Status& status);
  // Book-keeping of an ended stream; schedules the re-open of a broken one. True when the
  // scheduler refused the store for good (its clients are then told and dropped).
  bool StreamEndedLocked(const std::string& store_id, uint64_t generation,
                         const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reopen(const std::string& store_id);
  void ScheduleReportLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendReport();
  void PeriodicReport();

  SchedulerClient& scheduler_;
  Timers& timers_;
  GatewayMetrics* metrics_;
  const HubOptions options_;

  absl::Mutex mu_;
  std::map<std::string, StoreState> stores_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> client_store_ ABSL_GUARDED_BY(mu_);
  uint64_t next_client_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
  bool report_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace autosync::gateway
