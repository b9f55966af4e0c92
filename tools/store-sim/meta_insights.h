// Meta's ads insights over an AdsModel: the query parameters, one page of rows with Meta's
// cursors, the error body, and async report runs with their progress. Pure functions and a
// registry without locks (the Simulator locks); the Simulator adds the routes, auth, usage
// headers, fault switches and the clock.
//
// Sync:  GET  /{vNN.0}/act_{account}/insights?fields=…&level=…&time_range=…&time_increment=…
//             &limit=…&after=… → {"data":[…],"paging":{"cursors":{"before","after"},"next"}}
// Async: POST /{vNN.0}/act_{account}/insights with the same parameters (query string and/or an
//             application/x-www-form-urlencoded body) → {"report_run_id":"<digits>"}
//        GET  /{vNN.0}/{report_run_id} → {"id","account_id","async_status" ("Job Not Started",
//             "Job Started", "Job Running", "Job Completed", "Job Failed"),
//             "async_percent_completion" 0..100,"date_start","date_stop","time_ref" (unix
//             seconds of the run),"time_completed" (unix seconds, 0 until completed)}
//        GET  /{vNN.0}/{report_run_id}/insights?limit=…&after=… → the sync page format for the
//             run's parameters, paging.next on this same path; before completion HTTP 400 code
//             100 "Report not ready: async_status is <status>".
// A report's rows are fixed when it is created (the restated trailing days use the account's
// call counter of that moment), so every page of one report agrees with the others.
// Progress over `duration` from the run: 0-10% "Job Not Started" (0%), 10-20% "Job Started",
// then "Job Running" with the elapsed percentage, "Job Completed" (100) at the end; duration 0
// completes at once. Fault switches taken at creation: fail ends "Job Failed" at 50% once half
// the duration has passed; stuck stays "Job Running" at no more than 60% forever.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/store-sim/ads_data.h"
#include "tools/store-sim/http_types.h"

namespace autosync::storesim {

inline constexpr int kDefaultInsightsLimit = 25;
inline constexpr int kMaxInsightsLimit = 500;

// One Graph API error: HTTP status and the members of {"error":{…}}.
struct MetaErrorInfo {
  int http = 400;
  std::string message;
  std::string type = "OAuthException";
  int code = 100;
  int subcode = 0;
};
// {"error":{"message","type","code"[,"error_subcode"][,"is_transient"],"fbtrace_id"}}; the trace
// id is derived from `trace`.
std::string MetaErrorJson(const MetaErrorInfo& error, uint64_t trace);

// What rows an insights request asks for.
struct InsightsQuery {
  std::string level = "account";  // or "campaign"
  int64_t since = 0;              // days since 1970-01-01, inclusive
  int64_t until = 0;
  int64_t increment = 0;  // days per row; 0 = all_days
  std::vector<std::string> fields = {"spend", "impressions"};
  std::optional<int> limit;  // as given
  // The row-defining parameters as "key=value&…", for cursor fingerprints.
  std::string normalized;
};

// Reads level, time_range (default: the 30 days before `today`), time_increment, fields and
// limit from `params` (after, before and access_token are ignored). Either a query or the
// error Meta would answer.
struct ParsedInsights {
  InsightsQuery query;
  std::optional<MetaErrorInfo> error;
};
ParsedInsights ParseInsightsQuery(const std::vector<QueryParam>& params, int64_t today);

// The page size of a request: its limit, else `fallback`. Error: not a positive integer, or
// above kMaxInsightsLimit (Meta's "reduce the amount of data", code 1, HTTP 500).
struct ParsedLimit {
  int limit = kDefaultInsightsLimit;
  std::optional<MetaErrorInfo> error;
};
ParsedLimit ParseInsightsLimit(const std::vector<QueryParam>& params, int fallback);

// Everything one page needs besides the query.
struct InsightsPageSpec {
  std::string account;
  int64_t today = 0;         // the account's current day (rows stop there)
  uint64_t call = 0;         // restatement counter for the trailing days
  uint64_t fingerprint = 0;  // binds cursors to one query (or one report)
  int limit = kDefaultInsightsLimit;
  // The ":invalid" store: at campaign level by day, the rows of today - 2 break the ad rules
  // (campaign 0: negative spend; 1: more clicks than impressions; 2: currency "XYZ") and the
  // last campaign's row of the first day with data is dated the day before the range.
  bool invalid = false;
  // paging.next is this plus "after=<cursor>": "http://host/path?" and the request's own
  // parameters but after/before, each followed by '&'.
  std::string next_prefix;
};
// The offset an `after` cursor continues from (0 without one); error: not this query's cursor.
struct ParsedOffset {
  uint64_t offset = 0;
  std::optional<MetaErrorInfo> error;
};
ParsedOffset ParseInsightsAfter(const std::vector<QueryParam>& params, uint64_t fingerprint);
// {"data":[rows offset..offset+limit),"paging":{…}} (paging only when there are rows).
std::string RenderInsightsPage(const AdsModel& ads, const InsightsQuery& query,
                               const InsightsPageSpec& spec, uint64_t offset);
// "<key>=<raw value>&" for every parameter but after and before, as paging.next echoes them.
std::string EchoParams(const std::vector<QueryParam>& params);

// One async report run.
struct ReportRun {
  std::string id;  // digits
  std::string account;
  InsightsQuery query;
  int64_t today = 0;
  uint64_t call = 0;
  absl::Time created;
  bool fail = false;
  bool stuck = false;
};
struct ReportProgress {
  std::string status;  // "Job Not Started", …
  int percent = 0;
  bool completed = false;
  int64_t time_completed = 0;  // unix seconds, when completed
};
ReportProgress ProgressOf(const ReportRun& run, absl::Time now, absl::Duration duration);
// The GET /{report_run_id} object.
std::string ReportRunJson(const ReportRun& run, const ReportProgress& progress);

// The runs of every account, the newest kKeptReportRuns. Not thread-safe (the Simulator locks).
inline constexpr size_t kKeptReportRuns = 1000;
class ReportRuns final {
 public:
  // Assigns the id; returns the stored run.
  const ReportRun& Add(ReportRun run);
  const ReportRun* Find(absl::string_view id) const;

 private:
  uint64_t next_id_ = 1'200'000'000'000'001;
  std::deque<ReportRun> runs_;  // oldest first
};

}  // namespace autosync::storesim
