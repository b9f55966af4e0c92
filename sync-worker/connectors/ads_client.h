// Reads daily campaign insights from a Meta-Marketing-style API
// (GET {base}/{version}/act_{account}/insights), following paging.next, backing off on throttles.
// Works against https://graph.facebook.com and store-sim (http://127.0.0.1:8090) alike.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/backoff.h"
#include "sync-worker/connectors/connector_stats.h"
#include "sync-worker/connectors/http_transport.h"
#include "sync-worker/connectors/insights_page.h"
#include "sync-worker/connectors/record_rules.h"
#include "sync-worker/connectors/sleeper.h"

namespace autosync::worker {

struct AdsClientConfig {
  std::string base_url = "https://graph.facebook.com";
  std::string api_version = "v24.0";
  // "1234567890" (store-sim: the store id); an "act_" prefix is accepted and dropped.
  std::string ad_account_id;
  std::string access_token;  // sent as the access_token query parameter; redacted everywhere
};

struct AdsClientOptions {
  absl::Duration request_timeout = absl::Seconds(60);
  // Throttle answers (codes 4, 17, 613, 80000) tolerated for one page before UNAVAILABLE.
  int max_throttle_waits = 8;
  // Wait after a throttle answer: x-business-use-case-usage's estimated_time_to_regain_access
  // (minutes) when it is positive, else default_throttle_wait; either way at most
  // max_throttle_wait.
  absl::Duration default_throttle_wait = absl::Seconds(60);
  absl::Duration max_throttle_wait = absl::Minutes(5);
};

struct InsightsPage {
  std::vector<AdRow> rows;
  std::optional<std::string> next_url;  // paging.next (carries the token: never log it raw)
  int attempts = 0;                     // HTTP requests this page took
  // Highest usage % in the last answer's x-business-use-case-usage / x-fb-ads-insights-throttle.
  int usage_pct = 0;
  // Rows that parsed but broke a business rule (record_rules.h); not in `rows`.
  std::vector<QuarantinedRecord> quarantined;
};

// Contract:
// - FirstPage requests level=campaign, time_range={"since","until"} (URL-encoded JSON),
//   time_increment=1, the fields AdRow needs, `limit`, and access_token; NextPage follows
//   paging.next, adding access_token when the link lacks it. A next link to another
//   scheme/host/port than base_url is refused (FAILED_PRECONDITION).
// - Throttles (codes 4, 17, 613, 80000) wait as AdsClientOptions says, then retry.
// - "Too much data" (code 100 / subcode 1504018, or any error whose message asks to "reduce the
//   amount of data") → RESOURCE_EXHAUSTED, not retried: the caller should shrink the date range
//   or the page size and try again.
// - Code 190 (token invalid/expired) → PERMISSION_DENIED; 10 and 200–299 (permissions) →
//   PERMISSION_DENIED; other code 100 → INVALID_ARGUMENT (e.g. data older than 37 months).
// - 5xx, transient errors (codes 1, 2, or is_transient) and transport errors are retried with
//   BackoffPolicy up to max_attempts, then UNAVAILABLE (or DEADLINE_EXCEEDED).
// - A 2xx body that does not parse → DATA_LOSS; a cancelled wait → CANCELLED.
// - A row that parses but breaks a business rule (record_rules.h: a negative metric, a date
//   outside the range asked for, …) is left out of `rows` and listed in `quarantined`.
// - An answer whose x-fb-api-version is not the version asked for (Meta upgrades calls to a
//   version past its end of life) is counted in stats() with what it said.
// - The token never appears in a returned message: URLs are redacted (access_token=REDACTED)
//   and any occurrence of the token in server text is replaced.
// Not thread-safe: one client per run. The transport and sleeper must outlive it.
class AdsClient {
 public:
  AdsClient(AdsClientConfig config, HttpTransport& transport, Sleeper& sleeper,
            BackoffPolicy backoff = {}, AdsClientOptions options = {});

  absl::StatusOr<InsightsPage> FirstPage(absl::CivilDay since, absl::CivilDay until,
                                         int limit = 500);
  absl::StatusOr<InsightsPage> NextPage(absl::string_view next_url);

  // Meta's asynchronous insights for a long range (the first 730-day pull, a forced re-fetch):
  // the same query as FirstPage POSTed as a report run; its status polled; its rows then read
  // page by page (ReportFirstPage, then NextPage as for a synchronous read). Errors as above.
  absl::StatusOr<std::string> StartReport(absl::CivilDay since, absl::CivilDay until,
                                          int limit = 500);
  absl::StatusOr<AsyncReportStatus> PollReport(absl::string_view report_run_id);
  absl::StatusOr<InsightsPage> ReportFirstPage(absl::string_view report_run_id, int limit = 500);

  const ConnectorStats& stats() const { return stats_; }

  // `url` with the access token redacted, for logs.
  std::string Redact(absl::string_view url) const;

 private:
  absl::StatusOr<InsightsPage> Fetch(const std::string& url, const std::string& page_label);
  // The configuration's error, or INVALID_ARGUMENT for a range that ends before it starts.
  absl::Status CheckRange(absl::CivilDay since, absl::CivilDay until) const;
  // One request under the contract above: the 2xx answer, or the error it maps to.
  absl::StatusOr<HttpResponse> Exchange(HttpRequest request, const std::string& label,
                                        int* attempts, int* usage_pct);
  // level, time_range, time_increment, fields and limit, URL-encoded.
  std::string QueryParams(absl::CivilDay since, absl::CivilDay until, int limit) const;
  bool Wait(absl::Duration duration);
  absl::Status Error(absl::StatusCode code, absl::string_view message) const;

  AdsClientConfig config_;
  absl::Status config_status_;
  std::string origin_;
  HttpTransport& transport_;
  Sleeper& sleeper_;
  BackoffPolicy backoff_;
  AdsClientOptions options_;
  absl::BitGen bitgen_;
  ConnectorStats stats_;
  int pages_fetched_ = 0;
  // The range of the last FirstPage or StartReport: the rows of its pages must fall within it.
  std::optional<std::pair<absl::CivilDay, absl::CivilDay>> range_;
};

}  // namespace autosync::worker
