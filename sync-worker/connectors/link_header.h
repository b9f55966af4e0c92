// Parsing of the HTTP `Link` header (RFC 8288) as Shopify uses it for cursor paging:
// `<https://…?page_info=abc>; rel="previous", <https://…?page_info=def>; rel="next"`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::worker {

struct LinkValue {
  std::string url;                // the target as written between < and >
  std::vector<std::string> rels;  // relation types, lower-cased ("next", "previous")
};

// Parses a Link header value: several comma-separated links, parameters in any case, quoted or
// bare values, backslash escapes in quoted strings, optional whitespace anywhere RFC 8288 allows
// it, and commas or semicolons inside <…> or quotes. Only the first `rel` of a link counts
// (RFC 8288 §3.3); a rel value may list several space-separated types. An empty header yields no
// links. INVALID_ARGUMENT for a malformed header (missing '<' or '>', unterminated quote).
absl::StatusOr<std::vector<LinkValue>> ParseLinkHeader(absl::string_view header);

struct PageLinks {
  std::optional<std::string> next;
  std::optional<std::string> previous;  // rel="previous" or rel="prev"
};

// The next/previous targets of a Link header; the first link of each relation wins.
absl::StatusOr<PageLinks> ParsePageLinks(absl::string_view header);

// The decoded `page_info` cursor of a Shopify page URL, or nullopt when it has none.
std::optional<std::string> PageInfoFromUrl(absl::string_view url);

}  // namespace autosync::worker
