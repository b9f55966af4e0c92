#include "sync-worker/metrics.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace autosync::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry)
    : runs_(prometheus::BuildCounter()
                .Name("autosync_worker_runs_total")
                .Help("Sync runs finished by this worker, by result")
                .Register(registry)),
      stage_seconds_(prometheus::BuildHistogram()
                         .Name("autosync_worker_stage_duration_seconds")
                         .Help("Wall time of each sync stage (orders, ads, ltv)")
                         .Register(registry)),
      written_(prometheus::BuildCounter()
                   .Name("autosync_worker_records_written_total")
                   .Help("Rows inserted or changed in PostgreSQL, by kind")
                   .Register(registry)),
      fetched_(prometheus::BuildCounter()
                   .Name("autosync_worker_records_fetched_total")
                   .Help("Records read from the store APIs, by kind")
                   .Register(registry)),
      quarantined_(prometheus::BuildCounter()
                       .Name("autosync_worker_records_quarantined_total")
                       .Help("Records that parsed but broke a data rule, by kind and rule: kept "
                             "in quarantine, not written (GET /api/stores/:id/quarantine)")
                       .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("autosync_worker_source_requests_total")
                    .Help("HTTP requests to the store APIs, by API and status code "
                          "(code=\"error\" when no HTTP answer came)")
                    .Register(registry)),
      retries_(prometheus::BuildCounter()
                   .Name("autosync_worker_source_retries_total")
                   .Help("Store-API requests repeated after a 5xx or transport error")
                   .Register(registry)),
      throttled_(prometheus::BuildCounter()
                     .Name("autosync_worker_source_throttled_total")
                     .Help("Store-API answers that asked us to slow down (429, Meta throttles, "
                           "GraphQL THROTTLED)")
                     .Register(registry)),
      paced_(prometheus::BuildCounter()
                 .Name("autosync_worker_source_paced_total")
                 .Help("Waits before a store-API request because its rate-limit or query-cost "
                       "bucket was nearly empty (no throttle answer needed)")
                 .Register(registry)),
      deprecated_(prometheus::BuildCounter()
                      .Name("autosync_worker_source_deprecated_total")
                      .Help("Store-API answers that said the API version asked for is deprecated "
                            "or no longer served (see the worker's log for which store)")
                      .Register(registry)),
      active_runs_(&prometheus::BuildGauge()
                        .Name("autosync_worker_active_runs")
                        .Help("Sync runs executing on this worker now")
                        .Register(registry)
                        .Add({})) {}

void WorkerMetrics::RunFinished(absl::string_view result) {
  runs_.Add({{"result", std::string(result)}}).Increment();
}

void WorkerMetrics::StageDuration(absl::string_view stage, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
  stage_seconds_.Add({{"stage", std::string(stage)}}, kBuckets).Observe(seconds);
}

void WorkerMetrics::RecordsWritten(absl::string_view kind, int64_t count) {
  written_.Add({{"kind", std::string(kind)}}).Increment(static_cast<double>(count));
}

void WorkerMetrics::RecordsFetched(absl::string_view kind, int64_t count) {
  fetched_.Add({{"kind", std::string(kind)}}).Increment(static_cast<double>(count));
}

void WorkerMetrics::RecordQuarantined(absl::string_view kind, absl::string_view rule) {
  quarantined_.Add({{"kind", std::string(kind)}, {"rule", std::string(rule)}}).Increment();
}

std::vector<std::string> WorkerMetrics::SourceStats(absl::string_view api,
                                                    const ConnectorStats& stats,
                                                    absl::string_view store_id) {
  const std::string api_label(api);
  for (const auto& [code, n] : stats.requests_by_status) {
    requests_.Add({{"api", api_label}, {"code", absl::StrCat(code)}})
        .Increment(static_cast<double>(n));
  }
  if (stats.transport_errors > 0) {
    requests_.Add({{"api", api_label}, {"code", "error"}})
        .Increment(static_cast<double>(stats.transport_errors));
  }
  retries_.Add({{"api", api_label}}).Increment(static_cast<double>(stats.retries));
  throttled_.Add({{"api", api_label}}).Increment(static_cast<double>(stats.throttled));
  paced_.Add({{"api", api_label}}).Increment(static_cast<double>(stats.pacing_waits));
  std::vector<std::string> fresh;
  if (stats.deprecated_answers == 0) return fresh;
  deprecated_.Add({{"api", api_label}}).Increment(static_cast<double>(stats.deprecated_answers));
  absl::MutexLock lock(&notices_mu_);
  for (const std::string& notice : stats.deprecation_notices) {
    if (notices_seen_.size() >= 100000) break;
    if (notices_seen_.insert(absl::StrCat(store_id, "\n", notice)).second) {
      fresh.push_back(notice);
    }
  }
  return fresh;
}

}  // namespace autosync::worker
