// Hex digits, %XX percent-encoding and -decoding, the one implementation behind the worker's URL
// reader, the gateway's query strings and store-sim's request targets. Pure functions: thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::common {

// 0-15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for anything else.
int HexDigitValue(char c);

// Whether '+' decodes to a space (query strings, form bodies) or stays '+' (URL paths, and
// URLs the worker only reads).
enum class PlusMeans { kPlus, kSpace };

// Decodes %XX escapes (either hex case). INVALID_ARGUMENT "truncated percent-escape" when a '%'
// has fewer than two characters after it, "bad percent-escape" when they are not hex digits.
// Decoded bytes are not validated (a %00 or invalid UTF-8 is returned as is).
absl::StatusOr<std::string> PercentDecode(absl::string_view text, PlusMeans plus);

// Percent-encodes every byte but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~), with
// upper-case hex: "a b/ü" -> "a%20b%2F%C3%BC". Safe in a query value or a path segment.
std::string PercentEncode(absl::string_view text);

}  // namespace autosync::common
