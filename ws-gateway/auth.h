// Who may use the gateway: JWT authentication (HS256 and/or JWKS keys, or the explicit dev mode
// without either) and the Origin allow-list for WebSocket upgrades and CORS. Thread-safe,
// immutable after start (the JWKS keys behind it refresh on their own thread).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ws-gateway/jwt.h"

namespace autosync::gateway {

class Authenticator final {
 public:
  // Dev mode: every caller is allowed every store.
  Authenticator() = default;
  explicit Authenticator(JwtVerifier verifier) : verifier_(std::move(verifier)) {}

  bool dev_mode() const { return !verifier_.has_value(); }

  // The caller's claims from `token` (empty when the caller sent none). UNAUTHENTICATED when a
  // token is required and missing or invalid. Dev mode ignores the token.
  absl::StatusOr<JwtClaims> Authenticate(absl::string_view token, absl::Time now) const;

  // The members /health reports about authentication, as JSON object members (no braces):
  // `"auth":"dev"|"jwt","devMode":…`, and with a JWKS `"jwks":{"ready":…,"keys":N}` plus
  // `"reason"` while no key set is loaded (every JWKS token is refused then) and `"lastError"`
  // when the latest refresh failed (the previous keys stay in use).
  std::string HealthMembers() const;

 private:
  std::optional<JwtVerifier> verifier_;
};

// The token of an HTTP request or WebSocket upgrade: `Authorization: Bearer`, else `?token=`.
std::string TokenFromRequest(const std::vector<std::pair<std::string, std::string>>& headers,
                             absl::string_view target);

class OriginPolicy final {
 public:
  // `allowed`: exact origins ("https://dash.example.com"); empty or containing "*" allows all.
  explicit OriginPolicy(std::vector<std::string> allowed);

  // A request without an Origin header (not a browser) is always allowed.
  bool Allowed(std::optional<absl::string_view> origin) const;
  bool allows_all() const { return allow_all_; }

 private:
  std::vector<std::string> allowed_;
  bool allow_all_ = false;
};

}  // namespace autosync::gateway
