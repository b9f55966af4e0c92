#include "sync-worker/connectors/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace autosync::worker {
namespace {

int64_t Cents(absl::string_view text) {
  absl::StatusOr<int64_t> cents = ParseMoneyCents(text);
  EXPECT_TRUE(cents.ok()) << text << ": " << cents.status();
  return cents.value_or(-999999);
}

TEST(MoneyTest, ParsesTheFormsTheApisSend) {
  EXPECT_EQ(Cents("5339.5"), 533950);
  EXPECT_EQ(Cents("123.45"), 12345);
  EXPECT_EQ(Cents("-0.10"), -10);
  EXPECT_EQ(Cents("0"), 0);
  EXPECT_EQ(Cents("0.00"), 0);
  EXPECT_EQ(Cents("-0"), 0);
  EXPECT_EQ(Cents("7"), 700);
  EXPECT_EQ(Cents("007.05"), 705);
}

TEST(MoneyTest, MoreThanTwoDecimalsRoundHalfAwayFromZero) {
  EXPECT_EQ(Cents("0.125"), 13);
  EXPECT_EQ(Cents("-0.125"), -13);
  EXPECT_EQ(Cents("0.1249999"), 12);
  EXPECT_EQ(Cents("0.994"), 99);
  EXPECT_EQ(Cents("0.995"), 100);
  EXPECT_EQ(Cents("1.0000"), 100);
}

TEST(MoneyTest, RefusesWhatIsNotAPlainDecimal) {
  for (const char* bad : {"", "-", "1e3", "1E3", " 1.00", "1.00 ", "+5", ".5", "5.", "1,000.00",
                          "12a", "--1", "0x10", "1.2.3", "NaN", "inf"}) {
    const absl::StatusOr<int64_t> cents = ParseMoneyCents(bad);
    EXPECT_EQ(cents.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\"";
  }
}

TEST(MoneyTest, RefusesOverflowButTakesTheLargestValue) {
  EXPECT_EQ(Cents("92233720368547758.07"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Cents("-92233720368547758.07"), -std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(ParseMoneyCents("92233720368547758.08").ok());
  EXPECT_FALSE(ParseMoneyCents("92233720368547758.075").ok());
  EXPECT_FALSE(ParseMoneyCents("92233720368547759").ok());
  EXPECT_FALSE(ParseMoneyCents("99999999999999999999999999").ok());
}

TEST(MoneyTest, ErrorMessageQuotesTheInput) {
  const absl::Status status = ParseMoneyCents("1e3").status();
  EXPECT_NE(status.message().find("\"1e3\""), absl::string_view::npos) << status;
}

TEST(MoneyTest, FormatsWithTwoDecimals) {
  EXPECT_EQ(FormatCents(12345), "123.45");
  EXPECT_EQ(FormatCents(-10), "-0.10");
  EXPECT_EQ(FormatCents(0), "0.00");
  EXPECT_EQ(FormatCents(5), "0.05");
  EXPECT_EQ(FormatCents(533950), "5339.50");
  EXPECT_EQ(FormatCents(std::numeric_limits<int64_t>::min()), "-92233720368547758.08");
}

TEST(MoneyTest, FormatThenParseRoundTrips) {
  for (int64_t cents : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{99}, int64_t{-100},
                        int64_t{123456789}, std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(Cents(FormatCents(cents)), cents);
  }
}

}  // namespace
}  // namespace autosync::worker
