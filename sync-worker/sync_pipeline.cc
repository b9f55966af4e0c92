// SyncPipeline (sync_pipeline.h): one run, start to end: the request checked, the store's
// configuration and credentials loaded, then the stages in order and the run's end reported. The
// stages are in their own files: orders and deletions (sync_orders.cc), the GraphQL bulk
// download (sync_orders_bulk.cc), ad spend (sync_ads.cc); the LTV stage is here.
#include "sync-worker/sync_pipeline.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "sync-worker/connectors/ads_client.h"
#include "sync-worker/connectors/graphql_orders_client.h"
#include "sync-worker/connectors/orders_client.h"
#include "sync-worker/sync_run_state.h"

namespace autosync::worker {

using autosync::v1::Stage;
using autosync::v1::SyncProgress;

SyncPipeline::SyncPipeline(SyncStore& store, TransportFactory transports, Sleeper& sleeper,
                           const std::atomic<bool>& cancelled, PipelineOptions options,
                           WorkerMetrics* metrics)
    : store_(store),
      transports_(std::move(transports)),
      sleeper_(sleeper),
      cancelled_(cancelled),
      options_(options),
      metrics_(metrics) {}

absl::StatusOr<OrdersClient::CreatedRange> BackfillRange(absl::string_view from,
                                                         absl::string_view to,
                                                         absl::string_view timezone) {
  absl::CivilDay days[2];
  const absl::string_view values[2] = {from, to};
  const absl::string_view fields[2] = {"backfill_from", "backfill_to"};
  for (int i = 0; i < 2; ++i) {
    if (values[i].size() != 10 || !absl::ParseCivilTime(values[i], &days[i]) ||
        absl::FormatCivilTime(days[i]) != values[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(fields[i], ": is not a date YYYY-MM-DD (both are needed)"));
    }
  }
  if (days[1] < days[0]) {
    return absl::InvalidArgumentError("backfill_to: is before backfill_from");
  }
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!timezone.empty() && !absl::LoadTimeZone(std::string(timezone), &tz)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store's time zone \"", timezone, "\" is unknown to this worker"));
  }
  // Whole local days: from the first day's midnight to the last instant before the day after.
  return OrdersClient::CreatedRange{absl::FromCivil(days[0], tz),
                                    absl::FromCivil(days[1] + 1, tz) - absl::Seconds(1)};
}

void SyncPipeline::ReportSource(const RunState& run, absl::string_view api,
                                const ConnectorStats& stats) {
  if (metrics_ == nullptr) return;
  for (const std::string& notice : metrics_->SourceStats(api, stats, run.store.store_id)) {
    common::LogWarn(notice, {{"store", run.store.store_id}, {"api", api}});
  }
}

absl::Status SyncPipeline::CheckCancelled() const {
  if (cancelled_.load()) {
    return absl::CancelledError(
        "the run was cancelled; every page committed so far is kept and the next run resumes "
        "from the stored cursor");
  }
  return absl::OkStatus();
}

absl::Status SyncPipeline::Run(const autosync::v1::RunSyncRequest& request, const EmitFn& emit) {
  if (absl::Status s = common::ValidateStoreId(request.store_id()); !s.ok()) return s;
  RunState run;
  run.request = request;
  if (run.request.run_id().empty()) run.request.set_run_id(common::NewRunId());
  if (absl::Status s = common::ValidateRunId(run.request.run_id()); !s.ok()) return s;
  run.emit = &emit;
  run.started = absl::Now();

  if (!request.data_types().empty()) {
    run.orders = run.ads = false;
    for (const std::string& type : request.data_types()) {
      bool& flag = type == "orders" ? run.orders : run.ads;
      if ((type != "orders" && type != "ads") || flag) {
        return absl::InvalidArgumentError(absl::StrCat(
            "data_types: \"", type.substr(0, 40), "\" is unknown or repeated (use orders, ads)"));
      }
      flag = true;
    }
  }

  absl::StatusOr<StoreConfig> store = store_.LoadStore(request.store_id());
  if (!store.ok()) return store.status();
  run.store = *std::move(store);
  if (!request.backfill_from().empty() || !request.backfill_to().empty()) {
    absl::StatusOr<OrdersClient::CreatedRange> range =
        BackfillRange(request.backfill_from(), request.backfill_to(), run.store.timezone);
    if (!range.ok()) return range.status();
    run.backfill = *range;
    run.orders = true;
    run.ads = false;
  }

  std::string what = run.orders && run.ads ? "orders, ads" : run.orders ? "orders" : "ads";
  if (run.backfill.has_value()) {
    what = absl::StrCat("orders created ", request.backfill_from(), " to ", request.backfill_to(),
                        " (backfill)");
  }
  run.Emit(autosync::v1::STAGE_STARTING, 0,
           absl::StrCat("Starting sync of ", run.store.store_id, ": ", what,
                        request.force() ? " (full re-fetch)" : ""));

  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<Credentials> credentials = ResolveCredentials(run.store.credentials_ref);
    if (!credentials.ok()) return credentials.status();
    run.credentials = *std::move(credentials);
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport = transports_();
    if (!transport.ok()) return transport.status();
    run.transport = *std::move(transport);
    if (run.orders) {
      if (absl::Status s = SyncOrders(run); !s.ok()) return s;
      if (absl::Status s = EndSweep(run, "orders", run.orders_sweep); !s.ok()) return s;
    }
    if (run.ads) {
      if (absl::Status s = SyncAds(run); !s.ok()) return s;
      if (absl::Status s = EndSweep(run, "ads", run.ads_sweep); !s.ok()) return s;
    }
    // Every run recomputes the cohorts (incrementally: customers whose orders did not change
    // cost nothing), so a run that follows one cut off before its LTV stage completes it.
    return SyncLtv(run);
  }();

  const double seconds = absl::ToDoubleSeconds(absl::Now() - run.started);
  if (status.ok()) {
    const int64_t quarantined = run.counts.orders_quarantined() + run.counts.ads_quarantined();
    run.Emit(
        autosync::v1::STAGE_COMPLETED, 100,
        absl::StrCat(
            absl::StrFormat("Sync completed%s in %.1fs: %d orders written, %d ad rows "
                            "written, %d cohort rows",
                            quarantined > 0 ? " with warnings" : "", seconds,
                            run.counts.orders_written(), run.counts.ads_written(),
                            run.counts.cohort_rows()),
            quarantined > 0
                ? absl::StrFormat("; %d orders and %d ad rows broke a data rule and are in "
                                  "quarantine, not in the figures",
                                  run.counts.orders_quarantined(), run.counts.ads_quarantined())
                : ""));
    if (metrics_ != nullptr) metrics_->RunFinished("completed");
  } else {
    const bool cancelled = status.code() == absl::StatusCode::kCancelled;
    // Causes that pass on their own (the source or the database was unavailable, timed out
    // or throttled past its budget): the scheduler queues a retry with backoff. Bad
    // credentials, unknown shops and pages that do not parse need a person instead.
    const bool retryable = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kDeadlineExceeded ||
                           status.code() == absl::StatusCode::kResourceExhausted ||
                           status.code() == absl::StatusCode::kAborted;
    run.Emit(autosync::v1::STAGE_FAILED, 100, cancelled ? "Sync cancelled" : "Sync failed",
             std::string(status.message()), retryable && !cancelled);
    if (metrics_ != nullptr) metrics_->RunFinished(cancelled ? "cancelled" : "failed");
  }
  return absl::OkStatus();
}

absl::Status SyncPipeline::SyncLtv(RunState& run) {
  const absl::Time stage_start = absl::Now();
  if (absl::Status s = CheckCancelled(); !s.ok()) return s;
  run.Emit(autosync::v1::STAGE_LTV, 80, "Recomputing LTV cohorts");
  absl::StatusOr<int64_t> rows = store_.RecomputeLtv(run.store.store_id, run.store.timezone);
  if (!rows.ok()) {
    return absl::Status(rows.status().code(),
                        absl::StrCat("recomputing LTV cohorts: ", rows.status().message()));
  }
  run.counts.set_cohort_rows(*rows);
  run.Emit(autosync::v1::STAGE_LTV, 98, absl::StrFormat("Wrote %d cohort rows", *rows));
  if (metrics_ != nullptr) {
    metrics_->RecordsWritten("cohorts", *rows);
    metrics_->StageDuration("ltv", absl::ToDoubleSeconds(absl::Now() - stage_start));
  }
  return store_.MarkStageDone(run.store.store_id, "ltv", run.request.run_id(), std::nullopt);
}

}  // namespace autosync::worker
