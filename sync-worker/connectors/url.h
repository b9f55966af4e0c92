// Small URL helpers the store-API connectors share: RFC 3986 percent-encoding of query values,
// reading one query parameter back, the origin of a URL (to keep a token on its own host) and
// redaction of secret query parameters before a URL goes into an error message or a log line.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::worker {

// Percent-encodes everything except RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~), so the
// result is safe as a query value whatever it holds ("+" becomes "%2B", space "%20").
std::string UrlEncode(absl::string_view value);

// Decodes %XX escapes ("+" stays "+": we only read URLs, never form bodies). Returns nullopt on a
// malformed escape.
std::optional<std::string> PercentDecode(absl::string_view value);

// The decoded value of the first query parameter `name` in `url`, or nullopt when absent.
// A fragment ("#...") is ignored.
std::optional<std::string> QueryParam(absl::string_view url, absl::string_view name);

// "scheme://authority" lower-cased ("https://shop.myshopify.com"), or nullopt when `url` is not an
// absolute http(s) URL.
std::optional<std::string> UrlOrigin(absl::string_view url);

// `url` with the value of every query parameter named `name` replaced by "REDACTED".
// Resolves a next-page link against the API's origin ("https://host:port"): a path is joined
// to it; an absolute URL must have that same origin, else FAILED_PRECONDITION naming `what`
// (so a token is never sent to another host).
absl::StatusOr<std::string> ResolveSameOriginUrl(absl::string_view origin,
                                                 absl::string_view next_url,
                                                 absl::string_view what);

std::string RedactQueryParam(absl::string_view url, absl::string_view name);

// `url` without its query and fragment: what a transport may safely put in an error message.
absl::string_view UrlWithoutQuery(absl::string_view url);

// `text` with every occurrence of `secret` replaced by "[REDACTED]" (a no-op for an empty secret):
// the last line of defence before a message built from server answers leaves the connector.
std::string RedactSecret(absl::string_view text, absl::string_view secret);

}  // namespace autosync::worker
