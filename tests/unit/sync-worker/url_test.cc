#include "sync-worker/connectors/url.h"

#include <gtest/gtest.h>

namespace autosync::worker {
namespace {

TEST(UrlTest, EncodeLeavesUnreservedAndEscapesTheRest) {
  EXPECT_EQ(UrlEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(UrlEncode("2024-01-15T10:30:00+01:00"), "2024-01-15T10%3A30%3A00%2B01%3A00");
  EXPECT_EQ(UrlEncode(R"({"since":"a b"})"), "%7B%22since%22%3A%22a%20b%22%7D");
  EXPECT_EQ(UrlEncode("\xC3\xA9"), "%C3%A9");
}

TEST(UrlTest, DecodeRefusesBrokenEscapes) {
  EXPECT_EQ(PercentDecode("a%2Bb%20c"), "a+b c");
  EXPECT_EQ(PercentDecode("a%2"), std::nullopt);
  EXPECT_EQ(PercentDecode("a%zz"), std::nullopt);
  EXPECT_EQ(PercentDecode("%"), std::nullopt);
}

TEST(UrlTest, QueryParamFindsDecodedValueAndIgnoresFragment) {
  const std::string url = "https://h/p?limit=250&page_info=ab%3Dc&x#page_info=zzz";
  EXPECT_EQ(QueryParam(url, "page_info"), "ab=c");
  EXPECT_EQ(QueryParam(url, "limit"), "250");
  EXPECT_EQ(QueryParam(url, "x"), "");
  EXPECT_EQ(QueryParam(url, "missing"), std::nullopt);
  EXPECT_EQ(QueryParam("https://h/p", "limit"), std::nullopt);
}

TEST(UrlTest, OriginIsSchemeAndAuthorityLowerCased) {
  EXPECT_EQ(UrlOrigin("HTTPS://Shop.MyShopify.com/admin?x=1"), "https://shop.myshopify.com");
  EXPECT_EQ(UrlOrigin("http://127.0.0.1:8090/shops/s1"), "http://127.0.0.1:8090");
  EXPECT_EQ(UrlOrigin("http://127.0.0.1:8090"), "http://127.0.0.1:8090");
  EXPECT_EQ(UrlOrigin("ftp://h/x"), std::nullopt);
  EXPECT_EQ(UrlOrigin("/relative"), std::nullopt);
  EXPECT_EQ(UrlOrigin("http:///nohost"), std::nullopt);
}

TEST(UrlTest, RedactReplacesOnlyTheNamedParameter) {
  EXPECT_EQ(RedactQueryParam("https://g/v1/x?a=1&access_token=SECRET&after=c#f", "access_token"),
            "https://g/v1/x?a=1&access_token=REDACTED&after=c#f");
  EXPECT_EQ(RedactQueryParam("https://g/x?access_token=S", "access_token"),
            "https://g/x?access_token=REDACTED");
  EXPECT_EQ(RedactQueryParam("https://g/x", "access_token"), "https://g/x");
  EXPECT_EQ(RedactSecret("token tok123 twice tok123", "tok123"),
            "token [REDACTED] twice [REDACTED]");
  EXPECT_EQ(RedactSecret("nothing", ""), "nothing");
  EXPECT_EQ(UrlWithoutQuery("https://g/x?access_token=S"), "https://g/x");
}

}  // namespace
}  // namespace autosync::worker
