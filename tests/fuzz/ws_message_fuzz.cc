// Fuzzes the plain /ws framing and the JSON text helpers (ws-gateway/ws_message.h). The whole
// input is one client frame. Invariants: an accepted frame has a non-empty event and a `data`
// that is valid JSON; EncodeWsEvent(event, data) parses back to the same message; escaping any
// bytes gives a valid JSON string that parses back to the input (valid UTF-8) or to the input
// with U+FFFD replacements; the raw `data` slice is exactly one JSON value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ws-gateway/codec/ws_message.h"

namespace {

namespace gw = autosync::gateway;

void Fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "ws_message invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// True when `s` is valid UTF-8 without surrogates or overlong forms (what JsonEscape keeps).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<gw::WsMessage> message = gw::ParseWsMessage(input);
  if (message.ok()) {
    if (message->event.empty()) Fail("empty event accepted", input);
    if (message->data.empty()) Fail("empty data", input);
    // `data` is the raw text of one JSON value: it must parse on its own.
    const std::string wrapped = "{\"event\":\"x\",\"data\":" + message->data + "}";
    absl::StatusOr<gw::WsMessage> data_only = gw::ParseWsMessage(wrapped, wrapped.size());
    if (!data_only.ok() || data_only->data != message->data)
      Fail("data is not one JSON value", input);

    const std::string encoded = gw::EncodeWsEvent(message->event, message->data);
    absl::StatusOr<gw::WsMessage> again = gw::ParseWsMessage(encoded, encoded.size());
    if (!again.ok()) Fail("EncodeWsEvent of a parsed frame does not parse", input);
    if (again->event != message->event || again->data != message->data) {
      Fail("EncodeWsEvent/ParseWsMessage round trip changed the frame", input);
    }
  } else {
    const absl::StatusCode code = message.status().code();
    if (code != absl::StatusCode::kInvalidArgument &&
        code != absl::StatusCode::kResourceExhausted) {
      Fail("unexpected error code", input);
    }
  }

  // Any bytes escape to a JSON string literal that parses back.
  const std::string quoted = gw::JsonQuote(input);
  if (quoted != "\"" + gw::JsonEscape(input) + "\"") Fail("JsonQuote != quoted JsonEscape", input);
  absl::StatusOr<std::string> unquoted = gw::ParseJsonString(quoted);
  if (!unquoted.ok()) Fail("JsonQuote output is not a JSON string", input);
  if (ValidUtf8(input) && *unquoted != input) Fail("escaping valid UTF-8 is not lossless", input);
  if (!ValidUtf8(*unquoted)) Fail("escaped text is not valid UTF-8", input);

  // The input itself as a JSON string, when it is one.
  absl::StatusOr<std::string> parsed = gw::ParseJsonString(input);
  if (parsed.ok()) {
    absl::StatusOr<std::string> reparsed = gw::ParseJsonString(gw::JsonQuote(*parsed));
    if (!reparsed.ok() || (ValidUtf8(*parsed) && *reparsed != *parsed)) {
      Fail("ParseJsonString/JsonQuote round trip", input);
    }
  }
  return 0;
}
