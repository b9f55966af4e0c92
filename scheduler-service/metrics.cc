#include "scheduler-service/metrics.h"

#include <algorithm>
#include <utility>

#include "prometheus/metric_type.h"

namespace autosync::scheduler {
namespace {

using prometheus::Counter;
using prometheus::Family;

Family<Counter>& Fires(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_fires_total")
      .Help(
          "Schedule fires on this replica, by outcome of the tick claim "
          "(started: a run was queued; skipped; lost to another replica; error; recovered: a "
          "claim another "
          "replica made but never recorded, recorded here)")
      .Register(r);
}
Family<Counter>& Skips(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_skips_total")
      .Help("Scheduled fires that did not sync, by reason (fresh data, overlap with a run)")
      .Register(r);
}
prometheus::Family<prometheus::Gauge>& QueueDepth(prometheus::Registry& r) {
  return prometheus::BuildGauge()
      .Name("autosync_scheduler_queue_depth")
      .Help(
          "Runs waiting in the run queue, fleet-wide, by priority (manual: people and API "
          "calls; cron; low: backfills). Every replica exports the same value: take max")
      .Register(r);
}
prometheus::Family<prometheus::Gauge>& WorkerSlots(prometheus::Registry& r) {
  return prometheus::BuildGauge()
      .Name("autosync_scheduler_worker_slots")
      .Help(
          "Run slots of the live sync-workers (total) and those not running a run (free), "
          "as of this replica's last dispatch")
      .Register(r);
}
Family<Counter>& Refreshes(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_schedule_refreshes_total")
      .Help(
          "Periodic schedule refreshes (--schedule_refresh_seconds), by outcome: reloaded "
          "(every schedule read again: a store changed, or an hour passed) or unchanged (only "
          "the completed runs since the last refresh were read)")
      .Register(r);
}
prometheus::Gauge& PlainGauge(prometheus::Registry& r, const std::string& name,
                              const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}
Counter& PlainCounter(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
Family<Counter>& Runs(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_runs_total")
      .Help(
          "Runs finished, by result (completed, failed by this replica, reaped after their "
          "owner stopped heartbeating)")
      .Register(r);
}

}  // namespace

void StoreFreshnessGauges::Replace(std::vector<StoreFreshness> rows) {
  std::sort(rows.begin(), rows.end(), [](const StoreFreshness& a, const StoreFreshness& b) {
    return a.store_id < b.store_id;
  });
  rows.shrink_to_fit();
  absl::MutexLock lock(&mu_);
  rows_.swap(rows);
}

void StoreFreshnessGauges::Advance(const std::vector<std::pair<std::string, double>>& latest) {
  absl::MutexLock lock(&mu_);
  for (const auto& [store_id, unix_seconds] : latest) {
    auto it = std::lower_bound(
        rows_.begin(), rows_.end(), store_id,
        [](const StoreFreshness& row, const std::string& id) { return row.store_id < id; });
    if (it != rows_.end() && it->store_id == store_id) {
      it->last_success_unix = std::max(it->last_success_unix, unix_seconds);
    }
  }
}

std::optional<StoreFreshness> StoreFreshnessGauges::Find(const std::string& store_id) const {
  absl::MutexLock lock(&mu_);
  auto it = std::lower_bound(
      rows_.begin(), rows_.end(), store_id,
      [](const StoreFreshness& row, const std::string& id) { return row.store_id < id; });
  if (it == rows_.end() || it->store_id != store_id) return std::nullopt;
  return *it;
}

size_t StoreFreshnessGauges::size() const {
  absl::MutexLock lock(&mu_);
  return rows_.size();
}

std::vector<prometheus::MetricFamily> StoreFreshnessGauges::Collect() const {
  std::vector<prometheus::MetricFamily> out(2);
  prometheus::MetricFamily& success = out[0];
  success.name = "autosync_scheduler_store_last_success_timestamp_seconds";
  success.help = "Unix time of the store's last successful sync (0 = never); enabled stores only";
  success.type = prometheus::MetricType::Gauge;
  prometheus::MetricFamily& threshold = out[1];
  threshold.name = "autosync_scheduler_store_staleness_threshold_seconds";
  threshold.help = "The store's staleness threshold; enabled stores only";
  threshold.type = prometheus::MetricType::Gauge;
  absl::MutexLock lock(&mu_);
  success.metric.resize(rows_.size());
  threshold.metric.resize(rows_.size());
  for (size_t i = 0; i < rows_.size(); ++i) {
    success.metric[i].label.push_back({"store", rows_[i].store_id});
    success.metric[i].gauge.value = rows_[i].last_success_unix;
    threshold.metric[i].label.push_back({"store", rows_[i].store_id});
    threshold.metric[i].gauge.value = static_cast<double>(rows_[i].staleness_seconds);
  }
  return out;
}

void SchedulerRegistry::AddCollectable(std::shared_ptr<const prometheus::Collectable> collectable) {
  absl::MutexLock lock(&mu_);
  extra_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> SchedulerRegistry::Collect() const {
  std::vector<prometheus::MetricFamily> out = prometheus::Registry::Collect();
  absl::MutexLock lock(&mu_);
  for (const auto& c : extra_) {
    for (prometheus::MetricFamily& f : c->Collect()) out.push_back(std::move(f));
  }
  return out;
}

SchedulerMetrics::SchedulerMetrics(SchedulerRegistry& registry)
    : scheduled_stores(prometheus::BuildGauge()
                           .Name("autosync_scheduler_scheduled_stores")
                           .Help("Enabled stores in this replica's schedule")
                           .Register(registry)
                           .Add({})),
      fires_started(Fires(registry).Add({{"outcome", "started"}})),
      fires_skipped(Fires(registry).Add({{"outcome", "skipped"}})),
      fires_lost(Fires(registry).Add({{"outcome", "lost"}})),
      fires_error(Fires(registry).Add({{"outcome", "error"}})),
      fires_recovered(Fires(registry).Add({{"outcome", "recovered"}})),
      skips_fresh(Skips(registry).Add({{"reason", "fresh"}})),
      skips_overlap(Skips(registry).Add({{"reason", "overlap"}})),
      runs_completed(Runs(registry).Add({{"result", "completed"}})),
      runs_failed(Runs(registry).Add({{"result", "failed"}})),
      runs_reaped(Runs(registry).Add({{"result", "reaped"}})),
      runs_in_flight(
          prometheus::BuildGauge()
              .Name("autosync_scheduler_runs_in_flight")
              .Help("Runs this replica is executing right now (taken from the queue, streaming)")
              .Register(registry)
              .Add({})),
      fire_lateness(
          prometheus::BuildHistogram()
              .Name("autosync_scheduler_fire_lateness_seconds")
              .Help("Tick claim time minus the instant the fire was due (cron boundary "
                    "plus the store's jitter)")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30, 60})),
      watchers(prometheus::BuildGauge()
                   .Name("autosync_scheduler_watchers")
                   .Help("WatchStore streams open on this replica")
                   .Register(registry)
                   .Add({})),
      store_freshness(std::make_shared<StoreFreshnessGauges>()),
      watchers_dropped(prometheus::BuildCounter()
                           .Name("autosync_scheduler_watchers_dropped_total")
                           .Help("WatchStore streams ended RESOURCE_EXHAUSTED for reading too "
                                 "slowly")
                           .Register(registry)
                           .Add({})),
      queue_depth_manual(QueueDepth(registry).Add({{"priority", "manual"}})),
      queue_depth_cron(QueueDepth(registry).Add({{"priority", "cron"}})),
      queue_depth_low(QueueDepth(registry).Add({{"priority", "low"}})),
      queue_oldest_seconds(PlainGauge(registry, "autosync_scheduler_queue_oldest_seconds",
                                      "Age of the oldest queued run (0 when the queue is empty)")),
      queue_overdue_runs(PlainGauge(registry, "autosync_scheduler_queue_overdue_runs",
                                    "Queued runs that have waited longer than their store's "
                                    "staleness threshold")),
      runs_queued(PlainCounter(registry, "autosync_scheduler_runs_queued_total",
                               "Runs this replica put in the run queue (or moved ahead)")),
      runs_dispatched(PlainCounter(registry, "autosync_scheduler_dispatched_total",
                                   "Runs this replica took from the queue for a worker slot")),
      worker_slots_total(WorkerSlots(registry).Add({{"state", "total"}})),
      worker_slots_free(WorkerSlots(registry).Add({{"state", "free"}})),
      worker_refusals(PlainCounter(registry, "autosync_scheduler_worker_refusals_total",
                                   "RunSync calls a worker refused before starting the run "
                                   "(the run went back to the queue)")),
      runs_pruned(PlainCounter(registry, "autosync_scheduler_runs_pruned_total",
                               "Run history rows deleted for being older than "
                               "--run_history_days")),
      dispatch_limit(PlainGauge(registry, "autosync_scheduler_dispatch_limit",
                                "Runs this replica keeps in flight at most: lowered while runs "
                                "start slower than usual (--adaptive_dispatch)")),
      run_start_latency(
          prometheus::BuildHistogram()
              .Name("autosync_scheduler_run_start_latency_seconds")
              .Help("From opening a run's RunSync stream to the worker's first event: the "
                    "signal behind the dispatch limit")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 0.5, 1, 2.5})),
      refreshes_reloaded(Refreshes(registry).Add({{"outcome", "reloaded"}})),
      refreshes_unchanged(Refreshes(registry).Add({{"outcome", "unchanged"}})),
      notifications(prometheus::BuildCounter()
                        .Name("autosync_scheduler_notifications_total")
                        .Help("Store notifications (webhooks), by condition (run_failed, "
                              "data_stale) and outcome (delivered; failed after its attempts "
                              "or refused; suppressed: one was sent for this store and "
                              "condition within the hour; dropped: the queue was full)")
                        .Register(registry)),
      notification_attempts(prometheus::BuildCounter()
                                .Name("autosync_scheduler_notification_attempts_total")
                                .Help("POSTs to store notification webhooks, by condition and "
                                      "result (2xx, 3xx, 4xx, 5xx, timeout, error)")
                                .Register(registry)) {
  registry.AddCollectable(store_freshness);
  for (const char* condition : {"run_failed", "data_stale"}) {
    for (const char* outcome : {"delivered", "failed", "suppressed", "dropped"}) {
      notifications.Add({{"condition", condition}, {"outcome", outcome}});
    }
  }
}

}  // namespace autosync::scheduler
