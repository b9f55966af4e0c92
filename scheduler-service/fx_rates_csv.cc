#include "scheduler-service/fx_rates_csv.h"

#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace autosync::scheduler {
namespace {

// A cell as written, for a message: quoted, escaped, cut at 40 characters.
std::string Shown(absl::string_view cell) {
  const bool cut = cell.size() > 40;
  return absl::StrCat("\"", absl::CHexEscape(cell.substr(0, 40)), cut ? "…" : "", "\"");
}

absl::Status Refuse(int64_t line, absl::string_view column, absl::string_view what) {
  if (column.empty()) return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ", column ", column, ": ", what));
}

// One line's cells, blanks around each removed; a quoted cell loses its quotes.
absl::StatusOr<std::vector<std::string>> Cells(absl::string_view line, int64_t line_no) {
  std::vector<std::string> cells;
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string cell;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cell.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        cell.push_back(line[i++]);
      }
      const std::string column = absl::StrCat(cells.size() + 1);
      if (!closed) return Refuse(line_no, column, "a quote is never closed");
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') {
        return Refuse(line_no, column, "text after a closing quote");
      }
    } else {
      const size_t end = line.find(',', i);
      const absl::string_view raw =
          line.substr(i, end == absl::string_view::npos ? absl::string_view::npos : end - i);
      cell = std::string(absl::StripTrailingAsciiWhitespace(raw));
      i = end == absl::string_view::npos ? line.size() : end;
    }
    cells.push_back(std::move(cell));
    if (i >= line.size()) break;
    ++i;  // the comma; a comma at the very end makes one more (empty) cell
    if (i == line.size()) {
      cells.emplace_back();
      break;
    }
  }
  return cells;
}

bool IsCurrencyCode(absl::string_view s) {
  return s.size() == 3 && absl::ascii_isupper(static_cast<unsigned char>(s[0])) &&
         absl::ascii_isupper(static_cast<unsigned char>(s[1])) &&
         absl::ascii_isupper(static_cast<unsigned char>(s[2]));
}

// YYYY-MM-DD naming a real day of 1900-2999.
std::optional<absl::CivilDay> Day(absl::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (size_t k = starts[p]; k < starts[p] + lengths[p]; ++k) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
      parts[p] = parts[p] * 10 + (s[k] - '0');
    }
  }
  if (parts[0] < 1900 || parts[0] > 2999) return std::nullopt;
  const absl::CivilDay day(parts[0], parts[1], parts[2]);
  // CivilDay normalizes (2026-02-30 is 2026-03-02): a real day comes back unchanged.
  if (day.year() != parts[0] || day.month() != parts[1] || day.day() != parts[2]) {
    return std::nullopt;
  }
  return day;
}

// Digits with an optional fraction, not all zero, at most 40 characters.
bool IsPositiveDecimal(absl::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  size_t i = 0;
  bool nonzero = false;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      nonzero = nonzero || s[i] != '0';
      ++i;
    }
    return i > from;
  };
  if (!digits()) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  return i == s.size() && nonzero;
}

}  // namespace

absl::StatusOr<FxRatesTable> ParseFxRatesCsv(absl::string_view csv) {
  if (csv.size() > kMaxFxCsvBytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the CSV is %d bytes, more than the %d MiB allowed: import it in parts",
                        csv.size(), kMaxFxCsvBytes >> 20));
  }
  if (absl::StartsWith(csv, "\xEF\xBB\xBF")) csv.remove_prefix(3);
  FxRatesTable table;
  // Per column index (0 = Date): the header's name; "" for the trailing empty column.
  std::vector<std::string> columns;
  std::map<std::string, size_t> column_of;
  std::map<absl::CivilDay, int64_t> line_of_day;
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < csv.size()) {
    const size_t end = csv.find('\n', pos);
    absl::string_view line =
        csv.substr(pos, end == absl::string_view::npos ? absl::string_view::npos : end - pos);
    pos = end == absl::string_view::npos ? csv.size() : end + 1;
    ++line_no;
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (line_no > kMaxFxCsvLines) {
      return Refuse(line_no, "",
                    absl::StrCat("more than ", kMaxFxCsvLines, " lines: import the file in parts"));
    }
    absl::StatusOr<std::vector<std::string>> cells = Cells(line, line_no);
    if (!cells.ok()) return cells.status();

    if (columns.empty()) {  // the header
      if (!absl::EqualsIgnoreCase((*cells)[0], "Date")) {
        return Refuse(line_no, "1",
                      absl::StrCat(Shown((*cells)[0]),
                                   ": the header must start with a Date column (Date,USD,JPY,…)"));
      }
      columns.push_back("Date");
      for (size_t c = 1; c < cells->size(); ++c) {
        const std::string& code = (*cells)[c];
        const std::string column = absl::StrCat(c + 1);
        if (code.empty() && c + 1 == cells->size()) {
          columns.emplace_back();  // the ECB file's trailing comma
          continue;
        }
        if (code == "EUR") {
          return Refuse(line_no, column,
                        "EUR is the base currency (1 EUR per EUR): leave its column out");
        }
        if (!IsCurrencyCode(code)) {
          return Refuse(
              line_no, column,
              absl::StrCat(Shown(code), " is not a currency code (3 upper-case letters)"));
        }
        auto [it, inserted] = column_of.emplace(code, c);
        if (!inserted) {
          return Refuse(line_no, column,
                        absl::StrCat(code, " appears twice (also column ", it->second + 1, ")"));
        }
        columns.push_back(code);
        table.currencies.push_back(code);
      }
      if (table.currencies.empty()) {
        return Refuse(line_no, "", "no currency columns after Date (Date,USD,JPY,…)");
      }
      continue;
    }

    if (cells->size() != columns.size()) {
      return Refuse(line_no, "",
                    absl::StrCat(cells->size(), " cells, but the header has ", columns.size(),
                                 columns.back().empty() ? " (with its trailing comma)" : ""));
    }
    const std::optional<absl::CivilDay> day = Day((*cells)[0]);
    if (!day.has_value()) {
      return Refuse(line_no, "Date",
                    absl::StrCat(Shown((*cells)[0]), " is not a date (YYYY-MM-DD, 1900-2999)"));
    }
    auto [seen, first] = line_of_day.emplace(*day, line_no);
    if (!first) {
      return Refuse(line_no, "Date",
                    absl::StrCat(absl::FormatCivilTime(*day), " appears twice (also line ",
                                 seen->second, ")"));
    }
    bool any = false;
    for (size_t c = 1; c < cells->size(); ++c) {
      const std::string& cell = (*cells)[c];
      if (columns[c].empty()) {
        if (!cell.empty()) {
          return Refuse(line_no, absl::StrCat(c + 1, " (after the last currency)"),
                        absl::StrCat(Shown(cell), " has no currency in the header"));
        }
        continue;
      }
      if (cell.empty() || cell == "N/A") continue;
      if (!IsPositiveDecimal(cell)) {
        return Refuse(line_no, columns[c], absl::StrCat(Shown(cell), " is not a positive decimal"));
      }
      table.rates.push_back({*day, columns[c], cell});
      any = true;
    }
    if (any) {
      if (table.days == 0 || *day < table.first_day) table.first_day = *day;
      if (table.days == 0 || *day > table.last_day) table.last_day = *day;
      ++table.days;
    }
  }
  if (columns.empty()) return Refuse(1, "", "no header (Date,USD,JPY,…)");
  return table;
}

}  // namespace autosync::scheduler
