#include "sync-worker/connectors/backoff.h"

#include <algorithm>
#include <cmath>

#include "absl/random/distributions.h"

namespace autosync::worker {

absl::Duration BackoffPolicy::Ceiling(int retry) const {
  const absl::Duration cap = std::max(max, absl::ZeroDuration());
  const absl::Duration base = std::clamp(initial, absl::ZeroDuration(), cap);
  if (retry <= 1 || multiplier <= 1.0) return base;
  // Work in doubles of seconds: multiplier^(retry-1) overflows int64 nanoseconds quickly, and
  // comparing against the cap before converting back keeps the result exact at the cap.
  const double seconds =
      absl::ToDoubleSeconds(base) * std::pow(multiplier, static_cast<double>(retry - 1));
  if (!std::isfinite(seconds) || seconds >= absl::ToDoubleSeconds(cap)) return cap;
  return absl::Seconds(seconds);
}

absl::Duration BackoffPolicy::Delay(int retry, absl::BitGenRef gen) const {
  const absl::Duration ceiling = Ceiling(retry);
  const int64_t ceiling_us = absl::ToInt64Microseconds(ceiling);
  if (ceiling_us <= 0) return absl::ZeroDuration();
  return absl::Microseconds(absl::Uniform<int64_t>(absl::IntervalClosedClosed, gen, 0, ceiling_us));
}

}  // namespace autosync::worker
