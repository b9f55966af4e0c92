// Waiting between store-API calls (backoff, Retry-After, pacing) behind an interface, so tests
// record the delays instead of sleeping, and a run can be cancelled in the middle of a wait.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autosync::worker {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Waits `duration` (non-positive: returns at once). Returns false when the wait was cut short
  // because the run was cancelled; the caller then stops with CANCELLED.
  virtual bool SleepFor(absl::Duration duration) = 0;
};

// Real waiting on a condition variable. Cancel() wakes any current SleepFor and makes every later
// SleepFor return false at once. Thread-safe: Cancel() is meant to be called from another thread
// (the RPC's cancellation callback) while the run's thread sleeps.
class RealSleeper final : public Sleeper {
 public:
  bool SleepFor(absl::Duration duration) override;
  void Cancel();
  bool cancelled() const;

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace autosync::worker
