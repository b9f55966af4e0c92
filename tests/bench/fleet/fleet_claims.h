// fleet_bench --mode=claims: one large boundary with no worker, to time what happens before any
// run can start -- the claims (per tick group where migration 0006 has them, tick_claims'
// claimed_at otherwise), each store's tick recorded, and its run row queued -- on a fleet in its
// steady state (hourly stores, each with a claim of the hour before and a run history).
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace autosync::bench {

struct ClaimsOptions {
  int64_t stores = 100000;  // all on the boundary's minute
  int history_runs = 1;     // completed hourly runs of each store before the boundary
  // The minute boundary that just passed, caught up by the scheduler at start (smoke runs), or
  // the first one `margin` away.
  bool past = false;
  absl::Duration margin = absl::Seconds(15);
  absl::Duration timeout = absl::Seconds(120);  // bound on the wait for every run row
};

// Starts a cluster and a scheduler, waits for the boundary and its records; prints a summary
// and the RESULT line. 0 when every fire was recorded and its run queued.
int RunClaims(const ClaimsOptions& options);

}  // namespace autosync::bench
