// The clock the schedule loop reads: an interface so unit tests drive time by hand, and the real
// one (absl::Now()).
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace autosync::scheduler {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Returns once Now() has reached `t` (at once if it has). A fake clock, moved by hand, returns
  // at once.
  virtual void SleepUntil(absl::Time t) const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepUntil(absl::Time t) const override {
    const absl::Duration left = t - absl::Now();
    if (left > absl::ZeroDuration()) absl::SleepFor(left);
  }
};

}  // namespace autosync::scheduler
