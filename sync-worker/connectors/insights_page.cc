#include "sync-worker/connectors/insights_page.h"

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "simdjson.h"
#include "sync-worker/connectors/json_util.h"
#include "sync-worker/connectors/record_rules.h"

namespace autosync::worker {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::array<absl::string_view, 3> kPurchaseActionTypes = {
    "omni_purchase", "purchase", "offsite_conversion.fb_pixel_purchase"};

absl::StatusOr<int64_t> OptionalCount(object obj, absl::string_view key, absl::string_view path) {
  std::optional<element> value = json::Member(obj, key);
  if (!value) return 0;
  return json::Count(*value, json::Path(path, key));
}

absl::StatusOr<absl::CivilDay> Day(object obj, absl::string_view key, absl::string_view path) {
  AUTOSYNC_ASSIGN_OR_RETURN(std::string text, json::String(obj, key, path));
  // Exactly YYYY-MM-DD with a year from 0001: absl::ParseCivilTime alone also reads
  // "20204-1-01" (found by tests/fuzz/insights_page_fuzz), a day the writer cannot store.
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (const size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    shape = shape && text[i] >= '0' && text[i] <= '9';
  }
  absl::CivilDay day;
  if (!shape || !absl::ParseCivilTime(text, &day) || day.year() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        json::Path(path, key), ": expected YYYY-MM-DD, got \"", text.substr(0, 40), "\""));
  }
  return day;
}

// Finds the purchase entry in an `actions`-style array ([{action_type, value}]); `as_money`
// reads the value as an amount in cents, else as a count (Meta may send "3" or "3.0").
absl::StatusOr<int64_t> PurchaseValue(object row, absl::string_view key, absl::string_view path,
                                      bool as_money) {
  std::optional<element> list_value = json::Member(row, key);
  if (!list_value) return 0;
  const std::string list_path = json::Path(path, key);
  array list;
  if (list_value->get(list) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(list_path, ": expected an array"));
  }
  for (absl::string_view wanted : kPurchaseActionTypes) {
    size_t index = 0;
    for (element entry_value : list) {
      const std::string entry_path = json::Path(list_path, index++);
      object entry;
      if (entry_value.get(entry) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat(entry_path, ": expected an object"));
      }
      AUTOSYNC_ASSIGN_OR_RETURN(std::string type, json::String(entry, "action_type", entry_path));
      if (type != wanted) continue;
      std::optional<element> value = json::Member(entry, "value");
      if (!value) return absl::InvalidArgumentError(absl::StrCat(entry_path, ".value: missing"));
      AUTOSYNC_ASSIGN_OR_RETURN(int64_t cents,
                                json::MoneyCents(*value, json::Path(entry_path, "value")));
      if (as_money) return cents;
      // Counts are whole in practice; round a fractional one (attribution models) half up.
      // A negative count is refused like every other count, and the rounding is done without
      // `cents + 50`, which overflowed on "92233720368547758.07" (tests/fuzz/insights_page_fuzz).
      if (cents < 0) {
        return absl::InvalidArgumentError(absl::StrCat(entry_path, ".value: negative count"));
      }
      return cents / 100 + (cents % 100 >= 50 ? 1 : 0);
    }
  }
  return 0;
}

absl::StatusOr<AdRow> ParseRow(element value, absl::string_view path) {
  object obj;
  if (value.get(obj) != simdjson::SUCCESS)
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected an object"));
  AdRow row;
  AUTOSYNC_ASSIGN_OR_RETURN(row.campaign_id, json::String(obj, "campaign_id", path));
  AUTOSYNC_ASSIGN_OR_RETURN(row.campaign_name, json::OptionalString(obj, "campaign_name", path));
  AUTOSYNC_ASSIGN_OR_RETURN(row.date, Day(obj, "date_start", path));
  if (json::Member(obj, "date_stop")) {
    AUTOSYNC_ASSIGN_OR_RETURN(absl::CivilDay stop, Day(obj, "date_stop", path));
    if (stop != row.date) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": date_stop differs from date_start (rows must be daily, time_increment=1)"));
    }
  }
  if (std::optional<element> spend = json::Member(obj, "spend")) {
    AUTOSYNC_ASSIGN_OR_RETURN(row.spend_cents, json::MoneyCents(*spend, json::Path(path, "spend")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(row.impressions, OptionalCount(obj, "impressions", path));
  AUTOSYNC_ASSIGN_OR_RETURN(row.clicks, OptionalCount(obj, "clicks", path));
  AUTOSYNC_ASSIGN_OR_RETURN(row.purchases, PurchaseValue(obj, "actions", path, false));
  AUTOSYNC_ASSIGN_OR_RETURN(row.purchase_value_cents,
                            PurchaseValue(obj, "action_values", path, true));
  AUTOSYNC_ASSIGN_OR_RETURN(row.currency, json::OptionalString(obj, "account_currency", path));
  return row;
}

std::optional<object> ParseObject(simdjson::dom::parser& parser, absl::string_view text) {
  absl::StatusOr<element> root = json::Parse(parser, text, "header");
  if (!root.ok()) return std::nullopt;
  object obj;
  if (root->get(obj) != simdjson::SUCCESS) return std::nullopt;
  return obj;
}

// A percentage or minute count given as a JSON number of any kind.
std::optional<double> Number(object obj, absl::string_view key) {
  std::optional<element> value = json::Member(obj, key);
  if (!value) return std::nullopt;
  double number = 0;
  if (value->is_number() && value->get(number) == simdjson::SUCCESS) return number;
  int64_t integer = 0;
  if (value->get(integer) == simdjson::SUCCESS) return static_cast<double>(integer);
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ParsedInsights> ParseInsightsPage(absl::string_view body,
                                                 const RecordScreen* screen) {
  simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(element root, json::Parse(parser, body, "insights page"));
  object root_object;
  if (root.get(root_object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("insights page: expected a JSON object");
  }
  std::optional<element> data_value = json::Member(root_object, "data");
  if (!data_value) return absl::InvalidArgumentError("insights page: no \"data\" array");
  array data;
  if (data_value->get(data) != simdjson::SUCCESS)
    return absl::InvalidArgumentError("data: expected an array");
  ParsedInsights page;
  page.rows.reserve(data.size());
  size_t index = 0;
  for (element value : data) {
    const std::string path = json::Path("data", index++);
    AUTOSYNC_ASSIGN_OR_RETURN(AdRow row, ParseRow(value, path));
    if (screen != nullptr &&
        !screen->Admit(row, path, [&] { return std::string(simdjson::minify(value)); })) {
      continue;
    }
    page.rows.push_back(std::move(row));
  }
  if (std::optional<element> paging_value = json::Member(root_object, "paging")) {
    object paging;
    if (paging_value->get(paging) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("paging: expected an object");
    }
    if (json::Member(paging, "next")) {
      AUTOSYNC_ASSIGN_OR_RETURN(std::string next, json::String(paging, "next", "paging"));
      if (!next.empty()) page.next_url = std::move(next);
    }
  }
  return page;
}

namespace {

absl::StatusOr<object> RootObject(simdjson::dom::parser& parser, absl::string_view body,
                                  absl::string_view what) {
  AUTOSYNC_ASSIGN_OR_RETURN(element root, json::Parse(parser, body, what));
  return json::Object(root, what);
}

bool AllDigits(absl::string_view text) {
  return !text.empty() && text.size() <= 30 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

absl::StatusOr<std::string> ParseReportRunId(absl::string_view body) {
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(object root, RootObject(parser, body, "async report answer"));
  std::optional<element> id = json::Member(root, "report_run_id");
  if (!id) return absl::InvalidArgumentError("report_run_id: missing");
  absl::string_view text;
  int64_t number = 0;
  std::string out;
  if (json::GetString(*id, text)) {
    out = std::string(text);
  } else if (id->get(number) == simdjson::SUCCESS && number > 0) {
    out = absl::StrCat(number);
  }
  if (!AllDigits(out)) {
    return absl::InvalidArgumentError("report_run_id: expected a string of digits");
  }
  return out;
}

absl::StatusOr<AsyncReportStatus> ParseAsyncReportStatus(absl::string_view body) {
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(object root, RootObject(parser, body, "async report status"));
  AsyncReportStatus out;
  AUTOSYNC_ASSIGN_OR_RETURN(out.id, json::String(root, "id", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(out.status, json::String(root, "async_status", ""));
  if (std::optional<element> pct = json::Member(root, "async_percent_completion")) {
    int64_t value = 0;
    double real = 0;
    if (pct->get(value) == simdjson::SUCCESS) {
      out.percent = static_cast<int>(std::clamp<int64_t>(value, 0, 100));
    } else if (pct->get(real) == simdjson::SUCCESS && real >= 0 && real <= 100) {
      out.percent = static_cast<int>(real);
    } else {
      return absl::InvalidArgumentError("async_percent_completion: expected a number 0..100");
    }
  }
  return out;
}

std::optional<MetaError> ParseMetaError(absl::string_view body) {
  simdjson::dom::parser parser;
  std::optional<object> root = ParseObject(parser, body);
  if (!root) return std::nullopt;
  std::optional<element> error_value = json::Member(*root, "error");
  object error;
  if (!error_value || error_value->get(error) != simdjson::SUCCESS) return std::nullopt;
  MetaError out;
  if (std::optional<double> code = Number(error, "code")) {
    out.code = static_cast<int64_t>(std::clamp(*code, -1e15, 1e15));
  }
  if (std::optional<double> subcode = Number(error, "error_subcode")) {
    out.subcode = static_cast<int64_t>(std::clamp(*subcode, -1e15, 1e15));
  }
  absl::string_view text;
  if (std::optional<element> message = json::Member(error, "message");
      message && json::GetString(*message, text)) {
    out.message = std::string(text);
  }
  if (std::optional<element> type = json::Member(error, "type");
      type && json::GetString(*type, text)) {
    out.type = std::string(text);
  }
  if (std::optional<element> transient = json::Member(error, "is_transient")) {
    bool flag = false;
    if (transient->get(flag) == simdjson::SUCCESS) out.is_transient = flag;
  }
  return out;
}

std::optional<BusinessUseCaseUsage> ParseBusinessUseCaseUsage(absl::string_view header) {
  if (header.empty()) return std::nullopt;
  simdjson::dom::parser parser;
  std::optional<object> root = ParseObject(parser, header);
  if (!root) return std::nullopt;
  BusinessUseCaseUsage usage;
  for (auto [business, entries_value] : *root) {
    array entries;
    if (entries_value.get(entries) != simdjson::SUCCESS) continue;
    for (element entry_value : entries) {
      object entry;
      if (entry_value.get(entry) != simdjson::SUCCESS) continue;
      for (absl::string_view key : {"call_count", "total_cputime", "total_time"}) {
        if (std::optional<double> pct = Number(entry, key)) {
          usage.max_usage_pct =
              std::max(usage.max_usage_pct, static_cast<int>(std::clamp(*pct, 0.0, 1e6)));
        }
      }
      if (std::optional<double> minutes = Number(entry, "estimated_time_to_regain_access")) {
        usage.regain_access_minutes = std::max(
            usage.regain_access_minutes, static_cast<int64_t>(std::clamp(*minutes, 0.0, 1e9)));
      }
    }
  }
  return usage;
}

std::optional<InsightsThrottle> ParseInsightsThrottle(absl::string_view header) {
  if (header.empty()) return std::nullopt;
  simdjson::dom::parser parser;
  std::optional<object> root = ParseObject(parser, header);
  if (!root) return std::nullopt;
  InsightsThrottle throttle;
  if (std::optional<double> app = Number(*root, "app_id_util_pct")) throttle.app_id_util_pct = *app;
  if (std::optional<double> acc = Number(*root, "acc_id_util_pct")) throttle.acc_id_util_pct = *acc;
  return throttle;
}

}  // namespace autosync::worker
