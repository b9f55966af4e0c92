// Field readers over simdjson's DOM shared by the orders and insights parsers. Each returns
// INVALID_ARGUMENT naming the field path ("orders[3].total_price") so a bad answer from a store API
// can be traced to the exact value. Internal to the connectors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "simdjson.h"

namespace autosync::worker::json {

// Parses `body` (copied into a padded buffer); DATA_LOSS with simdjson's reason when it is not
// complete, valid JSON. `what` names the document in the message ("orders page").
absl::StatusOr<simdjson::dom::element> Parse(simdjson::dom::parser& parser, absl::string_view body,
                                             absl::string_view what);

// `value` as an object; INVALID_ARGUMENT "<path>: expected an object" otherwise.
absl::StatusOr<simdjson::dom::object> Object(simdjson::dom::element value, absl::string_view path);

// The member `key` of `object`, or nullopt when absent or null.
std::optional<simdjson::dom::element> Member(simdjson::dom::object object, absl::string_view key);

// The member `key` of `object`; INVALID_ARGUMENT "<path>.<key>: missing" when absent or null.
absl::StatusOr<simdjson::dom::element> Required(simdjson::dom::object object, absl::string_view key,
                                                absl::string_view path);
// A timestamp member (Timestamp below); "<path>.<key>: missing" when absent or null.
absl::StatusOr<absl::Time> RequiredTime(simdjson::dom::object object, absl::string_view key,
                                        absl::string_view path);
// A timestamp member (Timestamp below); nullopt when absent or null.
absl::StatusOr<std::optional<absl::Time>> OptionalTime(simdjson::dom::object object,
                                                       absl::string_view key,
                                                       absl::string_view path);

// A required/optional field of `object`; `path` is the object's path for messages.
absl::StatusOr<std::string> String(simdjson::dom::object object, absl::string_view key,
                                   absl::string_view path);
// Absent or null → "".
absl::StatusOr<std::string> OptionalString(simdjson::dom::object object, absl::string_view key,
                                           absl::string_view path);
// An integer id: a JSON integer in int64 range, or a string of decimal digits.
absl::StatusOr<int64_t> Int64(simdjson::dom::element value, absl::string_view field_path);
// A count as Meta sends it: a decimal string ("1234") or a JSON integer.
absl::StatusOr<int64_t> Count(simdjson::dom::element value, absl::string_view field_path);
// A money string ("123.45") → cents; JSON numbers are refused (they lose cents in binary).
absl::StatusOr<int64_t> MoneyCents(simdjson::dom::element value, absl::string_view field_path);
// An RFC 3339 timestamp with a UTC offset or "Z", fractional seconds allowed.
absl::StatusOr<absl::Time> Timestamp(simdjson::dom::element value, absl::string_view field_path);
absl::StatusOr<bool> Bool(simdjson::dom::element value, absl::string_view field_path);

// Reads a JSON string as an absl::string_view (simdjson hands out std::string_view, which this
// Abseil build does not accept implicitly). False when `value` is not a string.
bool GetString(simdjson::dom::element value, absl::string_view& out);

// `text` as a JSON string literal: quotes, backslashes and control characters escaped (for the
// request bodies the connectors write).
std::string Quote(absl::string_view text);

// "orders[3]" + ".name" helpers.
std::string Path(absl::string_view parent, absl::string_view key);
std::string Path(absl::string_view parent, size_t index);

}  // namespace autosync::worker::json
