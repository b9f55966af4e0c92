// The scheduler's Prometheus metrics (autosync_scheduler_*). Labels are low-cardinality: no
// per-store label.
#pragma once

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace autosync::scheduler {

// References into `registry`, which must outlive this object. Thread-safe (prometheus-cpp).
struct SchedulerMetrics {
  explicit SchedulerMetrics(prometheus::Registry& registry);

  prometheus::Gauge& scheduled_stores;
  // Fires popped from this replica's schedule, by what became of the tick.
  prometheus::Counter& fires_started;
  prometheus::Counter& fires_skipped;
  prometheus::Counter& fires_lost;  // another replica claimed the tick
  prometheus::Counter& fires_error;
  prometheus::Counter& skips_fresh;
  prometheus::Counter& skips_overlap;
  prometheus::Counter& runs_completed;
  prometheus::Counter& runs_failed;
  prometheus::Counter& runs_reaped;
  prometheus::Gauge& runs_in_flight;
  // Claim time minus the instant the fire was due (its cron boundary plus the store's jitter).
  prometheus::Histogram& fire_lateness;
  prometheus::Gauge& watchers;
  // Per-store (the one documented per-store label, for AutosyncStoreDataStale): the last
  // successful sync (unix seconds, 0 = never) and the store's staleness threshold. Enabled
  // stores only; every replica exports them, so alerts take max by (store).
  prometheus::Family<prometheus::Gauge>& store_last_success;
  prometheus::Family<prometheus::Gauge>& store_staleness_threshold;
  prometheus::Counter& watchers_dropped;  // finished RESOURCE_EXHAUSTED for reading too slowly
};

}  // namespace autosync::scheduler
