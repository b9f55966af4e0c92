// store-sim's hostile-data option ("--stores=evil:500:hostile"): text that breaks naive SQL
// building, COPY's text format and JSON handling, for the stored text fields of a store (order
// names, customer and guest emails, campaign names). Deterministic: tests recompute it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autosync::storesim {

// The hostile pieces: quotes and SQL, backslashes and COPY's own markers (\N, \.), tabs,
// newlines and carriage returns, emoji (with modifiers and ZWJ), right-to-left text and
// overrides, combining marks, U+2028/U+2029/BOM, control characters, format strings. Each is
// valid UTF-8 without NUL (PostgreSQL text cannot hold NUL).
const std::vector<std::string>& HostileTexts();

// One piece chosen by `key` (any integer, e.g. an order number).
const std::string& HostileText(int64_t key);

// About 1 MiB (1,048,576 bytes or a few more, always whole UTF-8 sequences) cycling through
// every piece; `variant` rotates the order so two huge strings differ.
std::string HugeHostileText(int variant);

}  // namespace autosync::storesim
