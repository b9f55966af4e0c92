// Fuzzes the Meta insights page parser and Meta's error body / rate-limit header parsers
// (sync-worker/connectors/insights_page.h); the whole input is one body or header. Invariants:
// errors are DATA_LOSS or INVALID_ARGUMENT only; counts (impressions, clicks, purchases) are
// never negative; dates are in years 0001-9999; an accepted page written back as JSON parses to
// the same rows; header readings stay within their clamps.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "sync-worker/connectors/insights_page.h"
#include "sync-worker/connectors/money.h"
#include "ws-gateway/codec/ws_message.h"

namespace {

namespace w = autosync::worker;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "insights_page invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// Written back with the project's own JSON string escaping (ws-gateway/ws_message.h).
using autosync::gateway::AppendJsonString;

std::string Write(const w::ParsedInsights& page) {
  std::string out = "{\"data\":[";
  for (size_t i = 0; i < page.rows.size(); ++i) {
    const w::AdRow& r = page.rows[i];
    if (i > 0) out += ",";
    out += "{\"campaign_id\":";
    AppendJsonString(&out, r.campaign_id);
    out += ",\"campaign_name\":";
    AppendJsonString(&out, r.campaign_name);
    // Zero-padded: absl::FormatCivilTime writes year 930 as "930".
    const std::string day =
        absl::StrFormat("%04d-%02d-%02d", r.date.year(), r.date.month(), r.date.day());
    absl::StrAppend(&out, ",\"date_start\":\"", day, "\",\"date_stop\":\"", day, "\"",
                    ",\"spend\":\"", w::FormatCents(r.spend_cents), "\"", ",\"impressions\":\"",
                    r.impressions, "\",\"clicks\":", r.clicks,
                    ",\"actions\":[{\"action_type\":\"purchase\",\"value\":\"", r.purchases, "\"}]",
                    ",\"action_values\":[{\"action_type\":\"omni_purchase\",\"value\":\"",
                    w::FormatCents(r.purchase_value_cents), "\"}]");
    out += ",\"account_currency\":";
    AppendJsonString(&out, r.currency);
    out += "}";
  }
  out += "]";
  if (page.next_url) {
    out += ",\"paging\":{\"next\":";
    AppendJsonString(&out, *page.next_url);
    out += "}";
  }
  out += "}";
  return out;
}

bool Same(const w::AdRow& a, const w::AdRow& b) {
  return a.campaign_id == b.campaign_id && a.campaign_name == b.campaign_name && a.date == b.date &&
         a.spend_cents == b.spend_cents && a.impressions == b.impressions && a.clicks == b.clicks &&
         a.purchases == b.purchases && a.purchase_value_cents == b.purchase_value_cents &&
         a.currency == b.currency;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);

  if (std::optional<w::BusinessUseCaseUsage> usage = w::ParseBusinessUseCaseUsage(body)) {
    if (usage->max_usage_pct < 0 || usage->max_usage_pct > 1'000'000) Fail("usage pct", body);
    if (usage->regain_access_minutes < 0 || usage->regain_access_minutes > 1'000'000'000) {
      Fail("regain minutes", body);
    }
  }
  (void)w::ParseInsightsThrottle(body);
  if (std::optional<w::MetaError> error = w::ParseMetaError(body)) {
    if (error->code < -1'000'000'000'000'000 || error->code > 1'000'000'000'000'000) {
      Fail("error code clamp", body);
    }
  }

  absl::StatusOr<w::ParsedInsights> page = w::ParseInsightsPage(body);
  if (!page.ok()) {
    const absl::StatusCode code = page.status().code();
    if (code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInvalidArgument) {
      Fail("unexpected error code", body);
    }
    return 0;
  }
  if (page->next_url && page->next_url->empty()) Fail("empty next url", body);
  for (const w::AdRow& r : page->rows) {
    if (r.impressions < 0 || r.clicks < 0 || r.purchases < 0) Fail("negative count accepted", body);
    if (r.date.year() < 1 || r.date.year() > 9999) Fail("date outside years 0001-9999", body);
  }
  const std::string written = Write(*page);
  absl::StatusOr<w::ParsedInsights> again = w::ParseInsightsPage(written);
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", std::string(again.status().message()).c_str());
    Fail("written page does not parse", written);
  }
  if (again->rows.size() != page->rows.size() || again->next_url != page->next_url) {
    Fail("written page differs", written);
  }
  for (size_t i = 0; i < page->rows.size(); ++i) {
    if (!Same(page->rows[i], again->rows[i])) Fail("written page parses to other rows", written);
  }
  return 0;
}
