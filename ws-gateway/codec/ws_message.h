// The plain `/ws` framing of gateway events: text frames `{"event":"<name>","data":<json>}`,
// plus the small JSON text helpers (escaping, string parsing, raw element slicing) that the
// Socket.IO codec and the rest of the gateway share. Pure functions, no I/O, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace autosync::gateway {

// ---------------------------------------------------------------------------------------------
// JSON text helpers.

// Returns `text` escaped for use inside a JSON string literal (without the surrounding quotes):
// `"` and `\` are escaped, control characters become \b \f \n \r \t or \u00XX, valid UTF-8
// passes through unchanged. Invalid UTF-8 bytes are replaced by \ufffd, because a WebSocket
// text frame that is not valid UTF-8 makes the browser drop the whole connection.
std::string JsonEscape(std::string_view text);

// Appends `text` as a complete JSON string literal (with quotes) to `*out`; same rules as
// JsonEscape. Lets encoders build a frame in one buffer.
void AppendJsonString(std::string* out, std::string_view text);

// Returns `text` as a complete JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

// Parses `json` (one JSON value, surrounding whitespace allowed) that must be a string, and
// returns its unescaped value. InvalidArgument when it is not valid JSON or not a string.
absl::StatusOr<std::string> ParseJsonString(std::string_view json);

// Only for text already validated as JSON by a real parser: these slice it without copying.
namespace json_internal {

// Index of the first non-whitespace character at or after `pos`.
size_t SkipWhitespace(std::string_view json, size_t pos);

// Index one past the end of the JSON value that starts at `json[pos]`.
size_t SkipValue(std::string_view json, size_t pos);

// The raw text of each element of a JSON array, in order, without surrounding whitespace.
std::vector<std::string_view> ArrayElements(std::string_view valid_array);

// The raw text of each member value of a JSON object, in order, without surrounding whitespace
// (the keys are read from the parsed document, which preserves the same order).
std::vector<std::string_view> ObjectValues(std::string_view valid_object);

// "an object", "an array", "a string", "a number", "a boolean" or "null", from the first
// character of a valid JSON value; for error messages.
std::string_view TypeName(std::string_view valid_value);

}  // namespace json_internal

// ---------------------------------------------------------------------------------------------
// `/ws` framing.

// A frame bigger than this is refused before parsing; client frames are tiny (a store id).
inline constexpr size_t kMaxWsMessageBytes = 64 * 1024;

// Returns `{"event":"<name>","data":<json_data>}` in one allocation. `json_data` must be one
// valid JSON value (it is copied verbatim; empty means `null`). Encode once per broadcast and
// share the bytes with every recipient.
std::string EncodeWsEvent(std::string_view name, std::string_view json_data);

// A client frame: the event name and the raw JSON text of its `data` member (`null` when the
// frame has no `data`). Members other than `event` and `data` are ignored.
struct WsMessage {
  std::string event;
  std::string data;
};

// Parses one text frame. Errors (each says what was wrong): ResourceExhausted when the frame is
// larger than `max_bytes`; InvalidArgument when it is empty, not JSON, not an object, has no
// `event`, a non-string or empty `event`, or a duplicated `event`/`data` member.
absl::StatusOr<WsMessage> ParseWsMessage(std::string_view text,
                                         size_t max_bytes = kMaxWsMessageBytes);

}  // namespace autosync::gateway
