// Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): the n-th retry waits a uniformly random time in [0, min(max, initial *
// multiplier^(n-1))], which spreads retries of many workers apart better than a fixed or
// equal-jitter delay.
#pragma once

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace autosync::worker {

struct BackoffPolicy {
  absl::Duration initial = absl::Milliseconds(500);
  absl::Duration max = absl::Seconds(30);
  double multiplier = 2.0;
  // Total tries of one request, the first included: 5 means at most 4 retries.
  int max_attempts = 5;

  // The upper bound of the delay before retry number `retry` (1 = the first retry):
  // min(max, initial * multiplier^(retry-1)); never negative, never overflowing.
  absl::Duration Ceiling(int retry) const;

  // A random delay in [0, Ceiling(retry)]. Pure apart from the generator.
  absl::Duration Delay(int retry, absl::BitGenRef gen) const;
};

}  // namespace autosync::worker
