// Money as the store APIs send it — decimal strings such as "5339.5" or "-0.10" — converted to
// int64 hundredths of the currency unit ("cents"), and back. Whole-number arithmetic on cents keeps
// sums exact, which doubles would not.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/money.h"

namespace autosync::worker {

// Parses `[-]digits[.digits]` into cents: "123.45" → 12345, "5339.5" → 533950, "-0.10" → -10,
// "0" → 0. Refused with INVALID_ARGUMENT: "", whitespace, "+5", ".5", "5.", exponents ("1e3"),
// thousands separators, and anything beyond ±INT64_MAX cents. More than two decimals are rounded
// half away from zero on the third ("0.125" → 13, "-0.125" → -13, "0.1249" → 12), which matches how
// the APIs round amounts they show; the rest of the digits are only validated.
// Note: "cents" means value × 100 whatever the currency's minor unit (JPY "5339" → 533900).
absl::StatusOr<int64_t> ParseMoneyCents(absl::string_view text);

// Cents back to the plain decimal form with exactly two decimals: 12345 → "123.45",
// -10 → "-0.10", 0 → "0.00" (the services' one money formatter, common/money.h).
using common::FormatCents;

}  // namespace autosync::worker
