// The Meta Marketing API insights body (level=campaign, time_increment=1) parsed into one row
// per campaign and day, plus Meta's error bodies and rate-limit headers (see
// /work/shared/STORE-APIS.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace autosync::worker {

struct RecordScreen;  // record_rules.h

struct AdRow {
  std::string campaign_id;
  std::string campaign_name;
  absl::CivilDay date;  // date_start, in the ad account's time zone
  int64_t spend_cents = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  // From `actions` / `action_values`, taking the first present of the action types "omni_purchase",
  // "purchase", "offsite_conversion.fb_pixel_purchase" — they overlap, so summing would double
  // count.
  int64_t purchases = 0;
  int64_t purchase_value_cents = 0;
  std::string currency;  // account_currency
};

struct ParsedInsights {
  std::vector<AdRow> rows;
  std::optional<std::string> next_url;  // paging.next; absent on the last page
};

// DATA_LOSS when the body is not complete JSON; INVALID_ARGUMENT naming the field and row index
// ("data[2].spend: …") when a row has the wrong shape. Missing metrics count as 0 (Meta omits
// zero metrics on some rows); campaign_id and date_start are required. A row whose date_stop
// differs from date_start is refused: we ask for time_increment=1, so it means the API ignored us.
// With a `screen`, a row breaking a business rule is quarantined instead (record_rules.h).
absl::StatusOr<ParsedInsights> ParseInsightsPage(absl::string_view body,
                                                 const RecordScreen* screen = nullptr);

// {"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}.
struct MetaError {
  int64_t code = 0;
  int64_t subcode = 0;
  std::string message;
  std::string type;
  bool is_transient = false;
};

// An async insights report run (POST /act_<id>/insights → {"report_run_id"}; GET /<id>).
struct AsyncReportStatus {
  std::string id;
  // "Job Not Started", "Job Started", "Job Running", "Job Completed", "Job Failed", "Job Skipped"
  std::string status;
  int percent = 0;  // async_percent_completion, 0..100
};
// {"report_run_id": "<digits>"}: the id. INVALID_ARGUMENT when missing or not digits.
absl::StatusOr<std::string> ParseReportRunId(absl::string_view body);
// GET /<report_run_id>'s answer. DATA_LOSS when not JSON, INVALID_ARGUMENT naming the field.
absl::StatusOr<AsyncReportStatus> ParseAsyncReportStatus(absl::string_view body);

// The error object of a Meta error body, or nullopt when the body is not one.
std::optional<MetaError> ParseMetaError(absl::string_view body);

// The `x-business-use-case-usage` header: the highest usage percentage over every business and
// type it lists, and the longest `estimated_time_to_regain_access` (minutes).
struct BusinessUseCaseUsage {
  int max_usage_pct = 0;  // max of call_count, total_cputime, total_time
  int64_t regain_access_minutes = 0;
};
std::optional<BusinessUseCaseUsage> ParseBusinessUseCaseUsage(absl::string_view header);

// The `x-fb-ads-insights-throttle` header: {"app_id_util_pct":…,"acc_id_util_pct":…}.
struct InsightsThrottle {
  double app_id_util_pct = 0;
  double acc_id_util_pct = 0;
};
std::optional<InsightsThrottle> ParseInsightsThrottle(absl::string_view header);

}  // namespace autosync::worker
