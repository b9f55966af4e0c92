#include "sync-worker/connectors/url.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/percent.h"

namespace autosync::worker {
namespace {

// The query part of `url` (between '?' and '#'), empty when there is none.
absl::string_view QueryOf(absl::string_view url) {
  const size_t hash = url.find('#');
  if (hash != absl::string_view::npos) url = url.substr(0, hash);
  const size_t q = url.find('?');
  if (q == absl::string_view::npos) return {};
  return url.substr(q + 1);
}

}  // namespace

std::string UrlEncode(absl::string_view value) { return common::PercentEncode(value); }

std::optional<std::string> PercentDecode(absl::string_view value) {
  absl::StatusOr<std::string> decoded = common::PercentDecode(value, common::PlusMeans::kPlus);
  if (!decoded.ok()) return std::nullopt;
  return *std::move(decoded);
}

std::optional<std::string> QueryParam(absl::string_view url, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(QueryOf(url), '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    const absl::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    if (eq == absl::string_view::npos) return std::string();
    return PercentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string> UrlOrigin(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::nullopt;
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  absl::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  const absl::string_view authority = rest.substr(0, authority_end);
  if (authority.empty()) return std::nullopt;
  return absl::StrCat(scheme, "://", absl::AsciiStrToLower(authority));
}

std::string RedactQueryParam(absl::string_view url, absl::string_view name) {
  std::string out;
  out.reserve(url.size());
  size_t i = 0;
  const size_t query_start = url.find('?');
  if (query_start == absl::string_view::npos) return std::string(url);
  absl::StrAppend(&out, url.substr(0, query_start + 1));
  i = query_start + 1;
  while (i <= url.size()) {
    size_t end = url.find_first_of("&#", i);
    if (end == absl::string_view::npos) end = url.size();
    const absl::string_view pair = url.substr(i, end - i);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name && eq != absl::string_view::npos) {
      absl::StrAppend(&out, pair.substr(0, eq + 1), "REDACTED");
    } else {
      absl::StrAppend(&out, pair);
    }
    if (end == url.size()) break;
    out.push_back(url[end]);
    if (url[end] == '#') {
      absl::StrAppend(&out, url.substr(end + 1));
      break;
    }
    i = end + 1;
  }
  return out;
}

absl::string_view UrlWithoutQuery(absl::string_view url) {
  const size_t cut = url.find_first_of("?#");
  return cut == absl::string_view::npos ? url : url.substr(0, cut);
}

std::string RedactSecret(absl::string_view text, absl::string_view secret) {
  if (secret.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{secret, "[REDACTED]"}});
}

absl::StatusOr<std::string> ResolveSameOriginUrl(absl::string_view origin,
                                                 absl::string_view next_url,
                                                 absl::string_view what) {
  if (absl::StartsWith(next_url, "/")) return absl::StrCat(origin, next_url);
  const std::optional<std::string> next_origin = UrlOrigin(next_url);
  if (next_origin != origin) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " points to ", next_origin ? *next_origin : std::string("a non-http(s) URL"),
        ", not ", origin, "; refusing to send the access token there"));
  }
  return std::string(next_url);
}

}  // namespace autosync::worker
