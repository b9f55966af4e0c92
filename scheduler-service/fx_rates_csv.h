// Reads a table of daily currency reference rates in the layout of the ECB's
// eurofxref-hist.csv (https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip), the file
// Scheduler.ImportFxRates loads into fx_rates (migration 0013). Pure: no I/O.
//
// The layout:
//   Date,USD,JPY,BGN,CYP,…,          a header: "Date", then one ISO 4217 code per column
//   2026-12-04,1.0521,162.3,1.9558,N/A,…,
//   2026-12-03,1.0498,161.87,1.9558,N/A,…,
// Rates are units of the column's currency per 1 EUR (EUR itself is implicitly 1 and has no
// column). "N/A" or an empty cell: no rate that day. The real file ends every line with a comma
// (an empty last column); either way, every row has as many cells as the header. Lines end with
// "\n" or "\r\n"; empty lines, a UTF-8 byte order mark and blanks around a cell are ignored; a
// cell may be quoted ("…", with "" for a quote inside). Rows may come in any date order.
//
// Refused, as INVALID_ARGUMENT naming the line (1-based) and the column (by its header,
// "line 7, column JPY: \"1,05\" is not a positive decimal"): no header or no Date column first, a
// header cell that is not three upper-case letters (or is EUR), a currency column twice, a row
// with another number of cells than the header, a date that is not YYYY-MM-DD or not a real
// day, a date twice, a rate that is not a positive plain decimal (digits with an optional
// fraction: no sign, exponent, thousands separator or decimal comma), more than kMaxFxCsvLines
// lines or more than kMaxFxCsvBytes bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace autosync::scheduler {

inline constexpr size_t kMaxFxCsvBytes = size_t{32} << 20;  // 32 MiB
inline constexpr int64_t kMaxFxCsvLines = 100'000;

struct FxRate {
  absl::CivilDay day;
  std::string currency;  // "USD"
  std::string per_eur;   // the decimal as written ("1.0521"), for an exact numeric
};

struct FxRatesTable {
  std::vector<std::string> currencies;  // the header's, in its order
  std::vector<FxRate> rates;            // in file order, N/A cells left out
  int64_t days = 0;                     // rows with at least one rate
  absl::CivilDay first_day;             // the earliest and latest of those rows
  absl::CivilDay last_day;              //   (meaningless when days == 0)
};

absl::StatusOr<FxRatesTable> ParseFxRatesCsv(absl::string_view csv);

}  // namespace autosync::scheduler
