#include "sync-worker/connectors/money.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace autosync::worker {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status NotAnAmount(absl::string_view text, absl::string_view why) {
  // Amounts are not secrets; show a bounded prefix so a huge garbage field stays readable.
  constexpr size_t kShown = 40;
  const std::string shown =
      text.size() > kShown ? absl::StrCat(text.substr(0, kShown), "…") : std::string(text);
  return absl::InvalidArgumentError(
      absl::StrFormat("not a decimal amount (%s): \"%s\"", why, absl::CEscape(shown)));
}

}  // namespace

absl::StatusOr<int64_t> ParseMoneyCents(absl::string_view text) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++i;
  if (i >= text.size()) return NotAnAmount(text, "empty");
  if (!IsDigit(text[i])) return NotAnAmount(text, "expected a digit");

  uint64_t units = 0;
  for (; i < text.size() && IsDigit(text[i]); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (units > (kMax - digit) / 10) return NotAnAmount(text, "too large");
    units = units * 10 + digit;
  }
  uint64_t fraction = 0;  // the first two decimals, as cents
  uint64_t round_up = 0;
  if (i < text.size()) {
    if (text[i] != '.') return NotAnAmount(text, "unexpected character");
    ++i;
    if (i >= text.size()) return NotAnAmount(text, "no digits after '.'");
    for (int place = 0; i < text.size(); ++i, ++place) {
      if (!IsDigit(text[i])) return NotAnAmount(text, "unexpected character");
      const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
      if (place == 0) fraction += digit * 10;
      if (place == 1) fraction += digit;
      if (place == 2) round_up = digit >= 5 ? 1 : 0;
    }
  }
  if (units > kMax / 100) return NotAnAmount(text, "too large");
  const uint64_t whole_cents = units * 100;
  if (whole_cents > kMax - fraction - round_up) return NotAnAmount(text, "too large");
  const auto magnitude = static_cast<int64_t>(whole_cents + fraction + round_up);
  return negative ? -magnitude : magnitude;
}

}  // namespace autosync::worker
