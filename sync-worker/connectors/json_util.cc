#include "sync-worker/connectors/json_util.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/money.h"

namespace autosync::worker::json {
namespace {

absl::string_view TypeName(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "an unknown value";
}

absl::Status WrongType(absl::string_view path, absl::string_view expected,
                       simdjson::dom::element value) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": expected ", expected, ", got ", TypeName(value.type())));
}

}  // namespace

bool GetString(simdjson::dom::element value, absl::string_view& out) {
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) return false;
  out = absl::string_view(text.data(), text.size());
  return true;
}

std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::string Path(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string Path(absl::string_view parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::StatusOr<simdjson::dom::element> Parse(simdjson::dom::parser& parser, absl::string_view body,
                                             absl::string_view what) {
  simdjson::dom::element root;
  const simdjson::error_code error = parser.parse(body.data(), body.size(), true).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::DataLossError(absl::StrCat(what, " is not valid JSON (", body.size(), " bytes; ",
                                            simdjson::error_message(error), ")"));
  }
  return root;
}

absl::StatusOr<simdjson::dom::object> Object(simdjson::dom::element value, absl::string_view path) {
  simdjson::dom::object obj;
  if (value.get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected an object"));
  }
  return obj;
}

std::optional<simdjson::dom::element> Member(simdjson::dom::object object, absl::string_view key) {
  simdjson::dom::element value;
  if (object.at_key(std::string_view(key.data(), key.size())).get(value) != simdjson::SUCCESS ||
      value.is_null())
    return std::nullopt;
  return value;
}

absl::StatusOr<std::string> String(simdjson::dom::object object, absl::string_view key,
                                   absl::string_view path) {
  const std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value) return absl::InvalidArgumentError(absl::StrCat(Path(path, key), ": missing"));
  absl::string_view text;
  if (!GetString(*value, text)) return WrongType(Path(path, key), "a string", *value);
  return std::string(text);
}

absl::StatusOr<std::string> OptionalString(simdjson::dom::object object, absl::string_view key,
                                           absl::string_view path) {
  if (!Member(object, key)) return std::string();
  return String(object, key, path);
}

absl::StatusOr<int64_t> Int64(simdjson::dom::element value, absl::string_view field_path) {
  int64_t number = 0;
  if (value.is_int64() && value.get(number) == simdjson::SUCCESS) return number;
  absl::string_view text;
  if (GetString(value, text)) {
    if (!text.empty() && text.find_first_not_of("-0123456789") == absl::string_view::npos &&
        absl::SimpleAtoi(text, &number)) {
      return number;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(field_path, ": expected an integer id, got \"", text.substr(0, 40), "\""));
  }
  if (value.is_uint64()) {
    return absl::InvalidArgumentError(absl::StrCat(field_path, ": integer out of int64 range"));
  }
  return WrongType(field_path, "an integer", value);
}

absl::StatusOr<int64_t> Count(simdjson::dom::element value, absl::string_view field_path) {
  int64_t number = 0;
  if (value.is_int64() && value.get(number) == simdjson::SUCCESS) {
    if (number < 0) return absl::InvalidArgumentError(absl::StrCat(field_path, ": negative count"));
    return number;
  }
  absl::string_view text;
  if (GetString(value, text)) {
    if (!text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos &&
        absl::SimpleAtoi(text, &number)) {
      return number;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(field_path, ": expected a whole count, got \"", text.substr(0, 40), "\""));
  }
  return WrongType(field_path, "a count", value);
}

absl::StatusOr<int64_t> MoneyCents(simdjson::dom::element value, absl::string_view field_path) {
  absl::string_view text;
  if (!GetString(value, text)) {
    return WrongType(field_path, "a decimal string", value);
  }
  absl::StatusOr<int64_t> cents = ParseMoneyCents(text);
  if (!cents.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field_path, ": ", cents.status().message()));
  }
  return cents;
}

absl::StatusOr<absl::Time> Timestamp(simdjson::dom::element value, absl::string_view field_path) {
  absl::string_view text;
  if (!GetString(value, text)) {
    return WrongType(field_path, "an RFC 3339 timestamp string", value);
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(field_path, ": not an RFC 3339 timestamp: \"",
                                                   text.substr(0, 40), "\" (", error, ")"));
  }
  // absl::ParseTime reads %Y and %m as "any number of digits", so it takes "20204-1-01T..." or a
  // year so large the instant is infinite (found by tests/fuzz/orders_page_fuzz). RFC 3339
  // wants exactly YYYY-MM-DDTHH:MM:SS, and the writer can only store years 0001-9999 in UTC.
  const auto digits = [&](size_t from, size_t count) {
    for (size_t i = from; i < from + count; ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    }
    return true;
  };
  const bool shape = text.size() >= 19 && digits(0, 4) && text[4] == '-' && digits(5, 2) &&
                     text[7] == '-' && digits(8, 2) && digits(11, 2) && text[13] == ':' &&
                     digits(14, 2) && text[16] == ':' && digits(17, 2);
  const int64_t year = absl::ToCivilSecond(time, absl::UTCTimeZone()).year();
  if (!shape || year < 1 || year > 9999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_path, ": not an RFC 3339 timestamp in years 0001-9999: \"",
                     text.substr(0, 40), "\""));
  }
  return time;
}

absl::StatusOr<bool> Bool(simdjson::dom::element value, absl::string_view field_path) {
  bool flag = false;
  if (value.get(flag) != simdjson::SUCCESS) return WrongType(field_path, "a boolean", value);
  return flag;
}

absl::StatusOr<simdjson::dom::element> Required(simdjson::dom::object object, absl::string_view key,
                                                absl::string_view path) {
  std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value) return absl::InvalidArgumentError(absl::StrCat(Path(path, key), ": missing"));
  return *value;
}

absl::StatusOr<absl::Time> RequiredTime(simdjson::dom::object object, absl::string_view key,
                                        absl::string_view path) {
  absl::StatusOr<simdjson::dom::element> value = Required(object, key, path);
  if (!value.ok()) return value.status();
  return Timestamp(*value, Path(path, key));
}

absl::StatusOr<std::optional<absl::Time>> OptionalTime(simdjson::dom::object object,
                                                       absl::string_view key,
                                                       absl::string_view path) {
  std::optional<simdjson::dom::element> value = Member(object, key);
  if (!value) return std::optional<absl::Time>();
  absl::StatusOr<absl::Time> time = Timestamp(*value, Path(path, key));
  if (!time.ok()) return time.status();
  return std::optional<absl::Time>(*time);
}

}  // namespace autosync::worker::json
