#include "sync-worker/connectors/record_rules.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/money.h"

namespace autosync::worker {
namespace {

// ISO 4217 codes of currencies in use since 2024 (a store's history reaches two years back, so
// codes withdrawn since, like HRK, BGN, ANG and SLL, still appear on real orders). Sorted, for a
// binary search. No precious metals, test or "no currency" codes (XAU, XTS, XXX…).
constexpr std::array<absl::string_view, 170> kIso4217 = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
    "ZWL"};

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", text.substr(0, 16), text.size() > 16 ? "…" : "", "\"");
}

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

}  // namespace

bool IsIso4217(absl::string_view code) {
  return std::binary_search(kIso4217.begin(), kIso4217.end(), code);
}

std::optional<RuleBreak> RuleForOrder(const Order& o, absl::Time now, const RuleOptions& options) {
  if (o.id <= 0) return RuleBreak{"bad_id", absl::StrCat("order id ", o.id, " is not positive")};
  const std::pair<const char*, int64_t> amounts[] = {{"total", o.total_price_cents},
                                                     {"subtotal", o.subtotal_price_cents},
                                                     {"tax", o.total_tax_cents},
                                                     {"discounts", o.total_discounts_cents},
                                                     {"refunded", o.refunded_cents}};
  for (const auto& [what, cents] : amounts) {
    if (cents < 0) {
      return RuleBreak{"negative_amount", absl::StrCat(what, " is ", FormatCents(cents))};
    }
  }
  // Before the current total: a refund above the total makes it negative, and the refund is
  // what a person has to look at.
  if (o.refunded_cents > o.total_price_cents) {
    return RuleBreak{"refund_exceeds_total",
                     absl::StrCat("refunded ", FormatCents(o.refunded_cents), " of a ",
                                  FormatCents(o.total_price_cents), " order")};
  }
  if (o.current_total_price_cents.value_or(0) < 0) {
    return RuleBreak{"negative_amount",
                     absl::StrCat("current total is ", FormatCents(*o.current_total_price_cents))};
  }
  if (!IsIso4217(o.currency)) {
    return RuleBreak{"currency_not_iso4217",
                     absl::StrCat("currency ", Quoted(o.currency), " is not an ISO 4217 code")};
  }
  static const absl::Time kEarliest =
      absl::FromCivil(absl::CivilDay(2004, 1, 1), absl::UTCTimeZone());
  if (o.created_at < kEarliest) {
    return RuleBreak{"created_too_early", absl::StrCat("created ", Utc(o.created_at))};
  }
  const absl::Time latest = now + options.clock_skew;
  if (o.created_at > latest) {
    return RuleBreak{"created_in_future",
                     absl::StrCat("created ", Utc(o.created_at), ", after ", Utc(now))};
  }
  if (o.updated_at > latest) {
    return RuleBreak{"updated_in_future",
                     absl::StrCat("updated ", Utc(o.updated_at), ", after ", Utc(now))};
  }
  if (o.updated_at < o.created_at - options.clock_skew) {
    return RuleBreak{"updated_before_created",
                     absl::StrCat("updated ", Utc(o.updated_at), ", created ", Utc(o.created_at))};
  }
  if (o.cancelled_at.has_value() && *o.cancelled_at < o.created_at - options.clock_skew) {
    return RuleBreak{"cancelled_before_created", absl::StrCat("cancelled ", Utc(*o.cancelled_at),
                                                              ", created ", Utc(o.created_at))};
  }
  return std::nullopt;
}

std::optional<RuleBreak> RuleForAdRow(const AdRow& row, absl::CivilDay since,
                                      absl::CivilDay until) {
  const std::pair<const char*, int64_t> metrics[] = {{"spend", row.spend_cents},
                                                     {"impressions", row.impressions},
                                                     {"clicks", row.clicks},
                                                     {"purchases", row.purchases},
                                                     {"purchase value", row.purchase_value_cents}};
  for (const auto& [what, value] : metrics) {
    if (value < 0) return RuleBreak{"negative_metric", absl::StrCat(what, " is ", value)};
  }
  if (row.clicks > row.impressions) {
    return RuleBreak{"clicks_exceed_impressions",
                     absl::StrCat(row.clicks, " clicks on ", row.impressions, " impressions")};
  }
  if (row.date < since || row.date > until) {
    return RuleBreak{"date_outside_range", absl::StrCat("day ", absl::FormatCivilTime(row.date),
                                                        " outside ", absl::FormatCivilTime(since),
                                                        "..", absl::FormatCivilTime(until))};
  }
  if (!row.currency.empty() && !IsIso4217(row.currency)) {
    return RuleBreak{"currency_not_iso4217", absl::StrCat("account currency ", Quoted(row.currency),
                                                          " is not an ISO 4217 code")};
  }
  return std::nullopt;
}

namespace {

bool Quarantine(const RecordScreen& screen, std::string kind, std::string key, RuleBreak broken,
                absl::string_view where, absl::FunctionRef<std::string()> raw) {
  QuarantinedRecord record{
      std::move(kind),
      std::move(key),
      std::move(broken.rule),
      std::move(broken.detail),
      screen.page.empty() ? std::string(where) : absl::StrCat(screen.page, ", ", where),
      raw()};
  if (record.raw.size() > kMaxRawBytes) {
    // Cut before a character, never inside one: the text stays valid UTF-8 (PostgreSQL refuses
    // anything else). 0b10xxxxxx bytes continue a character.
    size_t cut = kMaxRawBytes;
    while (cut > 0 && (static_cast<unsigned char>(record.raw[cut]) & 0xC0) == 0x80) --cut;
    record.raw.resize(cut);
    record.raw_truncated = true;
  }
  screen.quarantined->push_back(std::move(record));
  return false;
}

}  // namespace

bool RecordScreen::Admit(const Order& order, absl::string_view where,
                         absl::FunctionRef<std::string()> raw) const {
  std::optional<RuleBreak> broken = RuleForOrder(order, now, options);
  if (!broken.has_value()) return true;
  return Quarantine(*this, "order", absl::StrCat(order.id), *std::move(broken), where, raw);
}

bool RecordScreen::Admit(const AdRow& row, absl::string_view where,
                         absl::FunctionRef<std::string()> raw) const {
  const absl::CivilDay since = ad_range ? ad_range->first : absl::CivilDay(1970, 1, 1);
  const absl::CivilDay until = ad_range ? ad_range->second : absl::CivilDay(9999, 12, 31);
  std::optional<RuleBreak> broken = RuleForAdRow(row, since, until);
  if (!broken.has_value()) return true;
  return Quarantine(*this, "ad",
                    absl::StrCat(row.campaign_id, "/", absl::FormatCivilTime(row.date)),
                    *std::move(broken), where, raw);
}

}  // namespace autosync::worker
