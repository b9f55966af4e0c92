#include "common/money.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace autosync::common {
namespace {

TEST(MoneyTest, FormatsExactlyTwoDecimals) {
  EXPECT_EQ(FormatCents(12345), "123.45");
  EXPECT_EQ(FormatCents(0), "0.00");
  EXPECT_EQ(FormatCents(5), "0.05");
  EXPECT_EQ(FormatCents(533950), "5339.50");
}

TEST(MoneyTest, FormatsNegativesIncludingTheSmallest) {
  EXPECT_EQ(FormatCents(-10), "-0.10");
  EXPECT_EQ(FormatCents(-12345), "-123.45");
  EXPECT_EQ(FormatCents(std::numeric_limits<int64_t>::min()), "-92233720368547758.08");
  EXPECT_EQ(FormatCents(std::numeric_limits<int64_t>::max()), "92233720368547758.07");
}

TEST(MoneyTest, AppendsWithoutTouchingWhatIsThere) {
  std::string out = "total=";
  AppendCents(out, 199);
  out += ';';
  AppendCents(out, -1);
  EXPECT_EQ(out, "total=1.99;-0.01");
}

}  // namespace
}  // namespace autosync::common
