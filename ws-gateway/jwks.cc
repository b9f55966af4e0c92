#include "ws-gateway/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Caller-controlled text shown in a reason: escaped and cut short.
std::string Shown(std::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(Av(text.substr(0, 40))), "\"");
}

// Builds a public key from OSSL_PARAMs ("RSA" or "EC"); null when OpenSSL refuses them.
std::shared_ptr<EVP_PKEY> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (params == nullptr) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return nullptr;
  std::shared_ptr<EVP_PKEY> key(pkey, EVP_PKEY_free);
  // fromdata takes the numbers as given: check the key itself (an EC point on the curve).
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

// A base64url member decoded, or the reason it cannot be.
absl::StatusOr<std::string> Member(simdjson::dom::object jwk, std::string_view name) {
  std::string_view text;
  if (jwk[name].get_string().get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("no string member ", Av(name)));
  }
  std::optional<std::string> bytes = Base64UrlDecode(Av(text));
  if (!bytes || bytes->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(name), " is not base64url"));
  }
  return *std::move(bytes);
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> RsaKey(simdjson::dom::object jwk) {
  absl::StatusOr<std::string> n = Member(jwk, "n");
  if (!n.ok()) return n.status();
  absl::StatusOr<std::string> e = Member(jwk, "e");
  if (!e.ok()) return e.status();
  // Leading zero bytes are not allowed by RFC 7518 §6.3.1.1 but are harmless: ignore them.
  const size_t first = std::min(n->find_first_not_of('\0'), n->size());
  const size_t bits = (n->size() - first) * 8;
  if (bits < 2048 || bits > 8192) {
    return absl::InvalidArgumentError(
        absl::StrCat("RSA modulus of about ", bits, " bits is outside 2048..8192"));
  }
  if (e->size() > 8) return absl::InvalidArgumentError("RSA exponent longer than 8 bytes");
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  if (bn_n == nullptr || bn_e == nullptr) return absl::InternalError("out of memory");
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
    return absl::InvalidArgumentError("RSA exponent is not an odd number above 1");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return absl::InternalError("out of memory");
  }
  std::shared_ptr<EVP_PKEY> key = FromData("RSA", bld.get());
  if (key == nullptr) return absl::InvalidArgumentError("OpenSSL refused the RSA key");
  return key;
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> EcKey(simdjson::dom::object jwk) {
  std::string_view crv;
  if (jwk["crv"].get_string().get(crv) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("no string member crv");
  }
  if (crv != "P-256")
    return absl::InvalidArgumentError(absl::StrCat("crv ", Shown(crv), " is not P-256"));
  absl::StatusOr<std::string> x = Member(jwk, "x");
  if (!x.ok()) return x.status();
  absl::StatusOr<std::string> y = Member(jwk, "y");
  if (!y.ok()) return y.status();
  if (x->size() != 32 || y->size() != 32) {
    return absl::InvalidArgumentError("x and y must be 32 bytes each for P-256");
  }
  // The uncompressed point encoding (SEC 1 §2.3.3): 0x04 || x || y.
  std::string point = absl::StrCat("\x04", *x, *y);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return absl::InternalError("out of memory");
  }
  std::shared_ptr<EVP_PKEY> key = FromData("EC", bld.get());
  if (key == nullptr) return absl::InvalidArgumentError("the EC point is not on P-256");
  return key;
}

// One entry of `keys`: the key, or why it is skipped.
absl::StatusOr<JsonWebKey> ParseKey(simdjson::dom::element element) {
  simdjson::dom::object jwk;
  if (element.get_object().get(jwk) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  JsonWebKey key;
  simdjson::dom::element kid;
  if (jwk["kid"].get(kid) == simdjson::SUCCESS) {
    std::string_view text;
    if (kid.get_string().get(text) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("kid is not a string");
    }
    key.kid = std::string(text);
  }
  simdjson::dom::element use;
  if (jwk["use"].get(use) == simdjson::SUCCESS) {
    std::string_view text;
    if (use.get_string().get(text) != simdjson::SUCCESS || text != "sig") {
      return absl::InvalidArgumentError(
          absl::StrCat("use ", use.is_string() ? Shown(text) : "(not a string)", " is not sig"));
    }
  }
  std::string_view kty;
  if (jwk["kty"].get_string().get(kty) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("no string member kty");
  }
  if (kty == "RSA") {
    key.type = KeyType::kRsa;
  } else if (kty == "EC") {
    key.type = KeyType::kEcP256;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("kty ", Shown(kty), " is not RSA or EC"));
  }
  simdjson::dom::element alg;
  if (jwk["alg"].get(alg) == simdjson::SUCCESS) {
    std::string_view text;
    if (alg.get_string().get(text) != simdjson::SUCCESS || Av(text) != AlgorithmFor(key.type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("alg ", alg.is_string() ? Shown(text) : "(not a string)", " is not ",
                       AlgorithmFor(key.type), " (the only one we verify for ",
                       KeyTypeName(key.type), " keys)"));
    }
  }
  absl::StatusOr<std::shared_ptr<EVP_PKEY>> pkey =
      key.type == KeyType::kRsa ? RsaKey(jwk) : EcKey(jwk);
  if (!pkey.ok()) return pkey.status();
  key.key = *std::move(pkey);
  return key;
}

}  // namespace

absl::string_view KeyTypeName(KeyType type) { return type == KeyType::kRsa ? "RSA" : "EC P-256"; }

absl::string_view AlgorithmFor(KeyType type) { return type == KeyType::kRsa ? "RS256" : "ES256"; }

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

absl::StatusOr<JsonWebKeySet> JsonWebKeySet::Parse(absl::string_view json) {
  if (json.size() > kMaxJwksBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWKS of ", json.size(), " bytes is larger than ", kMaxJwksBytes));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWKS is not JSON");
  }
  simdjson::dom::array entries;
  if (!doc.is_object() || doc["keys"].get_array().get(entries) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("JWKS is not an object with a keys array");
  }
  if (entries.size() > kMaxJwksKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWKS holds ", entries.size(), " keys, more than ", kMaxJwksKeys));
  }
  JsonWebKeySet set;
  size_t index = 0;
  for (simdjson::dom::element entry : entries) {
    ++index;
    absl::StatusOr<JsonWebKey> key = ParseKey(entry);
    if (key.ok() && set.Find(key->kid) != nullptr) {
      key = absl::InvalidArgumentError("kid already used by an earlier key");
    }
    if (!key.ok()) {
      std::string_view kid;
      const bool named =
          entry.is_object() && entry["kid"].get_string().get(kid) == simdjson::SUCCESS;
      set.skipped_.push_back(absl::StrCat("key ", index,
                                          named ? absl::StrCat(" (kid ", Shown(kid), ")") : "",
                                          ": ", key.status().message()));
      continue;
    }
    set.keys_.push_back(*std::move(key));
  }
  return set;
}

const JsonWebKey* JsonWebKeySet::Find(absl::string_view kid) const {
  for (const JsonWebKey& key : keys_) {
    if (key.kid == kid) return &key;
  }
  return nullptr;
}

size_t JsonWebKeySet::CountOf(KeyType type) const {
  return static_cast<size_t>(std::count_if(
      keys_.begin(), keys_.end(), [type](const JsonWebKey& key) { return key.type == type; }));
}

const JsonWebKey* JsonWebKeySet::OnlyKeyOf(KeyType type) const {
  const JsonWebKey* found = nullptr;
  for (const JsonWebKey& key : keys_) {
    if (key.type != type) continue;
    if (found != nullptr) return nullptr;
    found = &key;
  }
  return found;
}

bool VerifyJwsSignature(const JsonWebKey& key, absl::string_view signing_input,
                        absl::string_view signature) {
  if (key.key == nullptr) return false;
  std::string der;
  absl::string_view checked = signature;
  if (key.type == KeyType::kEcP256) {
    // JOSE carries r||s (32 bytes each); OpenSSL verifies the DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
    BnPtr r(BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr));
    BnPtr s(BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr));
    if (sig == nullptr || r == nullptr || s == nullptr) return false;
    if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
    r.release();  // owned by sig now
    s.release();
    unsigned char* out = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &out);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    checked = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) != 1) {
    return false;
  }
  if (key.type == KeyType::kRsa &&
      EVP_PKEY_CTX_set_rsa_padding(EVP_MD_CTX_get_pkey_ctx(ctx.get()), RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(checked.data()),
                          checked.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

}  // namespace autosync::gateway
