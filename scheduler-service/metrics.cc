#include "scheduler-service/metrics.h"

#include <utility>

#include "prometheus/metric_type.h"

namespace autosync::scheduler {
namespace {

using prometheus::Counter;
using prometheus::Family;

Family<Counter>& Fires(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_fires_total")
      .Help("Schedule fires on this replica, by outcome of the tick claim "
            "(started, skipped, lost to another replica, error; recovered: a claim another "
            "replica made but never recorded, recorded here)")
      .Register(r);
}
Family<Counter>& Skips(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_skips_total")
      .Help("Scheduled fires that did not sync, by reason (fresh data, overlap with a run)")
      .Register(r);
}
Family<Counter>& Runs(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("autosync_scheduler_runs_total")
      .Help("Runs finished, by result (completed, failed by this replica, reaped after their "
            "owner stopped heartbeating)")
      .Register(r);
}

}  // namespace

void StoreFreshnessGauges::Replace(std::vector<StoreFreshness> rows) {
  absl::MutexLock lock(&mu_);
  rows_ = std::move(rows);
  rows_.shrink_to_fit();
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
      runs_in_flight(prometheus::BuildGauge()
                         .Name("autosync_scheduler_runs_in_flight")
                         .Help("Runs this replica owns right now (queued or streaming)")
                         .Register(registry)
                         .Add({})),
      fire_lateness(prometheus::BuildHistogram()
                        .Name("autosync_scheduler_fire_lateness_seconds")
                        .Help("Tick claim time minus the instant the fire was due (cron boundary "
                              "plus the store's jitter)")
                        .Register(registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{
                                     0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                     60})),
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
                           .Add({})) {
  registry.AddCollectable(store_freshness);
}

}  // namespace autosync::scheduler
