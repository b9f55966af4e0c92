// JSON Web Tokens for the gateway's clients: verification of HS256 (a shared secret) and of
// RS256 / ES256 (keys of a JWKS, see jwks.h), `exp` required, `nbf` honoured, `iss` / `aud` when
// configured, and the claims naming the caller's role and stores. Signing HS256 exists for tests
// and tools. Pure functions of their inputs, the given time and the key provider's current keys.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ws-gateway/jwks.h"

namespace autosync::gateway {

// What a caller may do (the role claim, see JwtOptions), each role including the ones before
// it: a viewer reads; an operator also triggers, pauses, resumes and re-syncs; an admin also
// creates, edits, deletes and backfills. A token without the role claim gets
// JwtOptions::default_role (operator unless configured: what every token could do before roles
// existed); a role claim naming no known role gives kNone, which no check passes (403 wherever a
// role is needed); dev mode makes every caller an admin.
enum class Role { kNone = -1, kViewer = 0, kOperator = 1, kAdmin = 2 };
absl::string_view RoleName(Role role);

struct JwtClaims {
  std::string subject;              // `sub`, may be empty
  std::vector<std::string> stores;  // `stores`: ids, or "*" for every store
  absl::Time expires = absl::InfinitePast();
  Role role = Role::kOperator;

  bool Can(Role needed) const { return static_cast<int>(role) >= static_cast<int>(needed); }

  // True when the `stores` claim lists `store_id` or "*".
  bool AllowsStore(absl::string_view store_id) const;
  bool AllowsAllStores() const;
};

// Parses a role name ("viewer", "operator", "admin"); nullopt for anything else.
std::optional<Role> RoleFromName(absl::string_view name);

// What a JwtVerifier accepts.
struct JwtOptions {
  // The raw HMAC key for HS256 (--jwt_secret_file); empty: HS256 tokens are refused.
  std::string hs256_secret;
  // The JWKS keys for RS256 / ES256 (--jwks_url); null: those tokens are refused.
  std::shared_ptr<const KeyProvider> jwks;
  // When not empty, `iss` must equal it / `aud` (a string or an array of strings) must hold it.
  // They apply to every token, HS256 included.
  std::string issuer;
  std::string audience;
  // The claim holding the role: a string or an array of strings, the highest of viewer /
  // operator / admin present wins, other names are ignored; none known gives Role::kNone. The
  // claim absent gives `default_role`. A claim name with dots that is not a top-level member is
  // looked up as a path ("realm_access.roles").
  std::string role_claim = "role";
  Role default_role = Role::kOperator;
  // The claim holding the store ids (a string or an array of strings, "*" = every store); same
  // lookup as `role_claim`. Required.
  std::string stores_claim = "stores";
  // Clock skew allowed on `exp` and `nbf`.
  absl::Duration leeway = absl::ZeroDuration();
};

class JwtVerifier final {
 public:
  // HS256 only: `secret` is the raw HMAC key (the contents of --jwt_secret_file, trailing
  // newline removed).
  explicit JwtVerifier(std::string secret) { options_.hs256_secret = std::move(secret); }
  explicit JwtVerifier(JwtOptions options) : options_(std::move(options)) {}

  // UNAUTHENTICATED with a reason a client may see (never a key): malformed token, bad
  // base64url or JSON, an `alg` not configured (always "none"; HS256 only with a secret,
  // RS256 / ES256 only with a JWKS: a token is checked only with a key of its own algorithm, so
  // an HS256 token is never checked against a public key and an RS256 one never against the
  // secret), "unknown key id" (a `kid` the JWKS lacks: a refresh is requested), a `kid` whose key
  // does not fit `alg`, a token without `kid` when not exactly one JWKS key fits its alg, no
  // JWKS loaded yet, bad signature, missing or past `exp`, future `nbf`, wrong `iss` / `aud`,
  // the stores claim missing or not a string / array of strings, the role claim not a string or
  // array.
  absl::StatusOr<JwtClaims> Verify(absl::string_view token, absl::Time now) const;

  const JwtOptions& options() const { return options_; }

 private:
  JwtOptions options_;
};

// base64url without padding (RFC 7515 §2).
std::string Base64UrlEncode(absl::string_view bytes);

// `<b64url(header)>.<b64url(payload)>.<b64url(HMAC-SHA256)>`, the JSON texts used verbatim.
std::string SignJwtHs256(absl::string_view header_json, absl::string_view payload_json,
                         absl::string_view secret);

// Reads a secret file; trailing whitespace is dropped. Errors name the problem, never the content.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace autosync::gateway
