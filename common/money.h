// Cents as a plain decimal string with exactly two decimals, the one formatter behind the
// worker's COPY rows and connectors and store-sim's pages: 12345 -> "123.45", -10 -> "-0.10",
// 0 -> "0.00", INT64_MIN formats without overflow. Pure functions: thread-safe.
// "Cents" means value x 100 whatever the currency's minor unit.
#pragma once

#include <cstdint>
#include <string>

namespace autosync::common {

// Appends the decimal form of `cents` to `out` without temporaries (hot in COPY and page
// rendering, where millions are written).
void AppendCents(std::string& out, int64_t cents);

// The decimal form of `cents`.
std::string FormatCents(int64_t cents);

}  // namespace autosync::common
