// One sync run of one store: Orders, then Ads, then LTV cohorts, emitting SyncProgress events
// as it goes. Blocking (HTTP and SQL): runs on the worker's pool, never in a gRPC reaction.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "autosync/v1/sync_worker.pb.h"
#include "sync-worker/connectors/ads_client.h"
#include "sync-worker/connectors/backoff.h"
#include "sync-worker/connectors/graphql_bulk_client.h"
#include "sync-worker/connectors/http_transport.h"
#include "sync-worker/connectors/orders_client.h"
#include "sync-worker/connectors/sleeper.h"
#include "sync-worker/metrics.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker {

struct PipelineOptions {
  // Orders are re-read from (cursor - lookback): clock skew and late commits on the source side
  // cannot make us miss a change. Re-read rows that did not change write nothing.
  absl::Duration orders_lookback = absl::Minutes(5);
  int orders_page_size = 250;
  // Ad platforms restate recent days: every sync re-reads this many trailing days.
  int ads_window_days = 28;
  // The first sync of a store reads this many days of ad history.
  int ads_initial_days = 730;
  // A range longer than the trailing window (the first pull, a forced re-fetch) is read as one
  // of Meta's asynchronous report runs; one still unfinished after ads_async_timeout fails the
  // run (retryable).
  bool ads_async = true;
  absl::Duration ads_async_timeout = absl::Minutes(30);
  absl::Duration ads_async_first_poll = absl::Milliseconds(500);
  absl::Duration ads_async_max_poll = absl::Seconds(30);
  // A GraphQL store's first (or forced full) sync and its backfills read the orders through a
  // Shopify bulk operation instead of paging (graphql_bulk_client.h).
  bool graphql_bulk = true;
  // The late-change sweep: once per sweep_interval a run also re-reads the orders updated in the
  // last orders_sweep (before its cursor) and the ad days of the last ads_sweep_days, so a refund
  // or edit that became visible after the lookback passed it, and an ads restatement beyond the
  // trailing window, are picked up. Zero interval: no sweep.
  absl::Duration sweep_interval = absl::Hours(24);
  absl::Duration orders_sweep = absl::Hours(7 * 24);
  int ads_sweep_days = 90;
  // After the orders, Shopify's order destroy events since the last ones applied are read and
  // those orders removed (REST events.json, for REST and GraphQL stores alike).
  bool orders_deletions = true;
  BulkOptions bulk;
  BackoffPolicy backoff;
  OrdersClientOptions orders_client;
  AdsClientOptions ads_client;
};

using TransportFactory = std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>()>;
using EmitFn = std::function<void(const autosync::v1::SyncProgress&)>;

// Not thread-safe; one per run. `cancelled` is read at every page boundary; `sleeper` must
// be cancelled together with it so backoff waits end at once.
class SyncPipeline final {
 public:
  SyncPipeline(SyncStore& store, TransportFactory transports, Sleeper& sleeper,
               const std::atomic<bool>& cancelled, PipelineOptions options, WorkerMetrics* metrics);

  // Runs the request. Errors found before the run starts (bad store id → INVALID_ARGUMENT,
  // unknown store → NOT_FOUND, database down → UNAVAILABLE) are returned and nothing is
  // emitted. Otherwise emits STARTING, stage events, then exactly one COMPLETED or FAILED, and
  // returns OK (a failed run is reported in-stream, with a reason a person can act on).
  absl::Status Run(const autosync::v1::RunSyncRequest& request, const EmitFn& emit);

 private:
  struct RunState;
  absl::Status SyncOrders(RunState& run);
  // The orders of a full sync or a backfill through one bulk operation. `likely_new`: the
  // store has no orders of ours yet.
  absl::Status SyncOrdersBulk(RunState& run, const OrdersClientConfig& api, bool likely_new);
  // The end of the orders stage either way: its counts and duration into the metrics, then the
  // stage recorded done when `result` is OK (else `result`).
  absl::Status EndOrdersStage(RunState& run, const OrdersClientConfig& api, absl::Time stage_start,
                              absl::Status result);
  // Orders deleted at the source since the deletions cursor (Shopify's order destroy events)
  // leave `orders`; the store's first run only sets that cursor to its orders cursor.
  absl::Status SyncDeletions(RunState& run, const OrdersClientConfig& api);
  // Records that broke a business rule into quarantine and the run's counts (before the page
  // they came with is written, so the cursor never passes a record kept nowhere).
  absl::Status KeepQuarantined(RunState& run, const std::vector<QuarantinedRecord>& records);
  // Whether the late-change sweep of `kind` ("orders" | "ads") is due (PipelineOptions).
  absl::StatusOr<bool> SweepDue(const RunState& run, absl::string_view kind);
  // Records the sweep of `kind` when this run made one (`swept`).
  absl::Status EndSweep(const RunState& run, absl::string_view kind, bool swept);
  absl::Status SyncAds(RunState& run);
  // Runs an async report for [since, until] and returns its first page of rows.
  absl::StatusOr<InsightsPage> AdsReport(RunState& run, AdsClient& client, absl::CivilDay since,
                                         absl::CivilDay until);
  absl::Status SyncLtv(RunState& run);
  absl::Status CheckCancelled() const;
  // A stage's connector counts into the metrics; a deprecation notice is logged the first time
  // this process sees it for the store.
  void ReportSource(const RunState& run, absl::string_view api, const ConnectorStats& stats);

  SyncStore& store_;
  TransportFactory transports_;
  Sleeper& sleeper_;
  const std::atomic<bool>& cancelled_;
  const PipelineOptions options_;
  WorkerMetrics* metrics_;
};

// A backfill's days (YYYY-MM-DD, inclusive) as the orders' creation-time range in the store's
// time zone. INVALID_ARGUMENT for a malformed or reversed range.
absl::StatusOr<OrdersClient::CreatedRange> BackfillRange(absl::string_view from,
                                                         absl::string_view to,
                                                         absl::string_view timezone);

}  // namespace autosync::worker
