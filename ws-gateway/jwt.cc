#include "ws-gateway/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "simdjson.h"

namespace autosync::gateway {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::optional<std::string> Base64UrlDecode(absl::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = DecodeChar(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

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
  // Only the algorithm we configured: refusing everything else closes the "alg":"none" and
  // algorithm-confusion holes.
  // The refusal names the alg, escaped and cut short: it is caller-controlled text that ends up
  // in responses, close reasons and logs.
  if (alg != "HS256") {
    const absl::string_view shown(alg.data(), std::min<size_t>(alg.size(), 32));
    return Refused(absl::StrCat("alg ", absl::CHexEscape(shown), " is not HS256"));
  }

  const std::string signing_input = absl::StrCat(parts[0], ".", parts[1]);
  const std::string expected = HmacSha256(secret_, signing_input);
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return Refused("bad signature");
  }

  simdjson::dom::parser payload_parser;
  simdjson::dom::element claims_doc;
  if (payload_parser.parse(*payload).get(claims_doc) != simdjson::SUCCESS ||
      !claims_doc.is_object()) {
    return Refused("payload is not a JSON object");
  }
  JwtClaims claims;
  double exp = 0;
  simdjson::dom::element exp_el;
  if (claims_doc["exp"].get(exp_el) != simdjson::SUCCESS || !exp_el.is_number()) {
    return Refused("no numeric exp claim");
  }
  exp = exp_el.get_double().value_unsafe();
  claims.expires = FromNumericDate(exp);
  if (now >= claims.expires) return Refused("expired");
  simdjson::dom::element nbf_el;
  if (claims_doc["nbf"].get(nbf_el) == simdjson::SUCCESS) {
    if (!nbf_el.is_number()) return Refused("nbf is not a number");
    if (now < FromNumericDate(nbf_el.get_double().value_unsafe())) {
      return Refused("not valid yet (nbf)");
    }
  }
  std::string_view sub;
  if (claims_doc["sub"].get_string().get(sub) == simdjson::SUCCESS) claims.subject = sub;
  simdjson::dom::element stores;
  if (claims_doc["stores"].get(stores) != simdjson::SUCCESS) return Refused("no stores claim");
  if (stores.is_string()) {
    claims.stores.emplace_back(stores.get_string().value_unsafe());
  } else if (simdjson::dom::array list; stores.get_array().get(list) == simdjson::SUCCESS) {
    for (simdjson::dom::element item : list) {
      if (!item.is_string()) return Refused("stores claim holds a non-string");
      claims.stores.emplace_back(item.get_string().value_unsafe());
    }
  } else {
    return Refused("stores claim is not a string or an array of strings");
  }
  simdjson::dom::element role;
  if (claims_doc["role"].get(role) == simdjson::SUCCESS) {
    std::string_view name;
    if (role.get_string().get(name) != simdjson::SUCCESS) return Refused("role is not a string");
    if (name == "viewer") {
      claims.role = Role::kViewer;
    } else if (name == "operator") {
      claims.role = Role::kOperator;
    } else if (name == "admin") {
      claims.role = Role::kAdmin;
    } else {
      return Refused("role is not viewer, operator or admin");
    }
  }
  return claims;
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret(absl::StripTrailingAsciiWhitespace(content.str()));
  if (secret.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds fewer than 16 bytes: too short for an HMAC key"));
  }
  return secret;
}

}  // namespace autosync::gateway
