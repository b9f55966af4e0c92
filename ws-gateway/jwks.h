// JSON Web Key Sets (RFC 7517, RFC 7518 §6) for the gateway's token verification: a JWKS
// document parsed into the RSA and EC P-256 public keys it holds, looked up by `kid`, and the
// RS256 / ES256 signature checks against one of them. Pure functions of their inputs (no I/O).
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::gateway {

// The key types we verify with: `kty` RSA (RS256) and `kty` EC with `crv` P-256 (ES256).
enum class KeyType { kRsa, kEcP256 };
absl::string_view KeyTypeName(KeyType type);   // "RSA", "EC P-256"
absl::string_view AlgorithmFor(KeyType type);  // "RS256", "ES256"

// One public key. Immutable; the EVP_PKEY is shared by every key-set snapshot holding it and
// only read (EVP_DigestVerify on a const key is thread-safe in OpenSSL 3).
struct JsonWebKey {
  std::string kid;  // may be empty (a JWKS may omit `kid`)
  KeyType type = KeyType::kRsa;
  std::shared_ptr<EVP_PKEY> key;
};

// Bounds of a JWKS document: bigger documents, or more keys, are not a JWKS we accept.
inline constexpr size_t kMaxJwksBytes = 1 << 20;
inline constexpr size_t kMaxJwksKeys = 100;

// A parsed key set. Immutable once built; share it as shared_ptr<const JsonWebKeySet>.
class JsonWebKeySet final {
 public:
  // INVALID_ARGUMENT when `json` is not a JWKS: not a JSON object, no `keys` array, larger than
  // kMaxJwksBytes or holding more than kMaxJwksKeys entries. A key that cannot be used is
  // skipped with a reason (see skipped()), never failing the others: `use` other than "sig",
  // `kty` other than RSA / EC, `crv` other than P-256, an `alg` that does not fit the key (only
  // RS256 for RSA, ES256 for EC), malformed or missing members, an RSA modulus outside
  // 2048..8192 bits, an EC point not on the curve, or a `kid` seen earlier in the document.
  // A set whose every key was skipped is valid (and empty).
  static absl::StatusOr<JsonWebKeySet> Parse(absl::string_view json);

  const std::vector<JsonWebKey>& keys() const { return keys_; }
  // One line per skipped key: "key 3 (kid \"abc\"): kty \"oct\" is not RSA or EC".
  const std::vector<std::string>& skipped() const { return skipped_; }

  // The key with this `kid`, or null.
  const JsonWebKey* Find(absl::string_view kid) const;
  // How many keys have this type.
  size_t CountOf(KeyType type) const;
  // The only key of this type, or null when there are none or several.
  const JsonWebKey* OnlyKeyOf(KeyType type) const;

 private:
  std::vector<JsonWebKey> keys_;
  std::vector<std::string> skipped_;
};

// Checks a JWS signature (the raw, base64url-decoded bytes) over `signing_input` with `key`:
// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) for RSA keys, ES256 for EC keys, where the JOSE
// signature is r||s of exactly 64 bytes (RFC 7518 §3.4), converted to DER for OpenSSL.
// True only for a valid signature.
bool VerifyJwsSignature(const JsonWebKey& key, absl::string_view signing_input,
                        absl::string_view signature);

// Where a verifier gets its JWKS keys (the JwksCache, or a fixed set in tests). Thread-safe.
class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  // The current key set; UNAVAILABLE with the reason while no key set has been loaded yet.
  // Never waits on the network.
  virtual absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> Keys() const = 0;
  // A token named a key id the current set lacks: the keys may have rotated. Asks for a refresh
  // (the provider rate-limits it); returns at once.
  virtual void RequestRefresh() const = 0;
  // Why the last refresh failed (empty after a good one, or when the provider never refreshes),
  // for /health: the keys in use may be stale.
  virtual std::string LastRefreshError() const { return ""; }
};

// A KeyProvider over a fixed key set (tests, tools).
class FixedKeyProvider final : public KeyProvider {
 public:
  explicit FixedKeyProvider(JsonWebKeySet keys)
      : keys_(std::make_shared<const JsonWebKeySet>(std::move(keys))) {}
  absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> Keys() const override { return keys_; }
  void RequestRefresh() const override { refresh_requests_.fetch_add(1); }
  int refresh_requests() const { return refresh_requests_.load(); }

 private:
  std::shared_ptr<const JsonWebKeySet> keys_;
  mutable std::atomic<int> refresh_requests_{0};
};

// base64url (RFC 4648 §5) without padding; nullopt for other characters or an impossible length.
std::optional<std::string> Base64UrlDecode(absl::string_view text);

}  // namespace autosync::gateway
