// The ads stage of SyncPipeline: the store's ad spend by day and campaign since its ads cursor,
// through a synchronous or an asynchronous insights report, written page by page.
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
#include "sync-worker/sync_pipeline.h"
#include "sync-worker/sync_run_state.h"

namespace autosync::worker {

using autosync::v1::Stage;
using autosync::v1::SyncProgress;

absl::Status SyncPipeline::SyncAds(RunState& run) {
  const absl::Time stage_start = absl::Now();
  if (absl::Status s = CheckCancelled(); !s.ok()) return s;
  if (run.store.ad_account_id.empty() || run.store.ads_api_base.empty()) {
    run.Emit(autosync::v1::STAGE_ADS, 80, "No ad account configured; ad spend skipped");
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<absl::CivilDay>> cursor = store_.AdsCursor(run.store.store_id);
  if (!cursor.ok()) return cursor.status();
  absl::TimeZone tz = absl::UTCTimeZone();
  (void)absl::LoadTimeZone(run.store.timezone, &tz);  // validated at UpsertStore; UTC if not
  const absl::CivilDay until = absl::ToCivilDay(absl::Now(), tz);
  absl::CivilDay since = until - (options_.ads_initial_days - 1);
  run.ads_sweep = !cursor->has_value() || run.request.force();  // everything: a sweep too
  if (cursor->has_value() && !run.request.force()) {
    since = std::min(**cursor, until) - (options_.ads_window_days - 1);
    absl::StatusOr<bool> due = SweepDue(run, "ads");
    if (!due.ok()) return due.status();
    if (*due && options_.ads_sweep_days > options_.ads_window_days) {
      since = std::min(since, until - (options_.ads_sweep_days - 1));
      run.ads_sweep = true;
      run.Emit(autosync::v1::STAGE_ADS, 60,
               absl::StrCat("Daily sweep: re-reading ", options_.ads_sweep_days,
                            " days of ad spend for restatements beyond the ",
                            options_.ads_window_days, "-day window"));
    }
  }

  AdsClient client({.base_url = run.store.ads_api_base,
                    .api_version = run.store.ads_api_version,
                    .ad_account_id = run.store.ad_account_id,
                    .access_token = run.credentials.ads_token},
                   *run.transport, sleeper_, options_.backoff, options_.ads_client);
  run.Emit(autosync::v1::STAGE_ADS, 60,
           absl::StrCat("Fetching ad spend from ", absl::FormatCivilTime(since), " to ",
                        absl::FormatCivilTime(until)));
  // A long range as one of Meta's async report runs; the trailing window stays synchronous.
  absl::StatusOr<InsightsPage> page =
      options_.ads_async && until - since + 1 > options_.ads_window_days
          ? AdsReport(run, client, since, until)
          : client.FirstPage(since, until);
  absl::Status result = absl::OkStatus();
  int pages = 0;
  absl::CivilDay reached = since;
  while (true) {
    if (!page.ok()) {
      result = absl::Status(page.status().code(),
                            absl::StrCat("ads page ", pages + 1, ": ", page.status().message()));
      break;
    }
    if (result = KeepQuarantined(run, page->quarantined); !result.ok()) break;
    absl::StatusOr<int64_t> written = store_.WriteAdsPage(run.store.store_id, page->rows);
    if (!written.ok()) {
      result = absl::Status(
          written.status().code(),
          absl::StrCat("writing ads page ", pages + 1, ": ", written.status().message()));
      break;
    }
    ++pages;
    for (const AdRow& row : page->rows) reached = std::max(reached, row.date);
    run.counts.set_ads_fetched(run.counts.ads_fetched() + static_cast<int64_t>(page->rows.size()));
    run.counts.set_ads_written(run.counts.ads_written() + *written);
    const double span = std::max<double>(1, until - since);
    run.Emit(autosync::v1::STAGE_ADS,
             60 + static_cast<int>(20 * std::clamp((reached - since) / span, 0.0, 1.0)),
             absl::StrFormat("Fetched %d ad rows (page %d), %d new or changed",
                             run.counts.ads_fetched(), pages, run.counts.ads_written()));
    if (!page->next_url.has_value()) break;
    if (result = CheckCancelled(); !result.ok()) break;
    page = client.NextPage(*page->next_url);
  }
  ReportSource(run, "ads", client.stats());
  if (metrics_ != nullptr) {
    metrics_->RecordsFetched("ads", run.counts.ads_fetched());
    metrics_->RecordsWritten("ads", run.counts.ads_written());
    metrics_->StageDuration("ads", absl::ToDoubleSeconds(absl::Now() - stage_start));
  }
  if (!result.ok()) return result;
  return store_.MarkStageDone(run.store.store_id, "ads", run.request.run_id(), until);
}

absl::StatusOr<InsightsPage> SyncPipeline::AdsReport(RunState& run, AdsClient& client,
                                                     absl::CivilDay since, absl::CivilDay until) {
  absl::StatusOr<std::string> id = client.StartReport(since, until);
  if (!id.ok()) return id.status();
  const absl::Time deadline = absl::Now() + options_.ads_async_timeout;
  absl::Duration interval = options_.ads_async_first_poll;
  AsyncReportStatus report;
  while (true) {
    if (!sleeper_.SleepFor(interval)) {
      return absl::CancelledError(
          absl::StrCat("ads sync cancelled while Meta prepared async report ", *id));
    }
    interval = std::min(interval * 1.5, options_.ads_async_max_poll);
    absl::StatusOr<AsyncReportStatus> polled = client.PollReport(*id);
    if (!polled.ok()) return polled.status();
    report = *std::move(polled);
    const std::string where =
        absl::StrCat("Meta's async report ", *id, " for ", absl::FormatCivilTime(since), "..",
                     absl::FormatCivilTime(until), " says \"", report.status.substr(0, 40),
                     "\" at ", report.percent, "%");
    if (report.status == "Job Completed") break;
    if (report.status == "Job Failed" || report.status == "Job Skipped") {
      return absl::UnavailableError(
          absl::StrCat(where,
                       "; the next run asks again (if it keeps failing, lower the worker's "
                       "--ads_initial_days)"));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, " after ", absl::FormatDuration(options_.ads_async_timeout),
                       "; the next run asks again"));
    }
    run.Emit(autosync::v1::STAGE_ADS, 60 + report.percent / 20,
             absl::StrCat("Meta is preparing the ad report: ", report.percent, "%"));
  }
  return client.ReportFirstPage(*id);
}

}  // namespace autosync::worker
