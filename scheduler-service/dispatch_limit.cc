#include "scheduler-service/dispatch_limit.h"

#include <algorithm>

namespace autosync::scheduler {
namespace {

// The moving average's weight of a new sample: about the last 16 starts count, so one slow start
// among fast ones is not congestion.
constexpr double kRecentWeight = 1.0 / 16;

}  // namespace

DispatchLimit::DispatchLimit(int max, int initial)
    : max_(std::max(1, max)),
      min_(std::min(kMinLimit, max_)),
      limit_(std::clamp(initial, min_, max_)) {}

absl::Duration DispatchLimit::baseline() const { return std::min(min_current_, min_previous_); }

void DispatchLimit::OnStart(absl::Duration latency, int in_flight, absl::Time now) {
  if (disabled_) return;
  latency = std::max(latency, absl::ZeroDuration());
  if (now - window_start_ >= kBaselineWindow) {
    min_previous_ = min_current_;
    min_current_ = absl::InfiniteDuration();
    window_start_ = now;
  }
  min_current_ = std::min(min_current_, latency);
  recent_ = samples_ == 0 ? latency : recent_ + (latency - recent_) * kRecentWeight;
  ++samples_;

  const bool congested = recent_ > baseline() * kTolerance + kSlack;
  round_full_ = round_full_ || in_flight >= limit_;
  ++round_starts_;
  if (congested && !round_decreased_) {
    limit_ = std::max(min_, limit_ * 3 / 4);
    slow_start_ = false;
    round_decreased_ = true;
  }
  if (round_starts_ < limit_) return;
  // The round is over.
  if (!congested && round_full_ && !round_decreased_) {
    limit_ = std::min(max_, slow_start_ ? limit_ * 2 : limit_ + 1);
  }
  round_starts_ = 0;
  round_full_ = false;
  round_decreased_ = false;
}

}  // namespace autosync::scheduler
