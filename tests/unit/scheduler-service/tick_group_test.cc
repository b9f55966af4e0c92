// TickGroupOf: the same group for a store on every replica and every version (FNV-1a of the
// id, modulo kTickGroups), and stores spread evenly over the groups.
#include "scheduler-service/tick_group.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

TEST(TickGroupTest, GroupsAreFixedValuesOfTheStoreId) {
  // FNV-1a 32-bit, reference values computed independently (the published offset basis and
  // prime): a change here would let a claimed boundary be claimed again under new groups.
  EXPECT_EQ(TickGroupOf(""), 2166136261u % 1024);
  EXPECT_EQ(TickGroupOf("a"), 3826002220u % 1024);
  EXPECT_EQ(TickGroupOf("buycosari"), 3707934744u % 1024);
  EXPECT_EQ(TickGroupOf("acme"), 1174237615u % 1024);
  EXPECT_EQ(kTickGroups, 1024);
}

TEST(TickGroupTest, StoresSpreadEvenlyOverTheGroups) {
  std::vector<int> count(kTickGroups, 0);
  constexpr int kStores = 100000;
  for (int i = 0; i < kStores; ++i) {
    const int g = TickGroupOf(absl::StrCat("store-", i));
    ASSERT_GE(g, 0);
    ASSERT_LT(g, kTickGroups);
    ++count[static_cast<size_t>(g)];
  }
  // About 98 a group; none empty, none more than twice the mean.
  for (int n : count) {
    EXPECT_GT(n, 0);
    EXPECT_LT(n, 2 * kStores / kTickGroups);
  }
}

}  // namespace
}  // namespace autosync::scheduler
