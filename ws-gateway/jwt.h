// HS256 JSON Web Tokens for the gateway's clients: verification (signature with OpenSSL HMAC,
// `alg` must be HS256, `exp` required and checked, `nbf` honoured) and the `stores` claim.
// Signing exists for tests and tools. Pure functions of their inputs and the given time.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autosync::gateway {

// What a caller may do (claim `role`), each role including the ones before it: a viewer reads;
// an operator also triggers, pauses, resumes and re-syncs; an admin also creates, edits,
// deletes and backfills. A token without `role` is an operator (what every token could do
// before roles existed); dev mode makes every caller an admin.
enum class Role { kViewer = 0, kOperator = 1, kAdmin = 2 };
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

class JwtVerifier final {
 public:
  // `secret` is the raw HMAC key (the contents of --jwt_secret_file, trailing newline removed).
  explicit JwtVerifier(std::string secret) : secret_(std::move(secret)) {}

  // UNAUTHENTICATED with a reason a client may see (never the secret): malformed token, bad
  // base64url or JSON, `alg` other than HS256 (including "none"), bad signature, missing or
  // past `exp`, future `nbf`, `stores` missing or not a string / array of strings.
  absl::StatusOr<JwtClaims> Verify(absl::string_view token, absl::Time now) const;

 private:
  std::string secret_;
};

// base64url without padding (RFC 7515 §2).
std::string Base64UrlEncode(absl::string_view bytes);

// `<b64url(header)>.<b64url(payload)>.<b64url(HMAC-SHA256)>`, the JSON texts used verbatim.
std::string SignJwtHs256(absl::string_view header_json, absl::string_view payload_json,
                         absl::string_view secret);

// Reads a secret file; trailing whitespace is dropped. Errors name the problem, never the content.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace autosync::gateway
