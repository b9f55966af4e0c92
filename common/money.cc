#include "common/money.h"

#include "absl/strings/str_cat.h"

namespace autosync::common {

void AppendCents(std::string& out, int64_t cents) {
  // The unsigned magnitude, so INT64_MIN formats instead of overflowing on negation.
  const bool negative = cents < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  if (negative) out.push_back('-');
  absl::StrAppend(&out, magnitude / 100);
  const char fraction[3] = {'.', static_cast<char>('0' + magnitude % 100 / 10),
                            static_cast<char>('0' + magnitude % 10)};
  out.append(fraction, sizeof(fraction));
}

std::string FormatCents(int64_t cents) {
  std::string out;
  AppendCents(out, cents);
  return out;
}

}  // namespace autosync::common
