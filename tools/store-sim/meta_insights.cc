#include "tools/store-sim/meta_insights.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

std::optional<std::string> Param(const std::vector<QueryParam>& params, absl::string_view key) {
  std::optional<std::string> found;
  for (const QueryParam& p : params) {
    if (p.key == key) found = p.value;
  }
  return found;
}

MetaErrorInfo Error(absl::string_view message, int subcode = 0) {
  MetaErrorInfo e;
  e.message = std::string(message);
  e.subcode = subcode;
  return e;
}

std::string EncodeCursor(uint64_t position, uint64_t fingerprint) {
  std::string raw;
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>((position >> (8 * i)) & 0xff));
  uint64_t tag = MixKeys(fingerprint, position);
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((tag >> (8 * i)) & 0xff));
  return absl::WebSafeBase64Escape(raw);
}

std::optional<uint64_t> DecodeCursor(absl::string_view text, uint64_t fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw) || raw.size() != 12) return std::nullopt;
  uint64_t position = 0;
  for (int i = 0; i < 8; ++i)
    position |= uint64_t{static_cast<uint8_t>(raw[static_cast<size_t>(i)])} << (8 * i);
  uint64_t tag = MixKeys(fingerprint, position);
  for (int i = 0; i < 4; ++i) {
    if (static_cast<uint8_t>(raw[static_cast<size_t>(8 + i)]) != ((tag >> (8 * i)) & 0xff)) {
      return std::nullopt;
    }
  }
  return position;
}

const std::vector<std::string>& KnownInsightsFields() {
  static const auto* fields = new std::vector<std::string>{
      "account_id", "account_currency", "campaign_id", "campaign_name", "date_start",   "date_stop",
      "spend",      "impressions",      "clicks",      "actions",       "action_values"};
  return *fields;
}

}  // namespace

std::string MetaErrorJson(const MetaErrorInfo& e, uint64_t trace) {
  std::string out = "{\"error\":{\"message\":";
  AppendJsonString(out, e.message);
  out += ",\"type\":";
  AppendJsonString(out, e.type);
  absl::StrAppend(&out, ",\"code\":", e.code);
  if (e.subcode != 0) absl::StrAppend(&out, ",\"error_subcode\":", e.subcode);
  if (e.code == 80000 || e.code == 1 || e.code == 2) out += ",\"is_transient\":true";
  absl::StrAppend(&out, ",\"fbtrace_id\":\"A", absl::StrFormat("%016X", SplitMix64(trace)), "\"}}");
  return out;
}

ParsedInsights ParseInsightsQuery(const std::vector<QueryParam>& params, int64_t today) {
  ParsedInsights out;
  InsightsQuery& q = out.query;
  auto fail = [&](MetaErrorInfo e) {
    out.error = std::move(e);
    return out;
  };
  q.level = Param(params, "level").value_or("account");
  if (q.level != "campaign" && q.level != "account") {
    return fail(Error("(#100) store-sim serves level=campaign or level=account"));
  }
  // time_range (default: Meta's last_30d preset, yesterday and the 29 days before)
  q.since = today - 30;
  q.until = today - 1;
  if (auto tr = Param(params, "time_range")) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view s, u;
    if (parser.parse(simdjson::padded_string(*tr)).get(doc) != simdjson::SUCCESS ||
        doc["since"].get(s) != simdjson::SUCCESS || doc["until"].get(u) != simdjson::SUCCESS) {
      return fail(
          Error("(#100) param time_range must be a JSON object with since and until", 1487534));
    }
    auto ds = ParseDay(absl::string_view(s.data(), s.size()));
    auto du = ParseDay(absl::string_view(u.data(), u.size()));
    if (!ds.ok() || !du.ok()) {
      return fail(Error("(#100) time_range: dates must be YYYY-MM-DD", 1487534));
    }
    q.since = *ds;
    q.until = *du;
  }
  if (q.until < q.since) {
    return fail(Error("(#100) time_range: since must be on or before until", 1487534));
  }
  {
    absl::CivilDay t = absl::CivilDay(1970, 1, 1) + today;
    absl::CivilDay limit_day(t.year(), t.month() - 37, t.day());
    if (q.since < limit_day - absl::CivilDay(1970, 1, 1)) {
      return fail(
          Error("(#3018) The start date of the time range cannot be beyond 37 months from the "
                "current date",
                1487534));
    }
  }
  // time_increment: 1..90 days or all_days (the default)
  if (auto ti = Param(params, "time_increment"); ti && *ti != "all_days") {
    if (!absl::SimpleAtoi(*ti, &q.increment) || q.increment < 1 || q.increment > 90) {
      return fail(Error("(#100) time_increment must be an integer 1-90 or all_days"));
    }
  }
  if (auto f = Param(params, "fields")) {
    q.fields = absl::StrSplit(*f, ',', absl::SkipWhitespace());
    for (const std::string& name : q.fields) {
      const auto& known = KnownInsightsFields();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return fail(Error(absl::StrCat("(#100) ", name, " is not valid for fields param.")));
      }
    }
  }
  ParsedLimit limit = ParseInsightsLimit(params, kDefaultInsightsLimit);
  if (limit.error) return fail(*std::move(limit.error));
  if (Param(params, "limit")) q.limit = limit.limit;
  for (const QueryParam& p : params) {
    if (p.key == "after" || p.key == "before" || p.key == "access_token" || p.key == "limit")
      continue;
    absl::StrAppend(&q.normalized, p.key, "=", p.value, "&");
  }
  return out;
}

ParsedLimit ParseInsightsLimit(const std::vector<QueryParam>& params, int fallback) {
  ParsedLimit out;
  out.limit = fallback;
  if (auto l = Param(params, "limit")) {
    if (!absl::SimpleAtoi(*l, &out.limit) || out.limit < 1) {
      out.error = Error("(#100) limit must be a positive integer");
    } else if (out.limit > kMaxInsightsLimit) {
      MetaErrorInfo e;
      e.http = 500;
      e.message = "Please reduce the amount of data you're asking for, then retry your request";
      e.code = 1;
      out.error = std::move(e);
    }
  }
  return out;
}

ParsedOffset ParseInsightsAfter(const std::vector<QueryParam>& params, uint64_t fingerprint) {
  ParsedOffset out;
  if (auto after = Param(params, "after")) {
    std::optional<uint64_t> position = DecodeCursor(*after, fingerprint);
    if (!position) {
      out.error = Error("(#100) Invalid cursor: 'after' does not belong to this query");
    } else {
      out.offset = *position + 1;
    }
  }
  return out;
}

std::string EchoParams(const std::vector<QueryParam>& params) {
  std::string out;
  for (const QueryParam& p : params) {
    if (p.key == "after" || p.key == "before") continue;
    absl::StrAppend(&out, p.raw, "&");
  }
  return out;
}

std::string RenderInsightsPage(const AdsModel& ads, const InsightsQuery& q,
                               const InsightsPageSpec& spec, uint64_t offset) {
  auto want = [&](absl::string_view name) {
    return std::find(q.fields.begin(), q.fields.end(), name) != q.fields.end();
  };
  // Rows: buckets of `increment` days from `since` (data exists from the first day to today),
  // times campaigns at campaign level.
  const bool by_campaign = q.level == "campaign";
  const int64_t data_from = std::max(q.since, ads.first_day());
  const int64_t data_to = std::min(q.until, spec.today);
  struct Bucket {
    int64_t start, stop;
  };
  std::vector<Bucket> buckets;
  if (data_from <= data_to) {
    if (q.increment == 0) {
      buckets.push_back({q.since, q.until});
    } else {
      for (int64_t b = q.since; b <= data_to; b += q.increment) {
        int64_t stop = std::min(b + q.increment - 1, q.until);
        if (stop >= data_from) buckets.push_back({b, stop});
      }
    }
  }
  const size_t per_bucket = by_campaign ? ads.campaigns().size() : 1;
  const uint64_t total = buckets.size() * per_bucket;

  std::string body = "{\"data\":[";
  const uint64_t end_pos = std::min<uint64_t>(total, offset + static_cast<uint64_t>(spec.limit));
  for (uint64_t pos = offset; pos < end_pos; ++pos) {
    const Bucket& b = buckets[pos / per_bucket];
    const size_t c = pos % per_bucket;
    DayMetrics m;
    for (int64_t d = std::max(b.start, data_from); d <= std::min(b.stop, data_to); ++d) {
      if (by_campaign) {
        m += ads.Metrics(c, d, spec.today, spec.call);
      } else {
        for (size_t k = 0; k < ads.campaigns().size(); ++k)
          m += ads.Metrics(k, d, spec.today, spec.call);
      }
    }
    int64_t shown_start = b.start;
    int64_t shown_stop = b.stop;
    bool bad_currency = false;
    if (spec.invalid && by_campaign && q.increment == 1) {
      if (b.start == spec.today - 2 && c == 0) m.spend_cents = -m.spend_cents - 100;
      if (b.start == spec.today - 2 && c == 1) m.clicks = m.impressions + 10;
      if (b.start == spec.today - 2 && c == 2) bad_currency = true;
      if (pos / per_bucket == 0 && b.start != spec.today - 2 && c + 1 == per_bucket) {
        shown_start = shown_stop = q.since - 1;
      }
    }
    if (pos > offset) body += ",";
    body += "{";
    if (want("account_id")) absl::StrAppend(&body, "\"account_id\":\"", spec.account, "\",");
    if (by_campaign) {
      const Campaign& camp = ads.campaigns()[c];
      if (want("campaign_id")) absl::StrAppend(&body, "\"campaign_id\":\"", camp.id, "\",");
      if (want("campaign_name")) {
        body += "\"campaign_name\":";
        AppendJsonString(body, camp.name);
        body += ",";
      }
    }
    if (want("spend"))
      absl::StrAppend(&body, "\"spend\":\"", FormatTrimmedCents(m.spend_cents), "\",");
    if (want("impressions")) absl::StrAppend(&body, "\"impressions\":\"", m.impressions, "\",");
    if (want("clicks")) absl::StrAppend(&body, "\"clicks\":\"", m.clicks, "\",");
    if (want("actions")) {
      absl::StrAppend(&body, "\"actions\":[{\"action_type\":\"link_click\",\"value\":\"", m.clicks,
                      "\"},{\"action_type\":\"purchase\",\"value\":\"", m.purchases,
                      "\"},{\"action_type\":\"offsite_conversion.fb_pixel_purchase\",\"value\":\"",
                      m.purchases, "\"}],");
    }
    if (want("action_values")) {
      absl::StrAppend(&body, "\"action_values\":[{\"action_type\":\"purchase\",\"value\":\"",
                      FormatTrimmedCents(m.purchase_value_cents),
                      "\"},{\"action_type\":\"offsite_conversion.fb_pixel_purchase\",\"value\":\"",
                      FormatTrimmedCents(m.purchase_value_cents), "\"}],");
    }
    if (want("account_currency")) {
      body += bad_currency ? "\"account_currency\":\"XYZ\"," : "\"account_currency\":\"USD\",";
    }
    absl::StrAppend(&body, "\"date_start\":\"", FormatDay(shown_start), "\",\"date_stop\":\"",
                    FormatDay(shown_stop), "\"}");
  }
  body += "]";
  if (end_pos > offset) {
    absl::StrAppend(&body, ",\"paging\":{\"cursors\":{\"before\":\"",
                    EncodeCursor(offset, spec.fingerprint), "\",\"after\":\"",
                    EncodeCursor(end_pos - 1, spec.fingerprint), "\"}");
    if (end_pos < total) {
      body += ",\"next\":";
      AppendJsonString(body, absl::StrCat(spec.next_prefix,
                                          "after=", EncodeCursor(end_pos - 1, spec.fingerprint)));
    }
    body += "}";
  }
  body += "}";
  return body;
}

// ---------------------------------------------------------------------------------------------
// Async report runs

ReportProgress ProgressOf(const ReportRun& run, absl::Time now, absl::Duration duration) {
  const double length = absl::ToDoubleSeconds(duration);
  const double f =
      length <= 0 ? 1.0 : std::clamp(absl::ToDoubleSeconds(now - run.created) / length, 0.0, 1.0);
  const int percent = static_cast<int>(std::floor(f * 100));
  ReportProgress p;
  if (run.fail && f >= 0.5) {
    p.status = "Job Failed";
    p.percent = 50;
    return p;
  }
  if (f < 0.1) {
    p.status = "Job Not Started";
    return p;
  }
  if (f < 0.2) {
    p.status = "Job Started";
    p.percent = percent;
    return p;
  }
  if (run.stuck) {
    p.status = "Job Running";
    p.percent = std::min(percent, 60);
    return p;
  }
  if (f < 1.0) {
    p.status = "Job Running";
    p.percent = percent;
    return p;
  }
  p.status = "Job Completed";
  p.percent = 100;
  p.completed = true;
  p.time_completed = absl::ToUnixSeconds(run.created + duration);
  return p;
}

std::string ReportRunJson(const ReportRun& run, const ReportProgress& progress) {
  std::string out = "{\"id\":";
  AppendJsonString(out, run.id);
  out += ",\"account_id\":";
  AppendJsonString(out, run.account);
  absl::StrAppend(&out, ",\"async_status\":\"", progress.status,
                  "\",\"async_percent_completion\":", progress.percent, ",\"date_start\":\"",
                  FormatDay(run.query.since), "\",\"date_stop\":\"", FormatDay(run.query.until),
                  "\",\"time_ref\":", absl::ToUnixSeconds(run.created),
                  ",\"time_completed\":", progress.time_completed, "}");
  return out;
}

const ReportRun& ReportRuns::Add(ReportRun run) {
  run.id = absl::StrCat(next_id_++);
  while (runs_.size() >= kKeptReportRuns) runs_.pop_front();
  runs_.push_back(std::move(run));
  return runs_.back();
}

const ReportRun* ReportRuns::Find(absl::string_view id) const {
  for (const ReportRun& run : runs_) {
    if (run.id == id) return &run;
  }
  return nullptr;
}

}  // namespace autosync::storesim
