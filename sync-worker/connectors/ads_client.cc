#include "sync-worker/connectors/ads_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sync-worker/connectors/url.h"

namespace autosync::worker {
namespace {

constexpr absl::string_view kFields =
    "campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,account_currency";

bool IsThrottleCode(int64_t code) {
  return code == 4 || code == 17 || code == 613 || code == 80000;
}

bool AllOf(absl::string_view text, bool (*pred)(unsigned char)) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [pred](char c) {
    return pred(static_cast<unsigned char>(c));
  });
}

bool IsVersionChar(unsigned char c) { return absl::ascii_isalnum(c) || c == '.'; }
// Real ad account ids are digits; store-sim uses the store id. Either way the id is spliced into
// the path, so only characters that need no escaping there are accepted.
bool IsAccountChar(unsigned char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; }

absl::Status ValidateConfig(const AdsClientConfig& config) {
  if (!UrlOrigin(config.base_url) || config.base_url.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ads base URL \"", UrlWithoutQuery(config.base_url), "\" is not an http(s) URL"));
  }
  if (!AllOf(config.api_version, IsVersionChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ads API version \"", config.api_version, "\" is not like v24.0"));
  }
  if (!AllOf(config.ad_account_id, IsAccountChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ad account id \"", config.ad_account_id,
                     "\" must be letters, digits, '_' or '-' (act_ prefix optional)"));
  }
  if (config.access_token.empty()) return absl::InvalidArgumentError("ads access token is empty");
  return absl::OkStatus();
}

std::string DayString(absl::CivilDay day) { return absl::FormatCivilTime(day); }

}  // namespace

absl::Status AdsClient::CheckRange(absl::CivilDay since, absl::CivilDay until) const {
  if (!config_status_.ok()) return config_status_;
  if (until < since) {
    return absl::InvalidArgumentError(absl::StrCat("ads range ends (", DayString(until),
                                                   ") before it starts (", DayString(since), ")"));
  }
  return absl::OkStatus();
}

AdsClient::AdsClient(AdsClientConfig config, HttpTransport& transport, Sleeper& sleeper,
                     BackoffPolicy backoff, AdsClientOptions options)
    : config_(std::move(config)),
      transport_(transport),
      sleeper_(sleeper),
      backoff_(backoff),
      options_(options) {
  while (absl::EndsWith(config_.base_url, "/")) config_.base_url.pop_back();
  if (absl::StartsWith(config_.ad_account_id, "act_")) config_.ad_account_id.erase(0, 4);
  config_status_ = ValidateConfig(config_);
  if (config_status_.ok()) origin_ = *UrlOrigin(config_.base_url);
  backoff_.max_attempts = std::max(backoff_.max_attempts, 1);
}

std::string AdsClient::Redact(absl::string_view url) const {
  return RedactSecret(RedactQueryParam(url, "access_token"), config_.access_token);
}

absl::Status AdsClient::Error(absl::StatusCode code, absl::string_view message) const {
  return absl::Status(code, Redact(message));
}

bool AdsClient::Wait(absl::Duration duration) {
  stats_.waited += duration;
  return sleeper_.SleepFor(duration);
}

absl::StatusOr<InsightsPage> AdsClient::FirstPage(absl::CivilDay since, absl::CivilDay until,
                                                  int limit) {
  if (absl::Status s = CheckRange(since, until); !s.ok()) return s;
  pages_fetched_ = 0;
  range_.emplace(since, until);
  const std::string url = absl::StrCat(
      config_.base_url, "/", config_.api_version, "/act_", config_.ad_account_id, "/insights?",
      QueryParams(since, until, limit), "&access_token=", UrlEncode(config_.access_token));
  return Fetch(url, absl::StrCat("first page (", DayString(since), "..", DayString(until), ")"));
}

std::string AdsClient::QueryParams(absl::CivilDay since, absl::CivilDay until, int limit) const {
  const std::string time_range =
      absl::StrFormat(R"({"since":"%s","until":"%s"})", DayString(since), DayString(until));
  return absl::StrCat("level=campaign&time_range=", UrlEncode(time_range),
                      "&time_increment=1&fields=", kFields, "&limit=", std::max(limit, 1));
}

absl::StatusOr<std::string> AdsClient::StartReport(absl::CivilDay since, absl::CivilDay until,
                                                   int limit) {
  if (absl::Status s = CheckRange(since, until); !s.ok()) return s;
  range_.emplace(since, until);
  HttpRequest request;
  request.url = absl::StrCat(config_.base_url, "/", config_.api_version, "/act_",
                             config_.ad_account_id, "/insights");
  request.headers = {{"Accept", "application/json"},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  request.post_body = absl::StrCat(QueryParams(since, until, limit),
                                   "&access_token=", UrlEncode(config_.access_token));
  const std::string label =
      absl::StrCat("the async report (", DayString(since), "..", DayString(until), ")");
  int attempts = 0;
  int usage = 0;
  absl::StatusOr<HttpResponse> response = Exchange(std::move(request), label, &attempts, &usage);
  if (!response.ok()) return response.status();
  absl::StatusOr<std::string> id = ParseReportRunId(response->body);
  if (!id.ok()) {
    return Error(absl::StatusCode::kDataLoss, absl::StrCat("ads API returned an unreadable answer "
                                                           "to ",
                                                           label, ": ", id.status().message()));
  }
  return id;
}

absl::StatusOr<AsyncReportStatus> AdsClient::PollReport(absl::string_view report_run_id) {
  if (!config_status_.ok()) return config_status_;
  HttpRequest request;
  request.url = absl::StrCat(config_.base_url, "/", config_.api_version, "/", report_run_id,
                             "?access_token=", UrlEncode(config_.access_token));
  request.headers = {{"Accept", "application/json"}};
  const std::string label = absl::StrCat("the status of async report ", report_run_id);
  int attempts = 0;
  int usage = 0;
  absl::StatusOr<HttpResponse> response = Exchange(std::move(request), label, &attempts, &usage);
  if (!response.ok()) return response.status();
  absl::StatusOr<AsyncReportStatus> status = ParseAsyncReportStatus(response->body);
  if (!status.ok()) {
    return Error(absl::StatusCode::kDataLoss, absl::StrCat("ads API returned an unreadable ", label,
                                                           ": ", status.status().message()));
  }
  return status;
}

absl::StatusOr<InsightsPage> AdsClient::ReportFirstPage(absl::string_view report_run_id,
                                                        int limit) {
  if (!config_status_.ok()) return config_status_;
  pages_fetched_ = 0;
  return Fetch(absl::StrCat(config_.base_url, "/", config_.api_version, "/", report_run_id,
                            "/insights?limit=", std::max(limit, 1),
                            "&access_token=", UrlEncode(config_.access_token)),
               absl::StrCat("first page of async report ", report_run_id));
}

absl::StatusOr<InsightsPage> AdsClient::NextPage(absl::string_view next_url) {
  if (!config_status_.ok()) return config_status_;
  absl::StatusOr<std::string> resolved =
      ResolveSameOriginUrl(origin_, next_url, "ads API paging.next");
  if (!resolved.ok()) return Error(resolved.status().code(), resolved.status().message());
  std::string url = *std::move(resolved);
  if (!QueryParam(url, "access_token")) {
    absl::StrAppend(&url, url.find('?') == std::string::npos ? "?" : "&",
                    "access_token=", UrlEncode(config_.access_token));
  }
  const std::optional<std::string> after = QueryParam(url, "after");
  return Fetch(url, absl::StrCat("page ", pages_fetched_ + 1,
                                 " (after=", after ? after->substr(0, 60) : "none", ")"));
}

absl::StatusOr<InsightsPage> AdsClient::Fetch(const std::string& url,
                                              const std::string& page_label) {
  HttpRequest request;
  request.url = url;
  request.headers = {{"Accept", "application/json"}};
  InsightsPage page;
  absl::StatusOr<HttpResponse> response =
      Exchange(std::move(request), page_label, &page.attempts, &page.usage_pct);
  if (!response.ok()) return response.status();
  RecordScreen screen;
  screen.ad_range = range_;
  screen.page = page_label;
  screen.quarantined = &page.quarantined;
  absl::StatusOr<ParsedInsights> parsed = ParseInsightsPage(response->body, &screen);
  if (!parsed.ok()) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("ads API returned an unreadable ", page_label, ": ",
                              parsed.status().message()));
  }
  page.rows = std::move(parsed->rows);
  page.next_url = std::move(parsed->next_url);
  ++pages_fetched_;
  return page;
}

absl::StatusOr<HttpResponse> AdsClient::Exchange(HttpRequest request, const std::string& page_label,
                                                 int* attempts, int* usage_pct) {
  request.timeout = options_.request_timeout;
  // What the caller learns of this exchange, whichever way it ends.
  struct {
    int& attempts;
    int& usage_pct;
  } page{*attempts, *usage_pct};
  int failures = 0;
  int throttles = 0;
  // One place for "retry after a failure with backoff"; returns the status to give up with, or
  // OK to try again.
  auto retry_or_fail = [&](absl::StatusCode give_up_code, absl::string_view what) -> absl::Status {
    if (++failures >= backoff_.max_attempts) {
      return Error(give_up_code,
                   absl::StrCat(what, " on all ", page.attempts, " attempts; try again later"));
    }
    ++stats_.retries;
    if (!Wait(backoff_.Delay(failures, bitgen_))) {
      return Error(absl::StatusCode::kCancelled, "ads sync cancelled while waiting to retry");
    }
    return absl::OkStatus();
  };

  while (true) {
    ++page.attempts;
    absl::StatusOr<HttpResponse> response = transport_.Send(request);
    if (!response.ok()) {
      ++stats_.transport_errors;
      const absl::StatusCode code = response.status().code();
      const std::string what = absl::StrCat("ads API request for ", page_label,
                                            " failed: ", response.status().message());
      if (code != absl::StatusCode::kUnavailable && code != absl::StatusCode::kDeadlineExceeded) {
        return Error(code, what);
      }
      if (absl::Status s = retry_or_fail(code, what); !s.ok()) return s;
      continue;
    }

    const int status = response->status;
    ++stats_.requests_by_status[status];
    if (const absl::string_view served = response->Header("x-fb-api-version");
        !served.empty() && served != config_.api_version) {
      // Meta serves a call to a version past its end of life as the oldest available one.
      stats_.NoteDeprecation(absl::StrCat("Meta Graph API version ", config_.api_version,
                                          " is no longer served: Meta answered with ",
                                          served.substr(0, 32),
                                          "; move the store to a supported version"));
    }
    page.usage_pct = 0;  // the latest answer's view of the quota, not a maximum over retries
    if (std::optional<BusinessUseCaseUsage> usage =
            ParseBusinessUseCaseUsage(response->Header("x-business-use-case-usage"))) {
      page.usage_pct = usage->max_usage_pct;
    }
    if (std::optional<InsightsThrottle> throttle =
            ParseInsightsThrottle(response->Header("x-fb-ads-insights-throttle"))) {
      page.usage_pct = std::max(
          {page.usage_pct, static_cast<int>(std::clamp(throttle->app_id_util_pct, 0.0, 1e6)),
           static_cast<int>(std::clamp(throttle->acc_id_util_pct, 0.0, 1e6))});
    }

    if (status >= 200 && status < 300) return response;

    const std::optional<MetaError> error = ParseMetaError(response->body);
    const std::string answered =
        error ? absl::StrCat("ads API answered ", status, " with error ", error->code,
                             error->subcode != 0 ? absl::StrCat("/", error->subcode) : "", " for ",
                             page_label, ": ", error->message.substr(0, 300))
              : absl::StrCat("ads API answered ", status, " for ", page_label);
    if (error && IsThrottleCode(error->code)) {
      ++stats_.throttled;
      if (++throttles > options_.max_throttle_waits) {
        return Error(absl::StatusCode::kUnavailable,
                     absl::StrCat(answered, " — still throttled after ", throttles - 1,
                                  " waits; try later"));
      }
      absl::Duration wait = options_.default_throttle_wait;
      if (std::optional<BusinessUseCaseUsage> usage =
              ParseBusinessUseCaseUsage(response->Header("x-business-use-case-usage"));
          usage && usage->regain_access_minutes > 0) {
        wait = absl::Minutes(usage->regain_access_minutes);
      }
      if (!Wait(std::min(wait, options_.max_throttle_wait))) {
        return Error(absl::StatusCode::kCancelled, "ads sync cancelled while throttled");
      }
      continue;
    }
    const bool too_much_data = (error && error->code == 100 && error->subcode == 1504018) ||
                               (error && absl::StrContains(absl::AsciiStrToLower(error->message),
                                                           "reduce the amount of data"));
    if (too_much_data) {
      return Error(absl::StatusCode::kResourceExhausted,
                   absl::StrCat(answered, " — shrink the date range or the page size"));
    }
    if (error && error->code == 190) {
      return Error(absl::StatusCode::kPermissionDenied,
                   absl::StrCat(answered,
                                " — the ad account's access token is invalid or "
                                "expired: renew it"));
    }
    if (error && (error->code == 10 || (error->code >= 200 && error->code < 300))) {
      return Error(absl::StatusCode::kPermissionDenied,
                   absl::StrCat(answered, " — the token lacks ads_read permission on act_",
                                config_.ad_account_id));
    }
    const bool transient =
        status >= 500 || (error && (error->is_transient || error->code == 1 || error->code == 2));
    if (transient) {
      if (absl::Status s = retry_or_fail(absl::StatusCode::kUnavailable, answered); !s.ok()) {
        return s;
      }
      continue;
    }
    if (error && error->code == 100) {
      return Error(absl::StatusCode::kInvalidArgument,
                   absl::StrCat(answered,
                                " — the API refused the request: check the ad account "
                                "id and the date range (at most 37 months back)"));
    }
    if (status == 401 || status == 403) {
      return Error(absl::StatusCode::kPermissionDenied,
                   absl::StrCat(answered, " — check the ad account's access token"));
    }
    if (status == 404) {
      return Error(absl::StatusCode::kNotFound,
                   absl::StrCat(answered, " — check the ads base URL, API version and ad account"));
    }
    return Error(absl::StatusCode::kFailedPrecondition, answered);
  }
}

}  // namespace autosync::worker
