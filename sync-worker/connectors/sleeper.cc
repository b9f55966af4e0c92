#include "sync-worker/connectors/sleeper.h"

namespace autosync::worker {

bool RealSleeper::SleepFor(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  if (duration > absl::ZeroDuration()) {
    mu_.AwaitWithTimeout(absl::Condition(&cancelled_), duration);
  }
  return !cancelled_;
}

void RealSleeper::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

bool RealSleeper::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

}  // namespace autosync::worker
