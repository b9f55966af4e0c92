#include "ws-gateway/codec/ws_message.h"

#include <simdjson.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_text.h"
#include "ws-gateway/codec/json_parser.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

// One escaper for every service: common/json_text.h.
std::string JsonEscape(std::string_view text) { return common::JsonEscape(Av(text)); }

void AppendJsonString(std::string* out, std::string_view text) {
  common::AppendJsonString(*out, Av(text));
}

std::string JsonQuote(std::string_view text) { return common::JsonQuote(Av(text)); }

absl::StatusOr<std::string> ParseJsonString(std::string_view json) {
  simdjson::dom::element root;
  if (auto error = json_internal::ThreadParser().parse(json.data(), json.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON string: ", simdjson::error_message(error)));
  }
  std::string_view value;
  if (root.get_string().get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a JSON string, got ",
        Av(json_internal::TypeName(json.substr(json_internal::SkipWhitespace(json, 0))))));
  }
  return std::string(value);
}

namespace json_internal {

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser p;
    if (p.allocate(4096, kMaxJsonDepth) != simdjson::SUCCESS) {
      // Not fatal: parse() allocates on demand and reports a failure there.
    }
    return p;
  }();
  return parser;
}

size_t SkipWhitespace(std::string_view json, size_t pos) {
  while (pos < json.size() && IsJsonWhitespace(json[pos])) ++pos;
  return pos;
}

size_t SkipValue(std::string_view json, size_t pos) {
  if (pos >= json.size()) return pos;
  const char first = json[pos];
  if (first != '"' && first != '[' && first != '{') {
    // A scalar ends at the next structural character or whitespace.
    while (pos < json.size()) {
      const char c = json[pos];
      if (c == ',' || c == ']' || c == '}' || IsJsonWhitespace(c)) break;
      ++pos;
    }
    return pos;
  }
  size_t depth = 0;
  bool in_string = false;
  for (; pos < json.size(); ++pos) {
    const char c = json[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return pos + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return pos + 1;
    }
  }
  return json.size();  // unterminated (only possible on invalid input)
}

std::vector<std::string_view> ArrayElements(std::string_view valid_array) {
  std::vector<std::string_view> elements;
  size_t pos = SkipWhitespace(valid_array, 0) + 1;  // past '['
  pos = SkipWhitespace(valid_array, pos);
  while (pos < valid_array.size() && valid_array[pos] != ']') {
    const size_t end = SkipValue(valid_array, pos);
    elements.push_back(valid_array.substr(pos, end - pos));
    pos = SkipWhitespace(valid_array, end);
    if (pos < valid_array.size() && valid_array[pos] == ',') {
      pos = SkipWhitespace(valid_array, pos + 1);
    }
  }
  return elements;
}

std::vector<std::string_view> ObjectValues(std::string_view valid_object) {
  std::vector<std::string_view> values;
  size_t pos = SkipWhitespace(valid_object, 0) + 1;  // past '{'
  pos = SkipWhitespace(valid_object, pos);
  while (pos < valid_object.size() && valid_object[pos] != '}') {
    pos = SkipWhitespace(valid_object, SkipValue(valid_object, pos));  // the key
    pos = SkipWhitespace(valid_object, pos + 1);                       // past ':'
    const size_t end = SkipValue(valid_object, pos);
    values.push_back(valid_object.substr(pos, end - pos));
    pos = SkipWhitespace(valid_object, end);
    if (pos < valid_object.size() && valid_object[pos] == ',') {
      pos = SkipWhitespace(valid_object, pos + 1);
    }
  }
  return values;
}

std::string_view TypeName(std::string_view valid_value) {
  if (valid_value.empty()) return "nothing";
  switch (valid_value.front()) {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    default:
      return "a number";
  }
}

}  // namespace json_internal

std::string EncodeWsEvent(std::string_view name, std::string_view json_data) {
  constexpr std::string_view kHead = R"({"event":)";
  constexpr std::string_view kData = R"(,"data":)";
  if (json_data.empty()) json_data = "null";
  std::string out;
  out.reserve(kHead.size() + name.size() + 2 + kData.size() + json_data.size() + 1);
  out.append(kHead);
  AppendJsonString(&out, name);
  out.append(kData);
  out.append(json_data);
  out.push_back('}');
  return out;
}

absl::StatusOr<WsMessage> ParseWsMessage(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "ws message of ", text.size(), " bytes is over the limit of ", max_bytes, " bytes"));
  }
  const size_t start = json_internal::SkipWhitespace(text, 0);
  if (start == text.size()) return absl::InvalidArgumentError("ws message is empty");
  simdjson::dom::element root;
  if (auto error = json_internal::ThreadParser().parse(text.data(), text.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("ws message is not valid JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("ws message must be a JSON object like {\"event\":\"…\",\"data\":…}, got ",
                     Av(json_internal::TypeName(text.substr(start)))));
  }
  const std::vector<std::string_view> raw_values = json_internal::ObjectValues(text.substr(start));
  WsMessage message;
  bool has_event = false;
  bool has_data = false;
  size_t index = 0;
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string_view raw = index < raw_values.size() ? raw_values[index] : "";
    ++index;
    if (field.key == "event") {
      if (has_event) return absl::InvalidArgumentError("ws message has more than one \"event\"");
      has_event = true;
      std::string_view name;
      if (field.value.get_string().get(name) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ws message \"event\" must be a string, got ", Av(json_internal::TypeName(raw))));
      }
      if (name.empty()) return absl::InvalidArgumentError("ws message \"event\" is empty");
      message.event = std::string(name);
    } else if (field.key == "data") {
      if (has_data) return absl::InvalidArgumentError("ws message has more than one \"data\"");
      has_data = true;
      message.data = std::string(raw);
    }
  }
  if (!has_event) return absl::InvalidArgumentError("ws message has no \"event\" member");
  if (!has_data) message.data = "null";
  return message;
}

}  // namespace autosync::gateway
