// Times runs the way a person sees them: a WatchStore stream opened before the trigger keeps
// every progress event with the moment it arrived, and a TriggerSync(MANUAL) is timed from the
// moment it was sent to the run's first event after the queue (STARTING: a worker took it) and
// to its end (COMPLETED or FAILED), both as received through the stream.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "tests/support/store_watcher.h"

namespace autosync::bench {

// One manual run as timed by RunTimer::Trigger. Negative milliseconds: not seen.
struct ManualRun {
  std::string store_id;
  std::string run_id;
  bool started = false;    // TriggerSyncResponse.started (false: coalesced with a run in flight)
  bool completed = false;  // ended COMPLETED (not FAILED, not unseen)
  double rpc_ms = -1;      // the TriggerSync call itself
  double first_ms = -1;    // sent -> first event after the queue
  double total_ms = -1;    // sent -> COMPLETED / FAILED
  std::string error;
};

// A WatchStore stream of one store, read from construction to destruction. Thread-safe.
class RunTimer final {
 public:
  RunTimer(autosync::v1::Scheduler::Stub& stub, std::string store_id);

  // Triggers a manual run of the store and waits (until `bound` after the trigger) for its end.
  ManualRun Trigger(absl::Duration bound);

 private:
  autosync::v1::Scheduler::Stub& stub_;
  const std::string store_id_;
  autosync::testing::Watcher watcher_;
};

}  // namespace autosync::bench
