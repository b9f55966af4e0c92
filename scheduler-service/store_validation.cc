#include "scheduler-service/store_validation.h"

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ids.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::Store;

std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

std::string Quote(absl::string_view text) {
  const bool cut = text.size() > 64;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, 64)), cut ? "…" : "", "\"");
}

bool HasControlChars(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max) {
  if (value.size() > max) return Invalid(field, absl::StrCat("is longer than ", max, " bytes"));
  if (HasControlChars(value)) return Invalid(field, "contains control characters");
  return absl::OkStatus();
}

// http(s)://host[:port][/path], no user info (a password in a URL would be a secret in the
// registry: `secret_field` is where it belongs), no whitespace, no query or fragment. With
// `loopback_http_only`, http:// is accepted only for a loopback host (a webhook carries signed
// events: in clear only to this machine).
absl::Status CheckUrl(absl::string_view field, absl::string_view url,
                      absl::string_view secret_field, bool loopback_http_only) {
  if (url.empty()) return absl::OkStatus();
  if (url.size() > 512) return Invalid(field, "is longer than 512 bytes");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Invalid(field, "contains whitespace or control characters");
    }
  }
  absl::string_view rest = url;
  const bool https = absl::ConsumePrefix(&rest, "https://");
  if (!https && !absl::ConsumePrefix(&rest, "http://")) {
    return Invalid(field, absl::StrCat(Quote(url), " must start with ",
                                       loopback_http_only
                                           ? "https:// (or http:// to 127.0.0.1, [::1], localhost)"
                                           : "http:// or https://"));
  }
  const size_t slash = rest.find('/');
  const absl::string_view authority = rest.substr(0, slash);
  if (absl::StrContains(authority, '@')) {
    return Invalid(field, absl::StrCat("must not contain user credentials; use ", secret_field));
  }
  if (authority.empty() || authority.front() == ':') {
    return Invalid(field, absl::StrCat(Quote(url), " has no host"));
  }
  if (absl::StrContains(url, '?') || absl::StrContains(url, '#')) {
    return Invalid(field, absl::StrCat(Quote(url), " must not have a query or fragment"));
  }
  if (loopback_http_only && !https) {
    // The host without its port: "[::1]:8080" -> "[::1]", "127.0.0.1:80" -> "127.0.0.1".
    absl::string_view host = authority;
    if (absl::StartsWith(host, "[")) {
      host = host.substr(
          0, host.find(']') == absl::string_view::npos ? host.size() : host.find(']') + 1);
    } else {
      host = host.substr(0, host.find(':'));
    }
    const std::string lower = absl::AsciiStrToLower(host);
    if (lower != "127.0.0.1" && lower != "[::1]" && lower != "localhost") {
      return Invalid(field, absl::StrCat(Quote(url),
                                         " must use https:// (http:// only to "
                                         "127.0.0.1, [::1] or localhost)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckApiBase(absl::string_view field, absl::string_view url) {
  return CheckUrl(field, url, "credentials_ref", /*loopback_http_only=*/false);
}

absl::Status CheckToken(absl::string_view field, absl::string_view value, size_t max) {
  if (value.size() > max) return Invalid(field, absl::StrCat("is longer than ", max, " bytes"));
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return Invalid(field, absl::StrCat(Quote(value),
                                         " may only contain A-Z, a-z, 0-9, '.', "
                                         "'-', '_'"));
    }
  }
  return absl::OkStatus();
}

// Never quotes the value: a caller who pasted the token itself here must not see it echoed
// into logs or error messages.
absl::Status CheckSecretRef(absl::string_view field, absl::string_view ref) {
  if (ref.empty()) return absl::OkStatus();
  if (ref.size() > 512) return Invalid(field, "is longer than 512 bytes");
  absl::string_view rest = ref;
  if (absl::ConsumePrefix(&rest, "env:")) {
    bool ok = !rest.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(rest[0]));
    for (char c : rest) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') ok = false;
    }
    if (!ok) return Invalid(field, "env:NAME needs a variable name of A-Z, a-z, 0-9 and '_'");
    return absl::OkStatus();
  }
  if (absl::ConsumePrefix(&rest, "file:")) {
    if (rest.empty() || rest.front() != '/') {
      return Invalid(field, "file: needs an absolute path (file:/path)");
    }
    if (HasControlChars(rest)) return Invalid(field, "the file path contains control characters");
    if (absl::StrContains(rest, "/../") || absl::EndsWith(rest, "/..")) {
      return Invalid(field, "the file path must not contain \"..\"");
    }
    return absl::OkStatus();
  }
  return Invalid(field,
                 "must be a reference to the secret, env:NAME or file:/path, never the secret "
                 "itself");
}

absl::Status CheckStaleness(absl::string_view field, int64_t seconds) {
  if (seconds < 0) return Invalid(field, "must not be negative");
  if (seconds > 365LL * 86400) return Invalid(field, "must be at most one year (31536000)");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NormalizeSchedule(absl::string_view expr, absl::string_view field) {
  if (expr.size() > kMaxCronExpressionLength) {
    return Invalid(field, absl::StrCat("is longer than ", kMaxCronExpressionLength, " bytes"));
  }
  std::string out(absl::StripAsciiWhitespace(expr));
  if (absl::StatusOr<CronSchedule> s = ParseFiringSchedule(out, field); !s.ok()) {
    return s.status();
  }
  return out;
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1'000'000;
  int64_t rem = micros % 1'000'000;
  if (rem < 0) {
    rem += 1'000'000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string FormatLocal(absl::Time t, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, tz);
}

absl::StatusOr<CronSchedule> ParseFiringSchedule(absl::string_view expr, absl::string_view field) {
  if (absl::StripAsciiWhitespace(expr).empty()) return Invalid(field, "is empty");
  absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(Std(expr));
  if (!schedule.ok()) return Invalid(field, schedule.status().message());
  // A fixed instant makes the answer independent of today's date; UTC has no gaps.
  absl::StatusOr<absl::Time> next =
      schedule->NextAfter(absl::FromUnixSeconds(1'704'067'200), absl::UTCTimeZone());
  if (!next.ok()) {
    return Invalid(field, absl::StrCat(Quote(expr), " never fires (no date matches all fields)"));
  }
  return schedule;
}

absl::StatusOr<absl::TimeZone> LoadZoneForField(absl::string_view name, absl::string_view field) {
  absl::StatusOr<absl::TimeZone> tz = LoadZone(Std(name));
  if (!tz.ok()) return Invalid(field, tz.status().message());
  return tz;
}

absl::StatusOr<Store> NormalizeStore(const Store& in, const StoreDefaults& defaults) {
  Store out = in;
  out.clear_created_at();
  out.clear_updated_at();
  out.clear_version();
  if (absl::Status s = common::ValidateStoreId(in.store_id()); !s.ok()) return s;
  if (absl::Status s = CheckText("display_name", in.display_name(), 200); !s.ok()) return s;
  // Orders: `schedule`, else the default. Ads: `ads_schedule`, else `schedule` when that was
  // given (the one-schedule API), else the ads default.
  const bool orders_given = !absl::StripAsciiWhitespace(in.schedule()).empty();
  const bool ads_given = !absl::StripAsciiWhitespace(in.ads_schedule()).empty();
  absl::StatusOr<std::string> orders =
      NormalizeSchedule(orders_given ? in.schedule() : defaults.schedule, "schedule");
  if (!orders.ok()) return orders.status();
  out.set_schedule(*orders);
  absl::StatusOr<std::string> ads =
      ads_given ? NormalizeSchedule(in.ads_schedule(), "ads_schedule")
                : absl::StatusOr<std::string>(orders_given ? *orders : defaults.ads_schedule);
  if (!ads.ok()) return ads.status();
  out.set_ads_schedule(*ads);
  if (in.timezone().empty()) out.set_timezone(defaults.timezone);
  if (absl::StatusOr<absl::TimeZone> tz = LoadZoneForField(out.timezone(), "timezone"); !tz.ok()) {
    return tz.status();
  }
  if (absl::Status s = CheckStaleness("staleness_seconds", in.staleness_seconds()); !s.ok()) {
    return s;
  }
  if (in.staleness_seconds() == 0) out.set_staleness_seconds(defaults.staleness_seconds);
  if (absl::Status s = CheckStaleness("ads_staleness_seconds", in.ads_staleness_seconds());
      !s.ok()) {
    return s;
  }
  if (in.ads_staleness_seconds() == 0) out.set_ads_staleness_seconds(defaults.staleness_seconds);
  if (in.jitter_seconds() < 0 || in.jitter_seconds() > kMaxJitterSeconds) {
    return Invalid("jitter_seconds", absl::StrCat("must be between 0 and ", kMaxJitterSeconds));
  }
  if (absl::Status s = CheckApiBase("orders_api_base", in.orders_api_base()); !s.ok()) return s;
  if (absl::Status s = CheckApiBase("ads_api_base", in.ads_api_base()); !s.ok()) return s;
  if (in.orders_api().empty()) out.set_orders_api(defaults.orders_api);
  if (out.orders_api() != "rest" && out.orders_api() != "graphql") {
    return Invalid("orders_api",
                   absl::StrCat(Quote(in.orders_api()), " must be \"rest\" or \"graphql\""));
  }
  if (in.orders_api_version().empty()) out.set_orders_api_version(kDefaultShopifyVersion);
  if (absl::Status s = CheckToken("orders_api_version", out.orders_api_version(), 32); !s.ok()) {
    return s;
  }
  if (in.ads_api_version().empty()) out.set_ads_api_version(kDefaultMetaVersion);
  if (absl::Status s = CheckToken("ads_api_version", out.ads_api_version(), 32); !s.ok()) {
    return s;
  }
  // Meta account ids are digits; store-sim names accounts after stores, so letters, '_' and '-'
  // pass too. Anything that could change the request path does not.
  absl::string_view account = in.ad_account_id();
  if (absl::StartsWith(account, "act_")) account.remove_prefix(4);
  if (account.size() > 64) return Invalid("ad_account_id", "is longer than 64 characters");
  for (char c : account) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return Invalid("ad_account_id", absl::StrCat(Quote(in.ad_account_id()),
                                                   " may only contain A-Z, a-z, 0-9, '_', '-' "
                                                   "(an optional act_ prefix is dropped)"));
    }
  }
  out.set_ad_account_id(std::string(account));
  if (absl::Status s = CheckSecretRef("credentials_ref", in.credentials_ref()); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckUrl("notify_webhook_url", in.notify_webhook_url(), "notify_secret_ref",
                                /*loopback_http_only=*/true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSecretRef("notify_secret_ref", in.notify_secret_ref()); !s.ok()) {
    return s;
  }
  if (!in.notify_webhook_url().empty() && in.notify_secret_ref().empty()) {
    return Invalid("notify_secret_ref",
                   "is required with notify_webhook_url (env:NAME or file:/path of the HMAC key)");
  }
  if (absl::Status s = CheckText("pause_note", in.pause_note(), 500); !s.ok()) return s;
  return out;
}

absl::StatusOr<BackfillRange> ParseBackfillRange(absl::string_view from, absl::string_view to) {
  if (from.empty() && to.empty()) return BackfillRange{};
  absl::CivilDay days[2];
  const absl::string_view values[2] = {from, to};
  const absl::string_view fields[2] = {"backfill_from", "backfill_to"};
  for (int i = 0; i < 2; ++i) {
    const absl::string_view v = values[i];
    if (v.empty()) {
      return Invalid(fields[i], absl::StrCat("is missing (a backfill needs both ", fields[0],
                                             " and ", fields[1], ")"));
    }
    // Exactly YYYY-MM-DD, a real date (ParseCivilTime normalizes 2024-02-30 silently).
    if (v.size() != 10 || !absl::ParseCivilTime(v, &days[i]) ||
        absl::FormatCivilTime(days[i]) != v) {
      return Invalid(fields[i], absl::StrCat(Quote(v), " is not a date YYYY-MM-DD"));
    }
    if (days[i].year() < 2000 || days[i].year() > 2100) {
      return Invalid(fields[i], "must be between 2000-01-01 and 2100-12-31");
    }
  }
  if (days[1] < days[0]) return Invalid("backfill_to", "is before backfill_from");
  if (days[1] - days[0] >= kMaxBackfillDays) {
    return Invalid("backfill_to",
                   absl::StrCat("is more than ", kMaxBackfillDays, " days after backfill_from"));
  }
  return BackfillRange{std::string(from), std::string(to)};
}

absl::Duration JitterFor(absl::string_view store_id, int64_t jitter_seconds) {
  if (jitter_seconds <= 0) return absl::ZeroDuration();
  // FNV-1a 64: stable across processes and builds (std::hash is not).
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : store_id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::Seconds(static_cast<int64_t>(h % static_cast<uint64_t>(jitter_seconds)));
}

absl::StatusOr<autosync::v1::PreviewScheduleResponse> PreviewSchedule(
    const autosync::v1::PreviewScheduleRequest& request, absl::Time now) {
  if (request.schedule().size() > kMaxCronExpressionLength) {
    return Invalid("schedule", absl::StrCat("is longer than ", kMaxCronExpressionLength, " bytes"));
  }
  absl::StatusOr<CronSchedule> schedule = ParseFiringSchedule(request.schedule(), "schedule");
  if (!schedule.ok()) return schedule.status();
  absl::StatusOr<absl::TimeZone> tz = LoadZoneForField(request.timezone(), "timezone");
  if (!tz.ok()) return tz.status();
  int count = request.count();
  if (count == 0) count = kDefaultPreviewCount;
  if (count < 1 || count > kMaxPreviewCount) {
    return Invalid("count", absl::StrCat("must be between 1 and ", kMaxPreviewCount));
  }
  absl::Time from = now;
  if (request.has_from()) {
    const auto& ts = request.from();
    // Timestamp's documented range: 0001-01-01 to 9999-12-31.
    if (ts.seconds() < -62135596800LL || ts.seconds() > 253402300799LL || ts.nanos() < 0 ||
        ts.nanos() > 999'999'999) {
      return Invalid("from", "is not a valid timestamp");
    }
    from = FromProto(ts);
  }
  absl::StatusOr<std::vector<absl::Time>> fires = NextFires(*schedule, *tz, from, count);
  if (!fires.ok()) {
    if (absl::IsNotFound(fires.status())) {
      return Invalid("schedule", absl::StrCat("does not fire within ", kCronSearchHorizonYears,
                                              " years of from"));
    }
    return Invalid("from", fires.status().message());
  }
  autosync::v1::PreviewScheduleResponse response;
  for (absl::Time t : *fires) {
    autosync::v1::FireTime* fire = response.add_fires();
    ToProto(t, fire->mutable_utc());
    fire->set_local(FormatLocal(t, *tz));
  }
  return response;
}

}  // namespace autosync::scheduler
