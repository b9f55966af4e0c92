// Fuzzes the Link header parser and the URL helpers the store-API clients page with
// (sync-worker/connectors/link_header.h, url.h). Input: a header, a newline, then an origin
// and a next-page URL separated by a newline. Invariants: parsed links serialise back to a
// header with the same links; targets are trimmed and rels lower-case single words; a resolved
// next-page URL always has the API's own origin (the access token never leaves it); percent
// encoding round-trips; redaction leaves no value of the redacted parameter.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sync-worker/connectors/link_header.h"
#include "sync-worker/connectors/url.h"

namespace {

namespace w = autosync::worker;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "link_header invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

std::string Quote(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void CheckHeader(absl::string_view header) {
  absl::StatusOr<std::vector<w::LinkValue>> links = w::ParseLinkHeader(header);
  absl::StatusOr<w::PageLinks> page = w::ParsePageLinks(header);
  if (links.ok() != page.ok()) Fail("ParsePageLinks disagrees with ParseLinkHeader", header);
  if (!links.ok()) {
    if (links.status().code() != absl::StatusCode::kInvalidArgument) Fail("error code", header);
    return;
  }
  std::string rebuilt;
  for (const w::LinkValue& link : *links) {
    if (absl::StrContains(link.url, '>')) Fail("target holds '>'", header);
    if (absl::StripAsciiWhitespace(link.url) != link.url) Fail("target not trimmed", header);
    for (const std::string& rel : link.rels) {
      if (rel.empty() || absl::StrContains(rel, ' ') || absl::StrContains(rel, '\t')) {
        Fail("rel not a single word", header);
      }
      if (absl::AsciiStrToLower(rel) != rel) Fail("rel not lower-case", header);
    }
    if (!rebuilt.empty()) rebuilt += ", ";
    absl::StrAppend(&rebuilt, "<", link.url, ">");
    if (!link.rels.empty())
      absl::StrAppend(&rebuilt, "; rel=", Quote(absl::StrJoin(link.rels, " ")));
  }
  absl::StatusOr<std::vector<w::LinkValue>> again = w::ParseLinkHeader(rebuilt);
  if (!again.ok() || again->size() != links->size()) Fail("rebuilt header does not parse", rebuilt);
  for (size_t i = 0; i < links->size(); ++i) {
    if ((*again)[i].url != (*links)[i].url || (*again)[i].rels != (*links)[i].rels) {
      Fail("rebuilt header parses to other links", rebuilt);
    }
  }
  if (page->next) (void)w::PageInfoFromUrl(*page->next);
}

void CheckUrls(absl::string_view base, absl::string_view next) {
  const std::optional<std::string> origin = w::UrlOrigin(base);
  if (origin) {
    if (w::UrlOrigin(*origin) != origin) Fail("UrlOrigin not idempotent", base);
    absl::StatusOr<std::string> resolved = w::ResolveSameOriginUrl(*origin, next, "next");
    if (resolved.ok()) {
      if (w::UrlOrigin(*resolved) != origin) Fail("resolved URL leaves the origin", next);
    } else if (resolved.status().code() != absl::StatusCode::kFailedPrecondition) {
      Fail("ResolveSameOriginUrl error code", next);
    }
  }
  // Percent-encoding round-trips any bytes, and the encoded text is a safe query value.
  const std::string encoded = w::UrlEncode(next);
  if (w::PercentDecode(encoded) != std::string(next)) Fail("UrlEncode/PercentDecode", next);
  if (encoded.find_first_of("&=#?+ ") != std::string::npos) Fail("unsafe byte in UrlEncode", next);
  const std::string url = absl::StrCat("https://h/p?a=1&page_info=", encoded, "&b=2");
  if (w::PageInfoFromUrl(url) != std::string(next)) Fail("page_info round trip", url);

  for (const absl::string_view name : {"access_token", "page_info"}) {
    const std::string redacted = w::RedactQueryParam(next, name);
    const std::optional<std::string> left = w::QueryParam(redacted, name);
    if (left && !left->empty() && *left != "REDACTED") Fail("secret survives redaction", next);
  }
  if (w::UrlWithoutQuery(next).find_first_of("?#") != absl::string_view::npos) {
    Fail("UrlWithoutQuery keeps a query", next);
  }
  // What is left between the "[REDACTED]" markers never holds the secret.
  if (!base.empty()) {
    for (const absl::string_view piece :
         absl::StrSplit(w::RedactSecret(next, base), "[REDACTED]")) {
      if (absl::StrContains(piece, base)) Fail("RedactSecret leaves the secret", next);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t first = input.find('\n');
  CheckHeader(input.substr(0, first));
  if (first == absl::string_view::npos) return 0;
  const absl::string_view rest = input.substr(first + 1);
  const size_t second = rest.find('\n');
  CheckUrls(rest.substr(0, second),
            second == absl::string_view::npos ? absl::string_view() : rest.substr(second + 1));
  return 0;
}
