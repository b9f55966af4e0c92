#include "tools/store-sim/http_types.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace autosync::storesim {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

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
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) {
        return absl::InvalidArgumentError("truncated percent-escape");
      }
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return absl::InvalidArgumentError("bad percent-escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(absl::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() * 3);
  for (unsigned char c : in) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

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
