// JWKS parsing (good RSA and EC keys, skipped keys, documents that are not a JWKS), RS256 /
// ES256 verification with keys made by the OpenSSL API at test time, algorithm confusion,
// iss / aud / exp / kid refusals, the role and stores claims, and the JwksCache's refresh rules
// with a fake fetcher.
#include "ws-gateway/jwks.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "ws-gateway/auth.h"
#include "ws-gateway/jwks_cache.h"
#include "ws-gateway/jwt.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr char kClaims[] = R"({"sub":"alice","stores":["a"],"exp":1700000600})";

std::shared_ptr<EVP_PKEY> NewRsaKey() {
  return {EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), EVP_PKEY_free};
}
std::shared_ptr<EVP_PKEY> NewEcKey() {
  return {EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free};
}

std::string BnBytes(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1) << name;
  std::string out(pad > 0 ? static_cast<size_t>(pad) : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  if (pad > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  BN_free(bn);
  return out;
}

// The public JWK of a key; `extra` are more members (`"use":"sig"`), without a leading comma.
std::string Jwk(EVP_PKEY* key, const std::string& kid, const std::string& extra = "") {
  std::string members;
  if (EVP_PKEY_is_a(key, "RSA")) {
    members =
        absl::StrCat(R"("kty":"RSA","n":")", Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_RSA_N)),
                     R"(","e":")", Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_RSA_E)), "\"");
  } else {
    members =
        absl::StrCat(R"("kty":"EC","crv":"P-256","x":")",
                     Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)), R"(","y":")",
                     Base64UrlEncode(BnBytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)), "\"");
  }
  if (!kid.empty()) absl::StrAppend(&members, R"(,"kid":")", kid, "\"");
  if (!extra.empty()) absl::StrAppend(&members, ",", extra);
  return absl::StrCat("{", members, "}");
}

std::string Jwks(const std::vector<std::string>& keys) {
  return absl::StrCat(R"({"keys":[)", absl::StrJoin(keys, ","), "]}");
}

// A JWS signed with `key`: RS256 for RSA, ES256 (r||s) for EC.
std::string Sign(EVP_PKEY* key, const std::string& header, const std::string& payload) {
  const std::string input = absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(payload));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  if (EVP_PKEY_is_a(key, "EC")) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecdsa);
    sig = raw;
  }
  return absl::StrCat(input, ".", Base64UrlEncode(sig));
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

// Keys made once for the whole suite (RSA key generation is the slow part).
struct Keys {
  std::shared_ptr<EVP_PKEY> rsa = NewRsaKey();
  std::shared_ptr<EVP_PKEY> rsa2 = NewRsaKey();
  std::shared_ptr<EVP_PKEY> ec = NewEcKey();
  std::shared_ptr<EVP_PKEY> ec2 = NewEcKey();
};
const Keys& K() {
  static const Keys* keys = new Keys();
  return *keys;
}

TEST(JwksParseTest, ReadsRsaAndEcKeysByKid) {
  auto set = JsonWebKeySet::Parse(Jwks({Jwk(K().rsa.get(), "r1", R"("use":"sig","alg":"RS256")"),
                                        Jwk(K().ec.get(), "e1", R"("alg":"ES256")")}));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(set->keys(), SizeIs(2));
  EXPECT_THAT(set->skipped(), IsEmpty());
  ASSERT_NE(set->Find("r1"), nullptr);
  EXPECT_EQ(set->Find("r1")->type, KeyType::kRsa);
  ASSERT_NE(set->Find("e1"), nullptr);
  EXPECT_EQ(set->Find("e1")->type, KeyType::kEcP256);
  EXPECT_EQ(set->Find("nope"), nullptr);
  EXPECT_EQ(set->OnlyKeyOf(KeyType::kRsa), set->Find("r1"));
}

TEST(JwksParseTest, SkipsUnusableKeysWithAReasonAndKeepsTheOthers) {
  const std::string good = Jwk(K().ec.get(), "good");
  const std::string n = Base64UrlEncode(std::string(128, '\xab'));  // 1024 bits
  const std::string off_curve = Base64UrlEncode(std::string(32, '\x01'));
  const std::vector<std::string> bad = {
      Jwk(K().rsa.get(), "enc", R"("use":"enc")"),
      R"({"kty":"oct","kid":"hmac","k":"c2VjcmV0"})",
      R"({"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"})",
      Jwk(K().rsa.get(), "ps", R"("alg":"PS256")"),
      Jwk(K().ec.get(), "rs-on-ec", R"("alg":"RS256")"),
      R"({"kty":"RSA","kid":"bad-b64","n":"!!!","e":"AQAB"})",
      absl::StrCat(R"({"kty":"RSA","kid":"short","n":")", n, R"(","e":"AQAB"})"),
      absl::StrCat(R"({"kty":"EC","crv":"P-256","kid":"off","x":")", off_curve, R"(","y":")",
                   off_curve, R"("})"),
      R"({"kty":"RSA","kid":"no-n","e":"AQAB"})",
      R"({"kid":"no-kty"})",
      R"({"kty":"EC","kid":7})",
      R"("not an object")",
      Jwk(K().ec2.get(), "good"),  // a kid already used
  };
  std::vector<std::string> all = {good};
  all.insert(all.end(), bad.begin(), bad.end());
  auto set = JsonWebKeySet::Parse(Jwks(all));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_THAT(set->keys(), SizeIs(1));
  EXPECT_EQ(set->keys()[0].kid, "good");
  ASSERT_THAT(set->skipped(), SizeIs(bad.size()));
  const std::string reasons = absl::StrJoin(set->skipped(), "\n");
  for (const char* expected :
       {"use \"enc\" is not sig", "kty \"oct\" is not RSA or EC", "crv \"P-384\" is not P-256",
        "alg \"PS256\" is not RS256", "alg \"RS256\" is not ES256", "n is not base64url",
        "outside 2048..8192", "not on P-256", "no string member n", "no string member kty",
        "kid is not a string", "not a JSON object", "kid already used"}) {
    EXPECT_THAT(reasons, HasSubstr(expected));
  }
}

TEST(JwksParseTest, RefusesDocumentsThatAreNotAJwks) {
  for (const std::string& doc :
       {std::string("garbage"), std::string("[]"), std::string("{}"), std::string(R"({"keys":{}})"),
        std::string(R"({"keys":"x"})"), std::string("")}) {
    EXPECT_EQ(JsonWebKeySet::Parse(doc).status().code(), absl::StatusCode::kInvalidArgument) << doc;
  }
  std::string big = Jwks({Jwk(K().ec.get(), "e")});
  big.insert(big.size() - 1, std::string(kMaxJwksBytes, ' '));
  EXPECT_THAT(std::string(JsonWebKeySet::Parse(big).status().message()), HasSubstr("larger"));
  std::vector<std::string> many(kMaxJwksKeys + 1, R"({"kty":"oct"})");
  EXPECT_THAT(std::string(JsonWebKeySet::Parse(Jwks(many)).status().message()),
              HasSubstr("more than"));
  // Every key skipped is still a (useless) JWKS.
  auto empty = JsonWebKeySet::Parse(R"({"keys":[{"kty":"oct"}]})");
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(empty->keys(), IsEmpty());
}

class JwksVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = JsonWebKeySet::Parse(
        Jwks({Jwk(K().rsa.get(), "r1"), Jwk(K().ec.get(), "e1"), Jwk(K().ec2.get(), "e2")}));
    ASSERT_TRUE(set.ok()) << set.status();
    provider_ = std::make_shared<FixedKeyProvider>(*std::move(set));
    options_.jwks = provider_;
  }
  absl::StatusOr<JwtClaims> Verify(const std::string& token) {
    return JwtVerifier(options_).Verify(token, kNow);
  }
  static std::string Message(const absl::StatusOr<JwtClaims>& r) {
    return std::string(r.status().message());
  }

  std::shared_ptr<FixedKeyProvider> provider_;
  JwtOptions options_;
};

TEST_F(JwksVerifyTest, AcceptsRs256AndEs256TokensSignedByTheNamedKey) {
  auto rs = Verify(Sign(K().rsa.get(), R"({"alg":"RS256","kid":"r1"})", kClaims));
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->subject, "alice");
  EXPECT_TRUE(rs->AllowsStore("a"));
  EXPECT_EQ(rs->role, Role::kOperator);  // no role claim: the default
  auto es = Verify(Sign(K().ec2.get(), R"({"alg":"ES256","kid":"e2"})", kClaims));
  ASSERT_TRUE(es.ok()) << es.status();
  // Signed by another key than the kid names.
  EXPECT_THAT(Message(Verify(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e2"})", kClaims))),
              HasSubstr("bad signature"));
  EXPECT_THAT(Message(Verify(Sign(K().rsa2.get(), R"({"alg":"RS256","kid":"r1"})", kClaims))),
              HasSubstr("bad signature"));
}

TEST_F(JwksVerifyTest, RefusesTamperedAndMisshapenSignatures) {
  const std::string token = Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})", kClaims);
  const size_t dot = token.rfind('.');
  const std::string forged = absl::StrCat(
      token.substr(0, token.find('.') + 1),
      Base64UrlEncode(R"({"sub":"alice","stores":"*","exp":1700000600})"), token.substr(dot));
  EXPECT_THAT(Message(Verify(forged)), HasSubstr("bad signature"));
  // An ES256 signature must be r||s of 64 bytes, not DER.
  EXPECT_THAT(Message(Verify(absl::StrCat(token.substr(0, dot + 1),
                                          Base64UrlEncode(std::string(70, '\x30'))))),
              HasSubstr("bad signature"));
  EXPECT_THAT(Message(Verify(absl::StrCat(token.substr(0, dot + 1)))), HasSubstr("bad signature"));
}

TEST_F(JwksVerifyTest, AlgorithmConfusionIsRefused) {
  // The classic attack: HS256 "signed" with the RSA public key (PEM) as the HMAC secret.
  const std::string pem = PublicPem(K().rsa.get());
  const std::string confused = SignJwtHs256(R"({"alg":"HS256","kid":"r1"})", kClaims, pem);
  EXPECT_THAT(Message(Verify(confused)), HasSubstr("is not RS256 or ES256"));
  // With an HS256 secret configured too, the token is checked only with that secret.
  options_.hs256_secret = "the-real-hs256-secret-0123";
  EXPECT_THAT(Message(Verify(confused)), HasSubstr("bad signature"));
  // An RS256 token is never checked with the HMAC secret.
  const std::string rs_with_secret =
      absl::StrCat(SignJwtHs256(R"({"alg":"RS256","kid":"r1"})", kClaims, options_.hs256_secret));
  EXPECT_THAT(Message(Verify(rs_with_secret)), HasSubstr("bad signature"));
  JwtVerifier hs_only(std::string("the-real-hs256-secret-0123"));
  EXPECT_THAT(
      std::string(
          hs_only.Verify(Sign(K().rsa.get(), R"({"alg":"RS256","kid":"r1"})", kClaims), kNow)
              .status()
              .message()),
      HasSubstr("is not HS256"));
  // A kid naming a key of another type than the alg.
  EXPECT_THAT(Message(Verify(Sign(K().ec.get(), R"({"alg":"RS256","kid":"e1"})", kClaims))),
              HasSubstr("not one for RS256"));
  EXPECT_THAT(Message(Verify(Sign(K().rsa.get(), R"({"alg":"ES256","kid":"r1"})", kClaims))),
              HasSubstr("not one for ES256"));
  // none stays refused.
  EXPECT_THAT(Message(Verify(absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".",
                                          Base64UrlEncode(kClaims), "."))),
              HasSubstr("is not"));
}

TEST_F(JwksVerifyTest, UnknownKidIsRefusedAndAsksForARefresh) {
  EXPECT_EQ(provider_->refresh_requests(), 0);
  auto r = Verify(Sign(K().rsa2.get(), R"({"alg":"RS256","kid":"r2"})", kClaims));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(Message(r), HasSubstr("unknown key id"));
  EXPECT_EQ(provider_->refresh_requests(), 1);
}

TEST_F(JwksVerifyTest, ATokenWithoutKidUsesTheOnlyKeyOfItsAlgorithm) {
  auto rs = Verify(Sign(K().rsa.get(), R"({"alg":"RS256"})", kClaims));
  EXPECT_TRUE(rs.ok()) << rs.status();
  // Two EC keys: ambiguous, refused rather than tried in turn.
  EXPECT_THAT(Message(Verify(Sign(K().ec.get(), R"({"alg":"ES256"})", kClaims))),
              HasSubstr("holds 2 EC P-256 keys, not exactly one"));
}

TEST_F(JwksVerifyTest, IssuerAudienceAndExpiry) {
  options_.issuer = "https://idp.example.com/";
  options_.audience = "autosync";
  const std::string header = R"({"alg":"ES256","kid":"e1"})";
  auto sign = [&](const std::string& claims) { return Sign(K().ec.get(), header, claims); };
  const std::string base = R"("stores":"*","exp":1700000600)";
  EXPECT_TRUE(Verify(sign(absl::StrCat(R"({"iss":"https://idp.example.com/","aud":"autosync",)",
                                       base, "}")))
                  .ok());
  EXPECT_TRUE(
      Verify(sign(absl::StrCat(R"({"iss":"https://idp.example.com/","aud":["other","autosync"],)",
                               base, "}")))
          .ok());
  EXPECT_THAT(Message(Verify(sign(
                  absl::StrCat(R"({"iss":"https://idp.example.com/","aud":"other",)", base, "}")))),
              HasSubstr("wrong audience"));
  EXPECT_THAT(
      Message(Verify(sign(absl::StrCat(R"({"iss":"https://idp.example.com/",)", base, "}")))),
      HasSubstr("no aud"));
  EXPECT_THAT(Message(Verify(sign(absl::StrCat(
                  R"({"iss":"https://evil.example.com/","aud":"autosync",)", base, "}")))),
              HasSubstr("wrong issuer"));
  EXPECT_THAT(
      Message(Verify(sign(
          R"({"iss":"https://idp.example.com/","aud":"autosync","stores":"*","exp":1699999999})"))),
      HasSubstr("expired"));
  options_.leeway = absl::Seconds(30);
  EXPECT_TRUE(
      Verify(
          sign(
              R"({"iss":"https://idp.example.com/","aud":"autosync","stores":"*","exp":1699999999})"))
          .ok());
  EXPECT_THAT(
      Message(Verify(sign(
          R"({"iss":"https://idp.example.com/","aud":"autosync","stores":"*","exp":1699999900})"))),
      HasSubstr("expired"));
}

TEST_F(JwksVerifyTest, RoleClaimMapping) {
  auto role_of = [&](const std::string& claims) -> absl::StatusOr<Role> {
    auto r = Verify(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})", claims));
    if (!r.ok()) return r.status();
    return r->role;
  };
  const std::string base = R"("stores":"*","exp":1700000600)";
  EXPECT_EQ(*role_of(absl::StrCat(R"({"role":"admin",)", base, "}")), Role::kAdmin);
  options_.role_claim = "groups";
  // The highest known role wins; other names are ignored.
  EXPECT_EQ(*role_of(absl::StrCat(R"({"groups":["staff","viewer","operator",7],)", base, "}")),
            Role::kOperator);
  // A claim naming no known role gives no role: no check passes.
  auto none = Verify(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})",
                          absl::StrCat(R"({"groups":["staff"],)", base, "}")));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->role, Role::kNone);
  EXPECT_FALSE(none->Can(Role::kViewer));
  EXPECT_EQ(RoleName(none->role), "none");
  // Claim absent: the default role.
  options_.default_role = Role::kViewer;
  EXPECT_EQ(*role_of(absl::StrCat(R"({"role":"admin",)", base, "}")), Role::kViewer);
  // Neither a string nor an array.
  EXPECT_THAT(
      std::string(
          role_of(absl::StrCat(R"({"groups":{"admin":true},)", base, "}")).status().message()),
      HasSubstr("groups claim is not a string or an array of strings"));
  // A dotted name that is no top-level member is a path (Keycloak's realm_access.roles).
  options_.role_claim = "realm_access.roles";
  EXPECT_EQ(*role_of(absl::StrCat(R"({"realm_access":{"roles":["admin"]},)", base, "}")),
            Role::kAdmin);
  // A top-level member with dots in its name (Auth0's namespaced claims) is found as is.
  options_.role_claim = "https://autosync.example/role";
  EXPECT_EQ(*role_of(absl::StrCat(R"({"https://autosync.example/role":"operator",)", base, "}")),
            Role::kOperator);
  // The stores claim can be renamed the same way.
  options_.stores_claim = "shops";
  auto shops = Verify(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})",
                           R"({"shops":["s1","s2"],"exp":1700000600})"));
  ASSERT_TRUE(shops.ok()) << shops.status();
  EXPECT_TRUE(shops->AllowsStore("s2"));
  EXPECT_THAT(Message(Verify(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})", kClaims))),
              HasSubstr("no shops claim"));
}

// A fetcher answering from a script: each Fetch takes the next answer (the last one repeats).
class FakeFetcher final : public JwksFetcher {
 public:
  void Push(absl::StatusOr<std::string> answer) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(std::move(answer));
  }
  absl::StatusOr<std::string> Fetch(const std::string&, absl::Duration,
                                    const std::atomic<bool>&) override {
    absl::MutexLock lock(&mu_);
    times_.push_back(absl::Now());
    absl::StatusOr<std::string> answer = answers_.front();
    if (answers_.size() > 1) answers_.pop_front();
    return answer;
  }
  std::vector<absl::Time> times() {
    absl::MutexLock lock(&mu_);
    return times_;
  }

 private:
  absl::Mutex mu_;
  std::deque<absl::StatusOr<std::string>> answers_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> times_ ABSL_GUARDED_BY(mu_);
};

class JwksCacheTest : public ::testing::Test {
 protected:
  void Start(JwksCacheOptions options) {
    options.url = "http://127.0.0.1:1/jwks";
    auto fetcher = std::make_unique<FakeFetcher>();
    fetcher_ = fetcher.get();
    for (auto& a : script_) fetcher_->Push(a);
    cache_ = std::make_shared<JwksCache>(options, std::move(fetcher), registry_);
    cache_->Start();
  }
  // Waits (bounded) until the cache has finished `n` fetches.
  void WaitForRefreshes(int64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (cache_->refreshes() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
    ASSERT_GE(cache_->refreshes(), n);
  }

  prometheus::Registry registry_;
  std::vector<absl::StatusOr<std::string>> script_;
  FakeFetcher* fetcher_ = nullptr;
  std::shared_ptr<JwksCache> cache_;
};

TEST_F(JwksCacheTest, RefusesEveryJwksTokenBeforeTheFirstGoodFetchAndSaysWhy) {
  script_ = {absl::UnavailableError("connection refused")};
  Start({.url = "", .refresh_interval = absl::Hours(1), .min_refresh_interval = absl::Hours(1)});
  WaitForRefreshes(1);
  JwtOptions options;
  options.jwks = cache_;
  const Authenticator auth{JwtVerifier(options)};
  auto refused =
      auth.Authenticate(Sign(K().ec.get(), R"({"alg":"ES256","kid":"e1"})", kClaims), kNow);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("no JWKS keys loaded: no JWKS fetched yet: connection refused"));
  EXPECT_THAT(auth.HealthMembers(), HasSubstr(R"("jwks":{"ready":false,"keys":0,"reason":)"));
  EXPECT_EQ(fetcher_->times().size(), 1u);
}

TEST_F(JwksCacheTest, OnlyAGoodFetchWithUsableKeysReplacesTheSet) {
  script_ = {absl::UnavailableError("connection refused"),
             std::string("garbage"),
             Jwks({Jwk(K().ec.get(), "e1")}),
             std::string(R"({"keys":[]})"),
             absl::DeadlineExceededError("no answer"),
             Jwks({Jwk(K().ec2.get(), "e2")})};
  Start({.url = "",
         .refresh_interval = absl::Milliseconds(1),
         .min_refresh_interval = absl::Milliseconds(1)});
  WaitForRefreshes(6);
  // Fetch 3 loaded e1; 4 (no usable key) and 5 (timeout) kept it; 6 replaced it with e2.
  auto keys = cache_->Keys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_NE((*keys)->Find("e2"), nullptr);
  EXPECT_EQ((*keys)->Find("e1"), nullptr);
  JwtOptions options;
  options.jwks = cache_;
  const Authenticator auth{JwtVerifier(options)};
  EXPECT_TRUE(
      auth.Authenticate(Sign(K().ec2.get(), R"({"alg":"ES256","kid":"e2"})", kClaims), kNow).ok());
  EXPECT_THAT(auth.HealthMembers(), HasSubstr(R"("jwks":{"ready":true,"keys":1)"));
  cache_->Stop();
  // ok: at least fetch 3 and 6; invalid: 2 and 4; fetch_error: 1 and 5.
  double ok = 0, invalid = 0, fetch_error = 0;
  for (const auto& family : registry_.Collect()) {
    if (family.name != "autosync_gateway_jwks_refresh_total") continue;
    for (const auto& metric : family.metric) {
      const std::string& outcome = metric.label[0].value;
      (outcome == "ok" ? ok : outcome == "invalid" ? invalid : fetch_error) += metric.counter.value;
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_EQ(invalid, 2);
  EXPECT_EQ(fetch_error, 2);
}

TEST_F(JwksCacheTest, KeepsTheLastGoodSetWhenRefreshesFail) {
  script_ = {Jwks({Jwk(K().ec.get(), "e1")}), std::string("garbage")};
  Start({.url = "",
         .refresh_interval = absl::Milliseconds(1),
         .min_refresh_interval = absl::Milliseconds(1)});
  WaitForRefreshes(3);
  auto keys = cache_->Keys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_NE((*keys)->Find("e1"), nullptr);
  EXPECT_THAT(cache_->LastRefreshError(), HasSubstr("not JSON"));
  JwtOptions options;
  options.jwks = cache_;
  const Authenticator auth{JwtVerifier(options)};
  EXPECT_THAT(auth.HealthMembers(), HasSubstr(R"("lastError":"JWKS is not JSON")"));
}

TEST_F(JwksCacheTest, AnUnknownKidRefreshesNoSoonerThanTheMinimumInterval) {
  script_ = {Jwks({Jwk(K().ec.get(), "e1")})};
  const absl::Duration min_interval = absl::Milliseconds(300);
  Start({.url = "", .refresh_interval = absl::Hours(1), .min_refresh_interval = min_interval});
  WaitForRefreshes(1);
  // Many requests in a burst: one fetch, and not before the minimum interval.
  for (int i = 0; i < 50; ++i) cache_->RequestRefresh();
  WaitForRefreshes(2);
  const std::vector<absl::Time> times = fetcher_->times();
  ASSERT_GE(times.size(), 2u);
  // Lower bound only (a slow machine makes the gap longer, never shorter); the margin covers the
  // fake recording its time a moment after the cache noted the first fetch's start.
  EXPECT_GE(times[1] - times[0], min_interval - absl::Milliseconds(20));
  cache_->Stop();
  EXPECT_EQ(fetcher_->times().size(), 2u);
}

}  // namespace
}  // namespace autosync::gateway
