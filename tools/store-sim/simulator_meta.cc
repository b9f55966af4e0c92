// Simulator's Meta routes: sync insights and async report runs, with auth, usage headers, fault
// switches and the clock.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/graphql_orders.h"
#include "tools/store-sim/meta_insights.h"
#include "tools/store-sim/orders_query.h"
#include "tools/store-sim/rng.h"
#include "tools/store-sim/simulator_internal.h"

namespace autosync::storesim {

// ---------------------------------------------------------------------------------------------
// Meta: sync insights and async report runs (meta_insights.h holds the API; here: the routes,
// auth, usage headers, fault switches and the clock)

namespace {

// "Sunday, 06-Dec-26 10:00:00 PST", the way Graph API error messages print times.
std::string PacificTime(absl::Time t) {
  return absl::FormatTime("%A, %d-%b-%y %H:%M:%S PST", t, absl::FixedTimeZone(-8 * 3600));
}

}  // namespace

Response Simulator::HandleMeta(const Request& request, const ParsedTarget& target,
                               const std::vector<std::string>& parts) {
  enum class Route { kInsights, kReportStatus, kReportInsights };
  const std::string& version = parts[0];
  Route route = Route::kInsights;
  const ReportRun* run = nullptr;
  std::string account;
  if (parts.size() == 3 && parts[2] == "insights" && absl::StartsWith(parts[1], "act_")) {
    account = parts[1].substr(4);
  } else {
    route = parts.size() == 2 ? Route::kReportStatus : Route::kReportInsights;
    run = reports_.Find(parts[1]);
    if (run != nullptr) account = run->account;
  }
  StoreState* store = account.empty() ? nullptr : Find(account);
  const uint64_t trace = MixKeys(cursor_secret_, store != nullptr ? store->insights_calls : 0,
                                 Fnv1a64(request.target));
  const absl::Time now = clock_->Now();
  bool throttled = false;
  auto with_usage = [&](Response r) {
    double pct = 0;
    if (store != nullptr) {
      if (store->ads_usage_at != absl::InfinitePast()) {
        double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - store->ads_usage_at));
        store->ads_usage_pct = std::max(0.0, store->ads_usage_pct - elapsed * (5.0 / 60.0));
      }
      store->ads_usage_at = now;
      pct = store->ads_usage_pct;
    }
    int call_count = throttled ? 100 : static_cast<int>(std::lround(pct));
    r.SetHeader(
        "x-business-use-case-usage",
        absl::StrCat("{\"", account, "\":[{\"type\":\"ads_insights\",\"call_count\":", call_count,
                     ",\"total_cputime\":", call_count / 2, ",\"total_time\":", call_count / 2,
                     ",\"estimated_time_to_regain_access\":", throttled ? 5 : 0, "}]}"));
    r.SetHeader("x-fb-ads-insights-throttle",
                absl::StrCat("{\"app_id_util_pct\":", throttled ? 100 : call_count / 2,
                             ",\"acc_id_util_pct\":", call_count,
                             ",\"ads_api_access_tier\":\"standard_access\"}"));
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    // The version that served it: an older one than the sim's oldest is served as that.
    if (IsGraphVersion(version)) {
      r.SetHeader("x-fb-api-version",
                  GraphVersionMajor(version) < GraphVersionMajor(config_.meta_oldest_version)
                      ? config_.meta_oldest_version
                      : version);
    }
    return r;
  };
  auto error = [&](const MetaErrorInfo& e) {
    return with_usage(JsonResponse(e.http, MetaErrorJson(e, trace)));
  };
  auto error_of = [&](int http, absl::string_view message, absl::string_view type, int code,
                      int sub) {
    return error(MetaErrorInfo{http, std::string(message), std::string(type), code, sub});
  };

  // The query string's parameters, then a form body's (a later key wins, as for repeated keys).
  std::vector<QueryParam> params = target.params;
  const bool create = route == Route::kInsights && request.method == "POST";
  if (create && !request.body.empty()) {
    auto form = ParseTarget(absl::StrCat("/?", request.body));
    if (!form.ok()) {
      return error_of(400, "(#100) The request body is not application/x-www-form-urlencoded",
                      "OAuthException", 100, 0);
    }
    params.insert(params.end(), form->params.begin(), form->params.end());
  }
  auto param = [&](absl::string_view key) {
    std::optional<std::string> found;
    for (const QueryParam& p : params) {
      if (p.key == key) found = p.value;
    }
    return found;
  };

  if (request.method != "GET" && !create) {
    return error_of(400,
                    "Unsupported request method (store-sim serves GET insights and report runs, "
                    "and POST insights to start a report run)",
                    "OAuthException", 100, 0);
  }
  if (!IsGraphVersion(version)) {
    return error_of(400, absl::StrCat("Unknown path components: /", version), "OAuthException",
                    2500, 0);
  }
  if (faults_.TakeAdsTokenExpired()) {
    return error_of(400,
                    absl::StrCat("Error validating access token: Session has expired on Sunday, "
                                 "06-Dec-26 10:00:00 PST. The current time is ",
                                 PacificTime(now), "."),
                    "OAuthException", 190, 463);
  }
  std::optional<std::string> token = param("access_token");
  if (!token) {
    if (auto auth = request.Header("Authorization"); auth && absl::StartsWith(*auth, "Bearer ")) {
      token = auth->substr(7);
    }
  }
  if (!token) {
    return error_of(400, "An access token is required to request this resource.", "OAuthException",
                    104, 0);
  }
  if (*token != config_.access_token) {
    return error_of(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException",
                    190, 0);
  }
  if (store == nullptr) {
    return error_of(400,
                    absl::StrCat("Unsupported get request. Object with ID '", parts[1],
                                 "' does not exist, cannot be loaded due to missing permissions, "
                                 "or does not support this operation."),
                    "GraphMethodException", 100, 33);
  }
  if (route != Route::kReportStatus && faults_.TakeAdsThrottle()) {
    throttled = true;
    return error_of(400,
                    "(#80000) There have been too many calls from this ad-account. Wait a bit and "
                    "try again. For more info, please refer to "
                    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                    "OAuthException", 80000, 2446079);
  }
  if (int code = faults_.Next5xx(); code != 0) {
    return code == 500 ? error_of(500, "An unknown error occurred", "OAuthException", 1, 99)
                       : error_of(503, "Service temporarily unavailable", "OAuthException", 2, 0);
  }
  store->ads_usage_pct = std::min(100.0, store->ads_usage_pct + 0.5);
  const absl::Duration job_duration = absl::Milliseconds(config_.ads_async_ms);

  if (route == Route::kReportStatus) {
    return with_usage(JsonResponse(200, ReportRunJson(*run, ProgressOf(*run, now, job_duration))));
  }
  InsightsPageSpec spec;
  spec.account = account;
  spec.invalid = store->data.spec().invalid;
  const InsightsQuery* query = nullptr;
  ParsedInsights parsed;
  if (route == Route::kReportInsights) {
    ReportProgress progress = ProgressOf(*run, now, job_duration);
    if (!progress.completed) {
      return error_of(400, absl::StrCat("Report not ready: async_status is ", progress.status),
                      "OAuthException", 100, 0);
    }
    ParsedLimit limit =
        ParseInsightsLimit(params, run->query.limit.value_or(kDefaultInsightsLimit));
    if (limit.error) return error(*limit.error);
    query = &run->query;
    spec.today = run->today;
    spec.call = run->call;
    spec.limit = limit.limit;
    spec.fingerprint =
        MixKeys(cursor_secret_, Fnv1a64(absl::StrCat("report:", run->id)), Fnv1a64(account));
    spec.next_prefix =
        absl::StrCat("http://", HostOf(request), "/", version, "/", run->id, "/insights?");
  } else {
    const int off = store->data.spec().utc_offset_minutes;
    spec.today = FloorDiv(store->data.now() + int64_t{off} * 60, 86400);
    parsed = ParseInsightsQuery(params, spec.today);
    if (parsed.error) return error(*parsed.error);
    if (create) {
      ReportRun next;
      next.account = account;
      next.query = parsed.query;
      next.today = spec.today;
      next.call = ++store->insights_calls;  // the report's rows are fixed from now on
      next.created = now;
      next.fail = faults_.TakeAdsAsyncFail();
      next.stuck = !next.fail && faults_.TakeAdsAsyncStuck();
      const ReportRun& added = reports_.Add(std::move(next));
      return with_usage(JsonResponse(200, absl::StrCat("{\"report_run_id\":\"", added.id, "\"}")));
    }
    query = &parsed.query;
    spec.limit = parsed.query.limit.value_or(kDefaultInsightsLimit);
    // Fingerprint of the query, so an `after` cursor only works with the query that made it.
    spec.fingerprint = MixKeys(cursor_secret_, Fnv1a64(parsed.query.normalized), Fnv1a64(account));
    spec.next_prefix =
        absl::StrCat("http://", HostOf(request), "/", version, "/act_", account, "/insights?");
  }
  ParsedOffset offset = ParseInsightsAfter(params, spec.fingerprint);
  if (offset.error) return error(*offset.error);
  if (route == Route::kInsights) spec.call = ++store->insights_calls;
  spec.next_prefix += EchoParams(params);
  Response r =
      with_usage(JsonResponse(200, RenderInsightsPage(store->ads, *query, spec, offset.offset)));
  ApplyPageFault(faults_.NextPage(), "{\"data\":[{\"spend\":\"12.3\",}]]<html>garbage", r);
  return r;
}

}  // namespace autosync::storesim
