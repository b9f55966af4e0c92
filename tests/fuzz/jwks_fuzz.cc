// Fuzzes the JWKS parser (ws-gateway/jwks.h) and the JWT header and claims parsing behind
// JwtVerifier (ws-gateway/jwt.h). The first byte picks the target:
//   even: the input is a JWKS document. Invariants: a parsed set holds at most kMaxJwksKeys
//         keys, each with a key, kids unique, every key found by its kid; keys + skipped = the
//         entries of `keys`.
//   odd:  the input is `header\npayload`, signed HS256 with a known secret so the verifier gets
//         past the signature into the header and claims. Invariants: only UNAUTHENTICATED
//         refusals; an accepted token has a future exp and at least one store entry.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "simdjson.h"
#include "ws-gateway/jwks.h"
#include "ws-gateway/jwt.h"

namespace {

namespace gw = autosync::gateway;

constexpr char kSecret[] = "fuzz-secret-0123456789";

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "jwks invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

void FuzzJwks(absl::string_view input) {
  absl::StatusOr<gw::JsonWebKeySet> set = gw::JsonWebKeySet::Parse(input);
  if (!set.ok()) {
    if (set.status().code() != absl::StatusCode::kInvalidArgument)
      Fail("not INVALID_ARGUMENT", input);
    return;
  }
  if (set->keys().size() > gw::kMaxJwksKeys) Fail("too many keys", input);
  for (const gw::JsonWebKey& key : set->keys()) {
    if (key.key == nullptr) Fail("a key without a key", input);
    if (set->Find(key.kid) != &key) Fail("kid not unique or not found", input);
  }
  simdjson::dom::parser parser;
  simdjson::dom::array entries;
  if (parser.parse(input.data(), input.size())["keys"].get_array().get(entries) !=
      simdjson::SUCCESS) {
    Fail("accepted without a keys array", input);
  }
  if (set->keys().size() + set->skipped().size() != entries.size()) {
    Fail("keys + skipped != entries", input);
  }
}

void FuzzJwt(absl::string_view input) {
  const size_t split = input.find('\n');
  const absl::string_view header = input.substr(0, split);
  const absl::string_view payload =
      split == absl::string_view::npos ? absl::string_view() : input.substr(split + 1);
  static const auto* keys = new std::shared_ptr<const gw::KeyProvider>(
      std::make_shared<gw::FixedKeyProvider>(*gw::JsonWebKeySet::Parse(R"({"keys":[]})")));
  gw::JwtOptions options;
  options.hs256_secret = kSecret;
  options.jwks = *keys;
  options.role_claim = "realm_access.roles";
  options.audience = "autosync";
  const gw::JwtVerifier verifier(options);
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  absl::StatusOr<gw::JwtClaims> claims =
      verifier.Verify(gw::SignJwtHs256(header, payload, kSecret), now);
  if (!claims.ok()) {
    if (claims.status().code() != absl::StatusCode::kUnauthenticated) {
      Fail("not UNAUTHENTICATED", input);
    }
    return;
  }
  if (claims->expires <= now) Fail("accepted an expired token", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    FuzzJwks(input);
  } else {
    FuzzJwt(input);
  }
  return 0;
}
