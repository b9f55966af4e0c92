#include "sync-worker/connectors/orders_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/link_header.h"
#include "sync-worker/connectors/url.h"

namespace autosync::worker {
namespace {

constexpr int kMaxLimit = 250;

// Version segments are "2024-01" or "unstable"; anything else would be spliced into the path.
bool IsValidApiVersion(absl::string_view version) {
  return !version.empty() && std::all_of(version.begin(), version.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

absl::Status ValidateConfig(const OrdersClientConfig& config) {
  if (!UrlOrigin(config.base_url)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "orders base URL \"", UrlWithoutQuery(config.base_url), "\" is not an http(s) URL"));
  }
  if (config.base_url.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError("orders base URL must not carry a query or fragment");
  }
  if (!IsValidApiVersion(config.api_version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("orders API version \"", config.api_version, "\" is not like 2024-01"));
  }
  if (config.access_token.empty()) {
    return absl::InvalidArgumentError("orders access token is empty");
  }
  return absl::OkStatus();
}

// "32/40" → {32, 40}; nullopt when absent or malformed.
std::optional<std::pair<int, int>> ParseCallLimit(absl::string_view header) {
  const size_t slash = header.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  int used = 0;
  int max = 0;
  if (!absl::SimpleAtoi(header.substr(0, slash), &used) ||
      !absl::SimpleAtoi(header.substr(slash + 1), &max) || used < 0 || max <= 0) {
    return std::nullopt;
  }
  return std::make_pair(used, max);
}

// Retry-After as seconds, fractional allowed ("2.0"); nullopt when absent or not a number
// (the HTTP-date form is not used by this API).
std::optional<absl::Duration> ParseRetryAfter(absl::string_view header) {
  double seconds = 0;
  if (header.empty() || !absl::SimpleAtod(header, &seconds) || !(seconds >= 0) || seconds > 86400) {
    return std::nullopt;
  }
  return absl::Seconds(seconds);
}

}  // namespace

OrdersClient::OrdersClient(OrdersClientConfig config, HttpTransport& transport, Sleeper& sleeper,
                           BackoffPolicy backoff, OrdersClientOptions options)
    : config_(std::move(config)),
      transport_(transport),
      sleeper_(sleeper),
      backoff_(backoff),
      options_(options) {
  while (absl::EndsWith(config_.base_url, "/")) config_.base_url.pop_back();
  config_status_ = ValidateConfig(config_);
  if (config_status_.ok()) origin_ = *UrlOrigin(config_.base_url);
  backoff_.max_attempts = std::max(backoff_.max_attempts, 1);
}

std::string OrdersClient::FirstPageUrl(absl::Time updated_at_min, int limit,
                                       std::optional<CreatedRange> created) const {
  limit = std::clamp(limit, 1, kMaxLimit);
  // UTC with a "Z" keeps the value free of '+', which a server would read as a space if sent raw;
  // UrlEncode escapes the ':' as well, which every server accepts.
  auto utc = [](absl::Time t) {
    return UrlEncode(absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone()));
  };
  std::string url = absl::StrCat(config_.base_url, "/admin/api/", config_.api_version,
                                 "/orders.json?status=any&limit=", limit,
                                 "&updated_at_min=", utc(updated_at_min));
  if (created.has_value()) {
    absl::StrAppend(&url, "&created_at_min=", utc(created->min),
                    "&created_at_max=", utc(created->max));
  }
  absl::StrAppend(&url, "&order=updated_at%20asc");
  return url;
}

absl::StatusOr<OrdersPage> OrdersClient::FirstPage(absl::Time updated_at_min, int limit,
                                                   std::optional<CreatedRange> created) {
  if (!config_status_.ok()) return config_status_;
  pages_fetched_ = 0;
  return Fetch(
      FirstPageUrl(updated_at_min, limit, created),
      absl::StrCat("first page (updated_at_min=",
                   absl::FormatTime(absl::RFC3339_sec, updated_at_min, absl::UTCTimeZone()), ")"));
}

absl::StatusOr<OrdersPage> OrdersClient::NextPage(absl::string_view next_url) {
  if (!config_status_.ok()) return config_status_;
  absl::StatusOr<std::string> resolved =
      ResolveSameOriginUrl(origin_, next_url, "orders API next-page link");
  if (!resolved.ok()) return Error(resolved.status().code(), resolved.status().message());
  std::string url = *std::move(resolved);
  const std::optional<std::string> page_info = PageInfoFromUrl(url);
  return Fetch(url, absl::StrCat("page ", pages_fetched_ + 1, " (page_info=",
                                 page_info ? page_info->substr(0, 60) : "none", ")"));
}

absl::StatusOr<DeletionsPage> OrdersClient::FirstDeletionsPage(absl::Time created_at_min) {
  if (!config_status_.ok()) return config_status_;
  const std::string since =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", created_at_min, absl::UTCTimeZone());
  return FetchDeletions(absl::StrCat(config_.base_url, "/admin/api/", config_.api_version,
                                     "/events.json?filter=Order&verb=destroy&limit=", kMaxLimit,
                                     "&created_at_min=", UrlEncode(since)),
                        absl::StrCat("deletion events since ", since));
}

absl::StatusOr<DeletionsPage> OrdersClient::NextDeletionsPage(absl::string_view next_url) {
  if (!config_status_.ok()) return config_status_;
  absl::StatusOr<std::string> resolved =
      ResolveSameOriginUrl(origin_, next_url, "orders API events next-page link");
  if (!resolved.ok()) return Error(resolved.status().code(), resolved.status().message());
  return FetchDeletions(*resolved, "the next page of deletion events");
}

absl::StatusOr<DeletionsPage> OrdersClient::FetchDeletions(const std::string& url,
                                                           const std::string& label) {
  HttpRequest request;
  request.url = url;
  OrdersPage exchange;  // attempts and call limit
  absl::StatusOr<HttpResponse> response = Exchange(std::move(request), label, &exchange);
  if (!response.ok()) return response.status();
  absl::StatusOr<std::vector<OrderDeletion>> deletions = ParseOrderDeletions(response->body);
  if (!deletions.ok()) {
    return Error(absl::StatusCode::kDataLoss, absl::StrCat("orders API returned unreadable ", label,
                                                           ": ", deletions.status().message()));
  }
  absl::StatusOr<std::optional<std::string>> next = NextLink(*response, label);
  if (!next.ok()) return next.status();
  DeletionsPage page;
  page.deletions = *std::move(deletions);
  page.next = *std::move(next);
  page.attempts = exchange.attempts;
  return page;
}

absl::StatusOr<std::optional<std::string>> OrdersClient::NextLink(const HttpResponse& response,
                                                                  const std::string& label) const {
  absl::StatusOr<PageLinks> links = ParsePageLinks(response.JoinedHeader("link"));
  if (!links.ok()) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("orders API returned an unreadable Link header on ", label, ": ",
                              links.status().message()));
  }
  return std::move(links->next);
}

void OrdersClient::NoteDeprecation(const HttpResponse& response) {
  const absl::string_view reason = response.Header("x-shopify-api-deprecated-reason");
  const absl::string_view served = response.Header("x-shopify-api-version");
  const bool other_version = !served.empty() && served != config_.api_version;
  if (reason.empty() && !other_version) return;
  std::string notice = absl::StrCat("Shopify API version ", config_.api_version);
  if (other_version) {
    absl::StrAppend(&notice, " is no longer served: Shopify answered with ", served.substr(0, 32));
  } else {
    absl::StrAppend(&notice, " (or a field the query uses) is deprecated");
  }
  if (!reason.empty()) absl::StrAppend(&notice, " (", reason.substr(0, 200), ")");
  absl::StrAppend(&notice, "; move the store to a supported version");
  stats_.NoteDeprecation(std::move(notice));
}

bool OrdersClient::Wait(absl::Duration duration) {
  stats_.waited += duration;
  return sleeper_.SleepFor(duration);
}

absl::Status OrdersClient::Error(absl::StatusCode code, absl::string_view message) const {
  return absl::Status(code, RedactSecret(message, config_.access_token));
}

absl::StatusOr<OrdersPage> OrdersClient::Fetch(const std::string& url,
                                               const std::string& page_label) {
  HttpRequest request;
  request.url = url;
  OrdersPage page;
  absl::StatusOr<HttpResponse> response = Exchange(std::move(request), page_label, &page);
  if (!response.ok()) return response.status();
  RecordScreen screen;
  screen.now = absl::Now();
  screen.options = options_.rules;
  screen.page = page_label;
  screen.quarantined = &page.quarantined;
  absl::StatusOr<std::vector<Order>> orders = ParseOrdersPage(response->body, &screen);
  if (!orders.ok()) {
    return Error(absl::StatusCode::kDataLoss,
                 absl::StrCat("orders API returned an unreadable ", page_label, ": ",
                              orders.status().message()));
  }
  absl::StatusOr<std::optional<std::string>> next = NextLink(*response, page_label);
  if (!next.ok()) return next.status();
  page.orders = *std::move(orders);
  page.next = *std::move(next);
  ++pages_fetched_;
  return page;
}

absl::StatusOr<HttpResponse> OrdersClient::Exchange(HttpRequest request,
                                                    const std::string& page_label,
                                                    OrdersPage* page) {
  if (!config_status_.ok()) return config_status_;
  if (pace_before_next_ > absl::ZeroDuration()) {
    ++stats_.pacing_waits;
    const absl::Duration pace = std::exchange(pace_before_next_, absl::ZeroDuration());
    if (!Wait(pace)) return Error(absl::StatusCode::kCancelled, "orders sync cancelled");
  }
  request.headers.insert(request.headers.begin(), {{"X-Shopify-Access-Token", config_.access_token},
                                                   {"Accept", "application/json"}});
  request.timeout = options_.request_timeout;

  int failures = 0;
  int throttles = 0;
  while (true) {
    ++page->attempts;
    absl::StatusOr<HttpResponse> response = transport_.Send(request);
    if (!response.ok()) {
      ++stats_.transport_errors;
      const absl::StatusCode code = response.status().code();
      const bool retryable =
          code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
      if (!retryable) {
        return Error(code, absl::StrCat("orders API request for ", page_label,
                                        " failed: ", response.status().message()));
      }
      if (++failures >= backoff_.max_attempts) {
        return Error(
            code, absl::StrCat("orders API unreachable for ", page_label, " after ", page->attempts,
                               " attempts: ", response.status().message()));
      }
      ++stats_.retries;
      if (!Wait(backoff_.Delay(failures, bitgen_))) {
        return Error(absl::StatusCode::kCancelled, "orders sync cancelled while waiting to retry");
      }
      continue;
    }

    const int status = response->status;
    ++stats_.requests_by_status[status];
    NoteDeprecation(*response);
    if (std::optional<std::pair<int, int>> limit =
            ParseCallLimit(response->Header("x-shopify-shop-api-call-limit"))) {
      page->call_limit_used = limit->first;
      page->call_limit_max = limit->second;
      const bool nearly_full = static_cast<int64_t>(limit->first) * 100 >=
                               static_cast<int64_t>(limit->second) * options_.pacing_threshold_pct;
      pace_before_next_ = nearly_full ? absl::Seconds(20.0 / limit->second) : absl::ZeroDuration();
    }

    if (status >= 200 && status < 300) return *std::move(response);

    const std::string detail = ShopifyErrorText(response->body);
    const std::string answered =
        absl::StrCat("orders API answered ", status, " for ", page_label,
                     detail.empty() ? "" : " (", detail, detail.empty() ? "" : ")");
    if (status == 429) {
      ++stats_.throttled;
      if (++throttles > options_.max_throttle_waits) {
        return Error(absl::StatusCode::kUnavailable,
                     absl::StrCat(answered, ": still rate-limited after ", throttles - 1,
                                  " waits; another client may be using this store's API quota"));
      }
      const absl::Duration wait = std::min(
          ParseRetryAfter(response->Header("retry-after")).value_or(options_.default_retry_after),
          options_.max_retry_after);
      pace_before_next_ = absl::ZeroDuration();
      if (!Wait(wait)) {
        return Error(absl::StatusCode::kCancelled, "orders sync cancelled while rate-limited");
      }
      continue;
    }
    if (status == 401) {
      return Error(absl::StatusCode::kPermissionDenied,
                   absl::StrCat(answered, ": check the store's access token"));
    }
    if (status == 402) {
      return Error(absl::StatusCode::kFailedPrecondition,
                   absl::StrCat(answered, ": the shop is frozen or unpaid (Payment Required)"));
    }
    if (status == 403) {
      return Error(absl::StatusCode::kPermissionDenied,
                   absl::StrCat(answered, ": the app lacks the read_orders scope for this store"));
    }
    if (status == 404) {
      return Error(absl::StatusCode::kNotFound,
                   absl::StrCat(answered, ": check the store's orders base URL (", config_.base_url,
                                ") and API version (", config_.api_version, ")"));
    }
    if (status >= 500) {
      if (++failures >= backoff_.max_attempts) {
        return Error(absl::StatusCode::kUnavailable,
                     absl::StrCat(answered, " on all ", page->attempts,
                                  " attempts; the store API is failing, try again later"));
      }
      ++stats_.retries;
      // A 503 may say when to come back (maintenance); otherwise jittered backoff.
      const absl::Duration wait = ParseRetryAfter(response->Header("retry-after"))
                                      .value_or(backoff_.Delay(failures, bitgen_));
      if (!Wait(std::min(wait, options_.max_retry_after))) {
        return Error(absl::StatusCode::kCancelled, "orders sync cancelled while waiting to retry");
      }
      continue;
    }
    return Error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat(answered, ": the request was refused; check the API version"));
  }
}

}  // namespace autosync::worker
