// HS256 verification: good tokens, every refusal, the stores claim.
#include "ws-gateway/jwt.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ws-gateway/auth.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "0123456789abcdef-secret";
constexpr char kHeader[] = R"({"alg":"HS256","typ":"JWT"})";
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

std::string Payload(absl::string_view stores, int64_t exp = 1'700'000'600) {
  return absl::StrCat(R"({"sub":"alice","stores":)", stores, R"(,"exp":)", exp, "}");
}

class JwtTest : public ::testing::Test {
 protected:
  absl::StatusOr<JwtClaims> Verify(const std::string& token) {
    return verifier_.Verify(token, kNow);
  }
  JwtVerifier verifier_{kSecret};
};

TEST_F(JwtTest, AcceptsAValidTokenAndReadsClaims) {
  auto claims = Verify(SignJwtHs256(kHeader, Payload(R"(["a","b"])"), kSecret));
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_TRUE(claims->AllowsStore("a"));
  EXPECT_TRUE(claims->AllowsStore("b"));
  EXPECT_FALSE(claims->AllowsStore("c"));
  EXPECT_FALSE(claims->AllowsAllStores());
}

TEST_F(JwtTest, StarGrantsEveryStore) {
  auto claims = Verify(SignJwtHs256(kHeader, Payload(R"("*")"), kSecret));
  ASSERT_TRUE(claims.ok());
  EXPECT_TRUE(claims->AllowsStore("anything"));
  EXPECT_TRUE(claims->AllowsAllStores());
}

TEST_F(JwtTest, RefusesExpiredTokensAndFutureNbf) {
  auto expired = Verify(SignJwtHs256(kHeader, Payload(R"("*")", 1'699'999'999), kSecret));
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(expired.status().message()), HasSubstr("expired"));
  auto nbf =
      Verify(SignJwtHs256(kHeader, R"({"stores":"*","exp":1700000600,"nbf":1700000100})", kSecret));
  EXPECT_THAT(std::string(nbf.status().message()), HasSubstr("nbf"));
  auto no_exp = Verify(SignJwtHs256(kHeader, R"({"stores":"*"})", kSecret));
  EXPECT_THAT(std::string(no_exp.status().message()), HasSubstr("exp"));
}

TEST_F(JwtTest, RefusesAlgNoneAndOtherAlgorithms) {
  const std::string payload = Base64UrlEncode(Payload(R"("*")"));
  const std::string none = absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".", payload, ".");
  EXPECT_THAT(std::string(Verify(none).status().message()), HasSubstr("not HS256"));
  auto rs = Verify(SignJwtHs256(R"({"alg":"RS256"})", Payload(R"("*")"), kSecret));
  EXPECT_THAT(std::string(rs.status().message()), HasSubstr("not HS256"));
}

TEST_F(JwtTest, RefusesBadSignaturesAndTampering) {
  EXPECT_THAT(std::string(Verify(SignJwtHs256(kHeader, Payload(R"("*")"), "another-secret-xyz"))
                              .status()
                              .message()),
              HasSubstr("signature"));
  std::string token = SignJwtHs256(kHeader, Payload(R"(["a"])"), kSecret);
  // Swap the payload for one granting every store, keep the signature.
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  const std::string forged = absl::StrCat(token.substr(0, first + 1),
                                          Base64UrlEncode(Payload(R"("*")")), token.substr(second));
  EXPECT_FALSE(Verify(forged).ok());
}

TEST_F(JwtTest, RefusesMalformedTokens) {
  for (const std::string& bad :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        std::string("!!.??.**"), std::string(10000, 'a'),
        SignJwtHs256("not json", Payload(R"("*")"), kSecret),
        SignJwtHs256(kHeader, "[1,2]", kSecret),
        SignJwtHs256(kHeader, R"({"exp":1700000600})", kSecret),
        SignJwtHs256(kHeader, R"({"exp":1700000600,"stores":[1]})", kSecret),
        SignJwtHs256(kHeader, R"({"exp":1700000600,"stores":7})", kSecret)}) {
    auto result = Verify(bad);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << bad;
  }
}

TEST(AuthenticatorTest, DevModeAllowsEverythingAndJwtModeRequiresAToken) {
  Authenticator dev;
  EXPECT_TRUE(dev.dev_mode());
  auto claims = dev.Authenticate("", kNow);
  ASSERT_TRUE(claims.ok());
  EXPECT_TRUE(claims->AllowsStore("x"));
  Authenticator jwt{JwtVerifier(kSecret)};
  EXPECT_EQ(jwt.Authenticate("", kNow).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, TokenFromHeaderThenQuery) {
  EXPECT_EQ(TokenFromRequest({{"authorization", "Bearer h"}}, "/ws?token=q"), "h");
  EXPECT_EQ(TokenFromRequest({}, "/ws?token=q"), "q");
  EXPECT_EQ(TokenFromRequest({}, "/ws"), "");
}

TEST(OriginPolicyTest, AllowList) {
  OriginPolicy any({});
  EXPECT_TRUE(any.Allowed("https://evil.example"));
  OriginPolicy list({"https://dash.example.com/"});
  EXPECT_TRUE(list.Allowed("https://DASH.example.com"));
  EXPECT_FALSE(list.Allowed("https://evil.example"));
  EXPECT_TRUE(list.Allowed(std::nullopt));  // not a browser
}

}  // namespace
}  // namespace autosync::gateway
