#include "ws-gateway/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "simdjson.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// A NumericDate (RFC 7519 §2) as a time. JSON allows numbers far outside int64 seconds
// ("exp":1e300); casting those to int64 is undefined behaviour, so they saturate instead.
absl::Time FromNumericDate(double seconds) {
  if (seconds >= 9.2e18) return absl::InfiniteFuture();
  if (seconds <= -9.2e18) return absl::InfinitePast();
  return absl::FromUnixSeconds(static_cast<int64_t>(seconds));
}

absl::Status Refused(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("invalid token: ", why));
}

// The claim named `name`: a top-level member, else, for a dotted name, the path through nested
// objects ("realm_access.roles"). NO_SUCH_FIELD when absent.
simdjson::simdjson_result<simdjson::dom::element> Claim(simdjson::dom::element doc,
                                                        absl::string_view name) {
  simdjson::dom::element found;
  auto direct = doc[std::string_view(name.data(), name.size())];
  if (direct.error() == simdjson::SUCCESS || name.find('.') == absl::string_view::npos) {
    return direct;
  }
  found = doc;
  for (absl::string_view segment : absl::StrSplit(name, '.')) {
    simdjson::dom::object object;
    if (found.get_object().get(object) != simdjson::SUCCESS) return simdjson::NO_SUCH_FIELD;
    if (object[std::string_view(segment.data(), segment.size())].get(found) != simdjson::SUCCESS) {
      return simdjson::NO_SUCH_FIELD;
    }
  }
  return found;
}

// A claim that is a string or an array of strings, as a list; nullopt for other types.
// `skip_non_strings`: array members of other types are ignored instead of refused.
std::optional<std::vector<std::string>> StringList(simdjson::dom::element value,
                                                   bool skip_non_strings) {
  std::vector<std::string> out;
  if (value.is_string()) {
    out.emplace_back(value.get_string().value_unsafe());
    return out;
  }
  simdjson::dom::array list;
  if (value.get_array().get(list) != simdjson::SUCCESS) return std::nullopt;
  for (simdjson::dom::element item : list) {
    if (!item.is_string()) {
      if (skip_non_strings) continue;
      return std::nullopt;
    }
    out.emplace_back(item.get_string().value_unsafe());
  }
  return out;
}

absl::StatusOr<JwtClaims> ReadClaims(simdjson::dom::element claims_doc, const JwtOptions& options,
                                     absl::Time now) {
  JwtClaims claims;
  simdjson::dom::element exp_el;
  if (claims_doc["exp"].get(exp_el) != simdjson::SUCCESS || !exp_el.is_number()) {
    return Refused("no numeric exp claim");
  }
  claims.expires = FromNumericDate(exp_el.get_double().value_unsafe());
  if (now >= claims.expires + options.leeway) return Refused("expired");
  simdjson::dom::element nbf_el;
  if (claims_doc["nbf"].get(nbf_el) == simdjson::SUCCESS) {
    if (!nbf_el.is_number()) return Refused("nbf is not a number");
    if (now + options.leeway < FromNumericDate(nbf_el.get_double().value_unsafe())) {
      return Refused("not valid yet (nbf)");
    }
  }
  if (!options.issuer.empty()) {
    std::string_view iss;
    if (claims_doc["iss"].get_string().get(iss) != simdjson::SUCCESS)
      return Refused("no iss claim");
    if (iss != options.issuer) return Refused("wrong issuer (iss)");
  }
  if (!options.audience.empty()) {
    simdjson::dom::element aud_el;
    if (claims_doc["aud"].get(aud_el) != simdjson::SUCCESS) return Refused("no aud claim");
    const std::optional<std::vector<std::string>> aud = StringList(aud_el, false);
    if (!aud) return Refused("aud is not a string or an array of strings");
    if (std::find(aud->begin(), aud->end(), options.audience) == aud->end()) {
      return Refused("wrong audience (aud)");
    }
  }
  std::string_view sub;
  if (claims_doc["sub"].get_string().get(sub) == simdjson::SUCCESS) claims.subject = sub;

  simdjson::dom::element stores;
  if (Claim(claims_doc, options.stores_claim).get(stores) != simdjson::SUCCESS) {
    return Refused(absl::StrCat("no ", options.stores_claim, " claim"));
  }
  std::optional<std::vector<std::string>> store_list = StringList(stores, false);
  if (!store_list) {
    return Refused(absl::StrCat(
        options.stores_claim, stores.is_array() ? " claim holds a non-string"
                                                : " claim is not a string or an array of strings"));
  }
  claims.stores = *std::move(store_list);

  simdjson::dom::element role;
  if (Claim(claims_doc, options.role_claim).get(role) != simdjson::SUCCESS) {
    claims.role = options.default_role;
    return claims;
  }
  // IdPs put roles and groups in one list: unknown names are ignored, the highest known wins.
  const std::optional<std::vector<std::string>> names = StringList(role, true);
  if (!names) {
    return Refused(
        absl::StrCat(options.role_claim, " claim is not a string or an array of strings"));
  }
  claims.role = Role::kNone;
  for (const std::string& name : *names) {
    const std::optional<Role> known = RoleFromName(name);
    if (known && static_cast<int>(*known) > static_cast<int>(claims.role)) claims.role = *known;
  }
  return claims;
}

}  // namespace

bool JwtClaims::AllowsAllStores() const {
  for (const std::string& s : stores) {
    if (s == "*") return true;
  }
  return false;
}

bool JwtClaims::AllowsStore(absl::string_view store_id) const {
  for (const std::string& s : stores) {
    if (s == "*" || s == store_id) return true;
  }
  return false;
}

std::string Base64UrlEncode(absl::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::string SignJwtHs256(absl::string_view header_json, absl::string_view payload_json,
                         absl::string_view secret) {
  std::string signing_input =
      absl::StrCat(Base64UrlEncode(header_json), ".", Base64UrlEncode(payload_json));
  const std::string mac = HmacSha256(secret, signing_input);
  return absl::StrCat(signing_input, ".", Base64UrlEncode(mac));
}

absl::StatusOr<JwtClaims> JwtVerifier::Verify(absl::string_view token, absl::Time now) const {
  if (token.empty()) return Refused("empty");
  if (token.size() > 8192) return Refused("longer than 8192 bytes");
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Refused("expected three dot-separated parts");
  const std::optional<std::string> header = Base64UrlDecode(parts[0]);
  const std::optional<std::string> payload = Base64UrlDecode(parts[1]);
  const std::optional<std::string> signature = Base64UrlDecode(parts[2]);
  if (!header || !payload || !signature) return Refused("bad base64url");

  simdjson::dom::parser parser;
  simdjson::dom::element header_doc;
  if (parser.parse(*header).get(header_doc) != simdjson::SUCCESS || !header_doc.is_object()) {
    return Refused("header is not a JSON object");
  }
  std::string_view alg;
  if (header_doc["alg"].get_string().get(alg) != simdjson::SUCCESS) {
    return Refused("header has no alg");
  }
  const bool hs256 = !options_.hs256_secret.empty();
  const bool jwks = options_.jwks != nullptr;
  // Only the algorithms configured, each checked with its own kind of key: refusing everything
  // else closes the "alg":"none" and algorithm-confusion holes (an HS256 token is never checked
  // with an RSA public key as its secret, an RS256 one never with the secret).
  // The refusal names the alg, escaped and cut short: it is caller-controlled text that ends up
  // in responses, close reasons and logs.
  const bool accepted = (alg == "HS256" && hs256) || ((alg == "RS256" || alg == "ES256") && jwks);
  if (!accepted) {
    const absl::string_view shown(alg.data(), std::min<size_t>(alg.size(), 32));
    return Refused(absl::StrCat("alg ", absl::CHexEscape(shown), " is not ",
                                hs256 && jwks ? "HS256, RS256 or ES256"
                                : hs256       ? "HS256"
                                              : "RS256 or ES256"));
  }

  const std::string signing_input = absl::StrCat(parts[0], ".", parts[1]);
  if (alg == "HS256") {
    const std::string expected = HmacSha256(options_.hs256_secret, signing_input);
    if (signature->size() != expected.size() ||
        CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
      return Refused("bad signature");
    }
  } else {
    const KeyType type = alg == "RS256" ? KeyType::kRsa : KeyType::kEcP256;
    absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> keys = options_.jwks->Keys();
    if (!keys.ok()) return Refused(absl::StrCat("no JWKS keys loaded: ", keys.status().message()));
    const JsonWebKey* key = nullptr;
    simdjson::dom::element kid_el;
    if (header_doc["kid"].get(kid_el) == simdjson::SUCCESS) {
      std::string_view kid;
      if (kid_el.get_string().get(kid) != simdjson::SUCCESS) return Refused("kid is not a string");
      key = (*keys)->Find(Av(kid));
      if (key == nullptr) {
        // Perhaps the keys rotated: the provider refreshes (rate-limited) for later tokens;
        // this one waits for nothing.
        options_.jwks->RequestRefresh();
        return Refused("unknown key id");
      }
      if (key->type != type) {
        return Refused(absl::StrCat("key id names an ", KeyTypeName(key->type),
                                    " key, not one for ", AlgorithmFor(type)));
      }
    } else {
      // No kid: only unambiguous when the set holds exactly one key of this algorithm.
      key = (*keys)->OnlyKeyOf(type);
      if (key == nullptr) {
        return Refused(absl::StrCat("no kid, and the JWKS holds ", (*keys)->CountOf(type), " ",
                                    KeyTypeName(type), " keys, not exactly one"));
      }
    }
    if (!VerifyJwsSignature(*key, signing_input, *signature)) return Refused("bad signature");
  }

  simdjson::dom::parser payload_parser;
  simdjson::dom::element claims_doc;
  if (payload_parser.parse(*payload).get(claims_doc) != simdjson::SUCCESS ||
      !claims_doc.is_object()) {
    return Refused("payload is not a JSON object");
  }
  return ReadClaims(claims_doc, options_, now);
}

std::optional<Role> RoleFromName(absl::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  absl::StatusOr<std::string> content = common::ReadFile(path);
  if (!content.ok()) return content.status();
  std::string secret(absl::StripTrailingAsciiWhitespace(*content));
  if (secret.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds fewer than 16 bytes: too short for an HMAC key"));
  }
  return secret;
}

}  // namespace autosync::gateway
