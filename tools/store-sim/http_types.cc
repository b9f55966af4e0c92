#include "tools/store-sim/http_types.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/percent.h"

namespace autosync::storesim {
std::optional<std::string> Request::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

std::optional<std::string> Response::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

void Response::SetHeader(std::string name, std::string value) {
  for (auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

absl::StatusOr<std::string> UrlDecode(absl::string_view in) {
  return common::PercentDecode(in, common::PlusMeans::kSpace);
}

std::string UrlEncode(absl::string_view in) { return common::PercentEncode(in); }

std::optional<std::string> ParsedTarget::Get(absl::string_view key) const {
  std::optional<std::string> found;
  for (const auto& p : params) {
    if (p.key == key) found = p.value;
  }
  return found;
}

absl::StatusOr<ParsedTarget> ParseTarget(absl::string_view target) {
  ParsedTarget parsed;
  size_t q = target.find('?');
  auto path = UrlDecode(target.substr(0, q));
  if (!path.ok()) return path.status();
  parsed.path = *std::move(path);
  if (q == absl::string_view::npos) return parsed;
  for (absl::string_view piece : absl::StrSplit(target.substr(q + 1), '&', absl::SkipEmpty())) {
    size_t eq = piece.find('=');
    auto key = UrlDecode(piece.substr(0, eq));
    if (!key.ok()) return key.status();
    std::string value;
    if (eq != absl::string_view::npos) {
      auto v = UrlDecode(piece.substr(eq + 1));
      if (!v.ok()) return v.status();
      value = *std::move(v);
    }
    parsed.params.push_back({*std::move(key), std::move(value), std::string(piece)});
  }
  return parsed;
}

}  // namespace autosync::storesim
