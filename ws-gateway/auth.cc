#include "ws-gateway/auth.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "ws-gateway/route_match.h"

namespace autosync::gateway {

absl::StatusOr<JwtClaims> Authenticator::Authenticate(absl::string_view token,
                                                      absl::Time now) const {
  if (!verifier_.has_value()) {
    JwtClaims claims;
    claims.subject = "dev";
    claims.stores = {"*"};
    claims.expires = absl::InfiniteFuture();
    claims.role = Role::kAdmin;
    return claims;
  }
  if (token.empty()) return absl::UnauthenticatedError("a bearer token is required");
  return verifier_->Verify(token, now);
}

std::string Authenticator::HealthMembers() const {
  std::string out = absl::StrCat("\"auth\":\"", dev_mode() ? "dev" : "jwt",
                                 "\",\"devMode\":", dev_mode() ? "true" : "false");
  if (dev_mode() || verifier_->options().jwks == nullptr) return out;
  const KeyProvider& jwks = *verifier_->options().jwks;
  absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> keys = jwks.Keys();
  absl::StrAppend(&out, ",\"jwks\":{\"ready\":", keys.ok() ? "true" : "false",
                  ",\"keys\":", keys.ok() ? (*keys)->keys().size() : 0);
  if (!keys.ok()) {
    out += ",\"reason\":\"";
    common::AppendJsonEscaped(out, keys.status().message());
    out += "\"";
  }
  if (const std::string error = jwks.LastRefreshError(); !error.empty()) {
    out += ",\"lastError\":\"";
    common::AppendJsonEscaped(out, error);
    out += "\"";
  }
  out += "}";
  return out;
}

std::string TokenFromRequest(const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view target) {
  if (auto auth = HeaderValue(headers, "authorization")) {
    if (auto token = BearerToken(*auth)) return *token;
  }
  if (auto token = QueryParam(QueryOf(target), "token")) return *token;
  return "";
}

OriginPolicy::OriginPolicy(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {
  allow_all_ =
      allowed_.empty() || std::find(allowed_.begin(), allowed_.end(), "*") != allowed_.end();
  for (std::string& origin : allowed_) {
    absl::AsciiStrToLower(&origin);
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
  }
}

bool OriginPolicy::Allowed(std::optional<absl::string_view> origin) const {
  if (allow_all_ || !origin.has_value()) return true;
  const std::string lower = absl::AsciiStrToLower(*origin);
  return std::find(allowed_.begin(), allowed_.end(), lower) != allowed_.end();
}

}  // namespace autosync::gateway
