// JSON string escaping, the one implementation every service uses (logs, the gateway's frames,
// store-sim's pages). Pure functions of their arguments: thread-safe, no state.
//
// Rules: `"` and `\` are escaped; control characters (< 0x20) become \b \f \n \r \t or \u00XX
// (lower-case hex); '/' and valid UTF-8 pass through unchanged; bytes that are not valid UTF-8
// (overlong forms, surrogates, code points above U+10FFFF, truncated sequences) become \ufffd,
// because a WebSocket text frame that is not valid UTF-8 makes a browser drop the connection.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace autosync::common {

// Appends `text` to `out` as the inside of a JSON string literal (no quotes).
void AppendJsonEscaped(std::string& out, absl::string_view text);

// Appends `text` to `out` as a complete JSON string literal, quotes included.
void AppendJsonString(std::string& out, absl::string_view text);

// `text` escaped for use inside a JSON string literal (no quotes).
std::string JsonEscape(absl::string_view text);

// `text` as a complete JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace autosync::common
