// Socket-free HTTP request/response values for store-sim, plus query-string helpers. The Beast
// server converts to and from these, so all request handling is testable without a network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::storesim {

struct Request {
  std::string method = "GET";
  std::string target;  // path plus optional "?query", as sent on the request line
  // Header names are matched case-insensitively (HTTP/1.1), so any spelling works here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // First header value whose name equals `name` ignoring case.
  std::optional<std::string> Header(absl::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Faults: wait this long before answering; or close the connection without answering.
  int delay_ms = 0;
  bool drop_connection = false;
  // A large body shared with its owner and sent instead of `body` without being copied (bulk
  // operation files, hundreds of MB). Body() is whichever of the two is in use.
  std::shared_ptr<const std::string> shared_body;
  // Fault: the headers announce the whole body's Content-Length, but only this many bytes of
  // it are sent before the connection is closed. nullopt: the whole body.
  std::optional<size_t> cut_body_at;

  absl::string_view Body() const { return shared_body ? *shared_body : body; }
  std::optional<std::string> Header(absl::string_view name) const;
  void SetHeader(std::string name, std::string value);
};

// One decoded query parameter, keeping its raw form so links can echo the client's encoding.
struct QueryParam {
  std::string key;
  std::string value;
  std::string raw;  // "key=value" exactly as received
};

// Percent-decodes (and turns '+' into ' ', as HTML forms and most servers do). Returns an error
// for a truncated or non-hex escape.
absl::StatusOr<std::string> UrlDecode(absl::string_view in);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(absl::string_view in);

// Splits "path?query" and decodes the query. Error on a bad escape.
struct ParsedTarget {
  std::string path;
  std::vector<QueryParam> params;

  // Last value of `key` (the usual server behaviour for repeated keys), if present.
  std::optional<std::string> Get(absl::string_view key) const;
  bool Has(absl::string_view key) const { return Get(key).has_value(); }
};
absl::StatusOr<ParsedTarget> ParseTarget(absl::string_view target);

}  // namespace autosync::storesim
