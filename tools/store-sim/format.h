// Text formats store-sim speaks: Shopify-style timestamps with a UTC offset, money as 2-decimal
// strings, Meta-style trimmed metric strings, JSON string escaping and the timestamp/date
// parsing used for query filters.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/json_text.h"
#include "common/money.h"

namespace autosync::storesim {

// "2024-01-15T10:30:00-05:00" for unix seconds `t` shown at a fixed UTC offset (minutes).
std::string FormatShopifyTime(int64_t t, int offset_minutes);
// "2024-01-15T15:30:00Z": UTC with a Z, as GraphQL's DateTime prints.
std::string FormatUtcTime(int64_t t);
// "2024-01-15" for a day number (days since 1970-01-01).
std::string FormatDay(int64_t day);
// 1234 cents -> "12.34" (the services' one money formatter, common/money.h).
inline std::string FormatMoney(int64_t cents) { return common::FormatCents(cents); }
// Appending forms of the three above, with no temporaries: a bulk operation's file renders
// millions of them, and these are several times faster than formatting through StrFormat.
void AppendShopifyTime(std::string& out, int64_t t, int offset_minutes);
void AppendUtcTime(std::string& out, int64_t t);
inline void AppendMoney(std::string& out, int64_t cents) { common::AppendCents(out, cents); }
// Meta prints metrics without trailing zeros: 533950 cents -> "5339.5", 1200 -> "12".
std::string FormatTrimmedCents(int64_t cents);
// Appends `s` as a quoted JSON string (the services' one escaper, common/json_text.h).
using common::AppendJsonString;

// Parses an RFC 3339 timestamp with an offset ("2024-01-15T10:30:00-05:00", "…Z", fractional
// seconds allowed) or a bare date ("2024-01-15", midnight at the given offset). Unix seconds.
absl::StatusOr<int64_t> ParseTimeParam(absl::string_view s, int offset_minutes);
// Parses "YYYY-MM-DD" into a day number.
absl::StatusOr<int64_t> ParseDay(absl::string_view s);

// Floor division that rounds toward negative infinity (days from seconds before 1970).
inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace autosync::storesim
