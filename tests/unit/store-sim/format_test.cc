#include "tools/store-sim/format.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "tools/store-sim/http_types.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

TEST(FormatTest, ShopifyTimeCarriesTheOffset) {
  // 2024-01-15T15:30:00Z
  EXPECT_EQ(FormatShopifyTime(1705332600, -300), "2024-01-15T10:30:00-05:00");
  EXPECT_EQ(FormatShopifyTime(1705332600, 0), "2024-01-15T15:30:00+00:00");
  EXPECT_EQ(FormatShopifyTime(1705332600, 330), "2024-01-15T21:00:00+05:30");
}

TEST(FormatTest, ShopifyTimeCrossesDayBoundaryBackwards) {
  // 2024-01-01T02:00:00Z is still Dec 31 in New York.
  EXPECT_EQ(FormatShopifyTime(1704074400, -300), "2023-12-31T21:00:00-05:00");
}

TEST(FormatTest, HandRolledTimesAgreeWithAbseil) {
  // Both sides of 1970, leap days, century years and offsets of either sign.
  Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = rng.Between(-2'208'988'800, 4'102'444'800);  // 1900 .. 2100
    const int offset = static_cast<int>(rng.Between(-720, 840));
    const absl::TimeZone zone = absl::FixedTimeZone(offset * 60);
    EXPECT_EQ(FormatShopifyTime(t, offset),
              absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixSeconds(t), zone))
        << t << " " << offset;
    EXPECT_EQ(FormatUtcTime(t), absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t),
                                                 absl::UTCTimeZone()));
  }
  EXPECT_EQ(FormatUtcTime(951782400), "2000-02-29T00:00:00Z");
  std::string out = "x";
  AppendMoney(out, -5);
  AppendUtcTime(out, 0);
  EXPECT_EQ(out, "x-0.051970-01-01T00:00:00Z");
}

TEST(FormatTest, MoneyHasTwoDecimals) {
  EXPECT_EQ(FormatMoney(0), "0.00");
  EXPECT_EQ(FormatMoney(5), "0.05");
  EXPECT_EQ(FormatMoney(123456), "1234.56");
  EXPECT_EQ(FormatMoney(-250), "-2.50");
}

TEST(FormatTest, MetaNumbersDropTrailingZeros) {
  EXPECT_EQ(FormatTrimmedCents(533950), "5339.5");
  EXPECT_EQ(FormatTrimmedCents(1200), "12");
  EXPECT_EQ(FormatTrimmedCents(99), "0.99");
}

TEST(FormatTest, DaysFormatAndParseBothWays) {
  auto day = ParseDay("2024-02-29");
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(*day, 19782);
  EXPECT_EQ(FormatDay(19782), "2024-02-29");
  EXPECT_FALSE(ParseDay("2024-2-29").ok());
}

TEST(FormatTest, TimeParamAcceptsOffsetsZuluAndDates) {
  EXPECT_EQ(*ParseTimeParam("2024-01-15T10:30:00-05:00", 0), 1705332600);
  EXPECT_EQ(*ParseTimeParam("2024-01-15T15:30:00Z", 0), 1705332600);
  EXPECT_EQ(*ParseTimeParam("2024-01-15T15:30:00.000Z", 0), 1705332600);
  // A bare date is midnight at the store's offset.
  EXPECT_EQ(*ParseTimeParam("2024-01-15", -300), 1705294800);
}

TEST(FormatTest, TimeParamWithUnencodedPlusIsRefusedWithAHint) {
  // "+00:00" sent without %2B arrives as " 00:00".
  auto t = ParseTimeParam("2024-01-15T10:30:00 00:00", 0);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("%2B"), absl::string_view::npos);
}

TEST(FormatTest, JsonStringsAreEscaped) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(FormatTest, Fnv1aMatchesPublishedVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(HttpTypesTest, TargetParsingDecodesParamsAndKeepsRaw) {
  auto t = ParseTarget("/a%20b?x=1&time_range=%7B%22since%22%3A%222024-01-01%22%7D&f=a+b&empty");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/a b");
  EXPECT_EQ(t->Get("x"), "1");
  EXPECT_EQ(t->Get("time_range"), "{\"since\":\"2024-01-01\"}");
  EXPECT_EQ(t->Get("f"), "a b");
  EXPECT_TRUE(t->Has("empty"));
  EXPECT_EQ(t->params[1].raw, "time_range=%7B%22since%22%3A%222024-01-01%22%7D");
}

TEST(HttpTypesTest, BadEscapesAreErrors) {
  EXPECT_FALSE(ParseTarget("/x?a=%2").ok());
  EXPECT_FALSE(ParseTarget("/x?a=%zz").ok());
  EXPECT_EQ(UrlEncode("a b+/"), "a%20b%2B%2F");
}

TEST(HttpTypesTest, HeadersMatchIgnoringCase) {
  Request r;
  r.headers.emplace_back("x-shopify-access-token", "t");
  EXPECT_EQ(r.Header("X-Shopify-Access-Token"), "t");
  EXPECT_FALSE(r.Header("Host").has_value());
}

}  // namespace
}  // namespace autosync::storesim
