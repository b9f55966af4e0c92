// Fuzzes the money parser (sync-worker/connectors/money.h) against an independent reference:
// the input is one amount string. Invariants: ParseMoneyCents accepts exactly the strings of the
// documented grammar whose rounded value fits in int64, returns that value, and FormatCents of
// any value parses back to it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

#include "sync-worker/connectors/money.h"

namespace {

namespace w = autosync::worker;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "money invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool Digit(char c) { return c >= '0' && c <= '9'; }

// `[-]digits[.digits]`, value × 100 rounded half away from zero on the third decimal; nullopt
// when malformed or when the magnitude exceeds INT64_MAX. Written with overflow builtins rather
// than the parser's digit-by-digit bounds.
std::optional<int64_t> Reference(absl::string_view text) {
  size_t i = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++i;
  const size_t int_start = i;
  while (i < text.size() && Digit(text[i])) ++i;
  if (i == int_start) return std::nullopt;
  const absl::string_view whole = text.substr(int_start, i - int_start);
  absl::string_view frac;
  if (i < text.size()) {
    if (text[i] != '.') return std::nullopt;
    frac = text.substr(i + 1);
    if (frac.empty()) return std::nullopt;
    for (const char c : frac) {
      if (!Digit(c)) return std::nullopt;
    }
  }
  int64_t cents = 0;
  for (const char c : whole) {
    if (__builtin_mul_overflow(cents, 10, &cents) ||
        __builtin_add_overflow(cents, c - '0', &cents)) {
      return std::nullopt;
    }
  }
  if (__builtin_mul_overflow(cents, 100, &cents)) return std::nullopt;
  const int64_t tens = frac.size() > 0 ? frac[0] - '0' : 0;
  const int64_t ones = frac.size() > 1 ? frac[1] - '0' : 0;
  const int64_t round = frac.size() > 2 && frac[2] >= '5' ? 1 : 0;
  if (__builtin_add_overflow(cents, tens * 10 + ones + round, &cents)) return std::nullopt;
  return negative ? -cents : cents;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<int64_t> parsed = w::ParseMoneyCents(text);
  const std::optional<int64_t> expected = Reference(text);
  if (parsed.ok() != expected.has_value()) Fail("accepts a different set than the grammar", text);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) Fail("error code", text);
  } else if (*parsed != *expected) {
    Fail("value differs from the reference", text);
  }

  // Any int64 formats and parses back (INT64_MIN has no positive twin: it must be refused).
  if (size >= 8) {
    int64_t cents = 0;
    __builtin_memcpy(&cents, data, sizeof(cents));
    const std::string formatted = w::FormatCents(cents);
    const absl::StatusOr<int64_t> back = w::ParseMoneyCents(formatted);
    if (cents == std::numeric_limits<int64_t>::min()) {
      if (back.ok()) Fail("INT64_MIN cents parsed back", formatted);
    } else if (!back.ok() || *back != cents) {
      Fail("FormatCents does not parse back", formatted);
    }
  }
  if (parsed.ok() && *parsed != std::numeric_limits<int64_t>::min()) {
    if (w::ParseMoneyCents(w::FormatCents(*parsed)).value_or(-1) != *parsed) {
      Fail("parsed value does not format back", text);
    }
  }
  return 0;
}
