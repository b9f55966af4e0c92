#include "common/percent.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace autosync::common {
namespace {

using ::autosync::testing::IsOkAndHolds;
using ::autosync::testing::StatusIs;

TEST(PercentTest, HexDigitValueAcceptsBothCasesOnly) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('g'), -1);
  EXPECT_EQ(HexDigitValue('%'), -1);
}

TEST(PercentTest, DecodesEscapesOfEitherCase) {
  EXPECT_THAT(PercentDecode("a%2Fb%2fc%C3%A9", PlusMeans::kPlus),
              IsOkAndHolds(std::string("a/b/c\xC3\xA9")));
  EXPECT_THAT(PercentDecode("%00", PlusMeans::kPlus), IsOkAndHolds(std::string(1, '\0')));
}

TEST(PercentTest, PlusIsASpaceOnlyWhenAsked) {
  EXPECT_THAT(PercentDecode("a+b%2B", PlusMeans::kPlus), IsOkAndHolds(std::string("a+b+")));
  EXPECT_THAT(PercentDecode("a+b%2B", PlusMeans::kSpace), IsOkAndHolds(std::string("a b+")));
}

TEST(PercentTest, RefusesTruncatedAndNonHexEscapes) {
  EXPECT_THAT(PercentDecode("abc%4", PlusMeans::kPlus),
              StatusIs(absl::StatusCode::kInvalidArgument, "truncated percent-escape"));
  EXPECT_THAT(PercentDecode("%", PlusMeans::kSpace),
              StatusIs(absl::StatusCode::kInvalidArgument, "truncated percent-escape"));
  EXPECT_THAT(PercentDecode("%zz", PlusMeans::kSpace),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad percent-escape"));
}

TEST(PercentTest, EncodesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b/\xC3\xBC+"), "a%20b%2F%C3%BC%2B");
  const std::string bytes("\x00\x7f\xff q=1&x", 9);
  EXPECT_THAT(PercentDecode(PercentEncode(bytes), PlusMeans::kSpace), IsOkAndHolds(bytes));
}

}  // namespace
}  // namespace autosync::common
