// The sync-worker's Prometheus metrics (names autosync_worker_*; labels of low cardinality:
// no per-store label).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "sync-worker/connectors/connector_stats.h"

namespace autosync::worker {

// Thread-safe (prometheus-cpp metrics are; the label cache is guarded).
class WorkerMetrics final {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  void RunFinished(absl::string_view result);  // completed | failed | cancelled | rejected
  void StageDuration(absl::string_view stage, double seconds);
  void RecordsWritten(absl::string_view kind, int64_t count);  // orders | ads | cohorts
  void RecordsFetched(absl::string_view kind, int64_t count);
  // A record that broke a data rule (record_rules.h), by kind (order | ad) and rule name.
  void RecordQuarantined(absl::string_view kind, absl::string_view rule);
  // Adds what a connector did during one stage (requests by HTTP status class, retries, waits).
  // Also counts the answers that announced a deprecated API version; returns the notices this
  // process had not yet seen for `store_id` (each is logged once per store and process).
  std::vector<std::string> SourceStats(absl::string_view api, const ConnectorStats& stats,
                                       absl::string_view store_id = "");
  prometheus::Gauge& active_runs() { return *active_runs_; }

 private:
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Histogram>& stage_seconds_;
  prometheus::Family<prometheus::Counter>& written_;
  prometheus::Family<prometheus::Counter>& fetched_;
  prometheus::Family<prometheus::Counter>& quarantined_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& throttled_;
  prometheus::Family<prometheus::Counter>& paced_;
  prometheus::Family<prometheus::Counter>& deprecated_;
  absl::Mutex notices_mu_;
  // "<store>\n<notice>" already logged; bounded (a fleet of stores on old versions is one
  // operator fix, not a memory leak).
  std::set<std::string> notices_seen_ ABSL_GUARDED_BY(notices_mu_);
  prometheus::Gauge* active_runs_;
};

}  // namespace autosync::worker
