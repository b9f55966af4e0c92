// DispatchLimit: how many runs one scheduler replica keeps in flight, adapted to how crowded the
// machines behind the workers are. The pure decision behind RunExecutor's dispatch, unit-tested
// alone (tests/unit/scheduler-service/dispatch_limit_test.cc).
//
// Why: the workers' slots are sized for waiting on store APIs (64 a worker). When the runs are
// not waiting but competing for CPU -- PostgreSQL's above all, the same for every worker -- more
// runs in flight only make each one slower, and a person's run, first in the queue, still
// shares the crowded CPU with all of them (BENCHMARKS.md, the fleet row: 5.4x its time alone at
// 64 runs in flight, 1.6x at 16).
//
// The signal: a run's start latency, from the RunSync call to the worker's first event (the
// worker reads the store's row, then answers). It does not depend on the store's size, is a
// few ms on an idle system, and grows with every queue in front of the CPU and the database.
//
// The rule (additive increase, multiplicative decrease, as TCP's congestion control):
//  - the baseline is the lowest start latency seen in the last 10-20 minutes;
//  - congested when the recent latency (a moving average of the last ~16 starts) is above
//    kTolerance x baseline + kSlack;
//  - congested: the limit drops to 3/4, at most once per round (a round = as many starts as
//    the limit), so one burst of slow starts is one decrease;
//  - not congested and the limit was reached in the round: the limit grows by one a round --
//    by doubling until the first congestion (slow start);
//  - always within [kMinLimit, max].
// People still go first: the queue's order decides which run takes a free place under the limit.
#pragma once

#include "absl/time/time.h"

namespace autosync::scheduler {

class DispatchLimit {
 public:
  static constexpr int kMinLimit = 4;
  static constexpr double kTolerance = 2.0;
  static constexpr absl::Duration kSlack = absl::Milliseconds(10);
  static constexpr absl::Duration kBaselineWindow = absl::Minutes(10);

  // `max`: the most runs ever in flight (the replica's --max_concurrent_runs). `initial`: the
  // limit before any sample (kMinLimit..max). Start low (RunExecutor: kMinLimit): the baseline
  // is learnt from the first starts, which must not be crowded by this replica's own runs.
  DispatchLimit(int max, int initial);

  int limit() const { return limit_; }
  // Disabled: limit() is `max` whatever the samples (--adaptive_dispatch=false).
  void Disable() { limit_ = max_, disabled_ = true; }

  // One run's start latency, seen at `now`, with `in_flight` runs (itself included) of this
  // replica running when it was dispatched.
  void OnStart(absl::Duration latency, int in_flight, absl::Time now);

  absl::Duration baseline() const;
  absl::Duration recent() const { return recent_; }

 private:
  const int max_;
  const int min_;  // kMinLimit, or max when it is lower
  int limit_;
  bool disabled_ = false;
  bool slow_start_ = true;
  // Lowest latency of the current and of the previous baseline window.
  absl::Duration min_current_ = absl::InfiniteDuration();
  absl::Duration min_previous_ = absl::InfiniteDuration();
  absl::Time window_start_ = absl::InfinitePast();
  absl::Duration recent_ = absl::ZeroDuration();
  int samples_ = 0;
  // This round: starts seen, and whether one of them found the limit reached.
  int round_starts_ = 0;
  bool round_full_ = false;
  bool round_decreased_ = false;
};

}  // namespace autosync::scheduler
