#include "common/ids.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::common {
namespace {

using ::testing::HasSubstr;

TEST(StoreIdTest, AcceptsTheDocumentedAlphabet) {
  for (const char* ok : {"buycosari", "a", "0", "shop-1", "shop_1",
                         "a123456789012345678901234567890123456789012345678901234567890bc"}) {
    EXPECT_TRUE(ValidateStoreId(ok).ok()) << ok;
  }
}

TEST(StoreIdTest, RefusesEverythingElseSayingWhy) {
  EXPECT_THAT(std::string(ValidateStoreId("").message()), HasSubstr("empty"));
  EXPECT_THAT(std::string(ValidateStoreId("BuyCosari").message()), HasSubstr("start with"));
  EXPECT_THAT(std::string(ValidateStoreId("buy cosari").message()), HasSubstr("may only contain"));
  EXPECT_THAT(std::string(ValidateStoreId("-shop").message()), HasSubstr("start with"));
  EXPECT_THAT(std::string(ValidateStoreId("shop/../etc").message()), HasSubstr("may only contain"));
  EXPECT_THAT(std::string(ValidateStoreId(std::string(64, 'a')).message()), HasSubstr("longer"));
  EXPECT_FALSE(ValidateStoreId("shop'; DROP TABLE stores;--").ok());
  EXPECT_EQ(ValidateStoreId("a\nb").code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreIdTest, QuotesOnlyABoundedEscapedPrefixOfHostileIds) {
  const std::string huge(100000, 'X');
  const std::string message(ValidateStoreId(huge).message());
  EXPECT_LT(message.size(), 200u);
  EXPECT_THAT(std::string(ValidateStoreId("a\x01\n").message()), HasSubstr("\\x01"));
}

TEST(RunIdTest, NewRunIdsAreValidAndDistinct) {
  const std::string a = NewRunId();
  const std::string b = NewRunId();
  EXPECT_NE(a, b);
  EXPECT_TRUE(ValidateRunId(a).ok()) << a;
  EXPECT_EQ(a.size(), 4u + 24u);
  EXPECT_FALSE(ValidateRunId("").ok());
  EXPECT_FALSE(ValidateRunId("run id").ok());
  EXPECT_FALSE(ValidateRunId(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace autosync::common
