// The scheduler's Prometheus metrics (autosync_scheduler_*). Labels are low-cardinality: no
// per-store label.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace autosync::scheduler {

// One enabled store's freshness, as the staleness alert needs it.
struct StoreFreshness {
  std::string store_id;
  int64_t staleness_seconds = 0;
  double last_success_unix = 0;  // 0 = never
};

// The per-store gauges autosync_scheduler_store_last_success_timestamp_seconds{store} and
// autosync_scheduler_store_staleness_threshold_seconds{store}, kept as one compact table and
// turned into the two families at scrape time. A prometheus::Gauge per store and family costs
// ~230 B with its label map and hash node (~45 MB at 100k stores, ~450 MB at 1M); a row here
// is ~48 B. Thread-safe.
class StoreFreshnessGauges final : public prometheus::Collectable {
 public:
  // The exported set becomes exactly `rows` (deleted or paused stores stop being exported).
  void Replace(std::vector<StoreFreshness> rows);
  // Moves the last success of the stores in `latest` (store id, unix seconds) forward; stores
  // not exported (deleted, paused, not loaded yet) are left out.
  void Advance(const std::vector<std::pair<std::string, double>>& latest);
  std::vector<prometheus::MetricFamily> Collect() const override;
  size_t size() const;
  // One exported store's row; nullopt when it is not exported.
  std::optional<StoreFreshness> Find(const std::string& store_id) const;

 private:
  mutable absl::Mutex mu_;
  std::vector<StoreFreshness> rows_ ABSL_GUARDED_BY(mu_);  // by store id
};

// The scheduler's registry: its families plus collectables that are not families (the per-store
// freshness table), all in one scrape. common::SerializeMetrics calls Collect() through the
// Registry base, which is virtual (prometheus::Collectable).
class SchedulerRegistry final : public prometheus::Registry {
 public:
  void AddCollectable(std::shared_ptr<const prometheus::Collectable> collectable);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> extra_ ABSL_GUARDED_BY(mu_);
};

// References into `registry`, which must outlive this object. Thread-safe (prometheus-cpp).
struct SchedulerMetrics {
  explicit SchedulerMetrics(SchedulerRegistry& registry);

  prometheus::Gauge& scheduled_stores;
  // Fires popped from this replica's schedule, by what became of the tick.
  prometheus::Counter& fires_started;
  prometheus::Counter& fires_skipped;
  prometheus::Counter& fires_lost;  // another replica claimed the tick
  prometheus::Counter& fires_error;
  prometheus::Counter& fires_recovered;  // claimed by a replica that stopped before recording
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
  std::shared_ptr<StoreFreshnessGauges> store_freshness;
  prometheus::Counter& watchers_dropped;  // finished RESOURCE_EXHAUSTED for reading too slowly
  // The run queue (fleet-wide figures, read from PostgreSQL by every replica: aggregate with
  // max). Depth by priority label ("manual", "cron", "low").
  prometheus::Gauge& queue_depth_manual;
  prometheus::Gauge& queue_depth_cron;
  prometheus::Gauge& queue_depth_low;
  prometheus::Gauge& queue_oldest_seconds;
  prometheus::Gauge& queue_overdue_runs;  // queued longer than their store's staleness
  prometheus::Counter& runs_queued;       // queued (or promoted) by this replica
  prometheus::Counter& runs_dispatched;   // handed to a worker slot by this replica
  prometheus::Gauge& worker_slots_total;  // slots of the live workers
  prometheus::Gauge& worker_slots_free;
  prometheus::Counter& worker_refusals;  // RunSync refused before it started (given back)
  prometheus::Counter& runs_pruned;      // history rows older than --run_history_days
  prometheus::Gauge& dispatch_limit;  // runs this replica keeps in flight at most (DispatchLimit)
  // RunSync opened -> the worker's first event.
  prometheus::Histogram& run_start_latency;
  prometheus::Counter& refreshes_reloaded;
  prometheus::Counter& refreshes_unchanged;
  // Notification webhooks (notifier.h), by condition ("run_failed", "data_stale") and outcome
  // ("delivered", "failed", "suppressed": within the hour of the last one, "dropped": the queue
  // was full); every combination is exported from the start.
  prometheus::Family<prometheus::Counter>& notifications;
  // Each POST, by condition and result ("2xx", "3xx", "4xx", "5xx", "timeout", "error").
  prometheus::Family<prometheus::Counter>& notification_attempts;
};

}  // namespace autosync::scheduler
