// FireHeap: due order, jitter, replacing and removing stores, no backlog after a long pause,
// catch-up from an earlier instant.
#include "scheduler-service/fire_heap.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

ScheduleEntry Entry(const std::string& id, const std::string& expr,
                    absl::Duration jitter = absl::ZeroDuration()) {
  return ScheduleEntry{id, DataSchedule(*CronSchedule::Parse(expr), *CronSchedule::Parse(expr)),
                       absl::UTCTimeZone(), jitter};
}

std::vector<std::string> Ids(const std::vector<Fire>& fires) {
  std::vector<std::string> out;
  for (const Fire& f : fires) out.push_back(f.store_id);
  return out;
}

TEST(FireHeapTest, PopsInDueOrderAndReschedules) {
  FireHeap heap;
  const absl::Time t0 = Utc(2024, 1, 1, 10, 0, 30);
  ASSERT_TRUE(heap.Upsert(Entry("hourly", "0 * * * *"), t0));
  ASSERT_TRUE(heap.Upsert(Entry("minutely", "* * * * *"), t0));
  ASSERT_TRUE(heap.Upsert(Entry("quarter", "*/15 * * * *"), t0));
  EXPECT_EQ(heap.NextDue(), Utc(2024, 1, 1, 10, 1));
  EXPECT_TRUE(heap.PopDue(Utc(2024, 1, 1, 10, 0, 59), 100).empty());
  auto fires = heap.PopDue(Utc(2024, 1, 1, 10, 1), 100);
  ASSERT_EQ(Ids(fires), std::vector<std::string>{"minutely"});
  EXPECT_EQ(fires[0].scheduled_for, Utc(2024, 1, 1, 10, 1));
  EXPECT_EQ(heap.NextBoundary("minutely"), Utc(2024, 1, 1, 10, 2));
  EXPECT_EQ(heap.NextDue(), Utc(2024, 1, 1, 10, 2));
  // At 10:15 both the minutely and the quarterly store are due, each once.
  fires = heap.PopDue(Utc(2024, 1, 1, 10, 15), 100);
  EXPECT_THAT(Ids(fires), ::testing::UnorderedElementsAre("minutely", "quarter"));
}

TEST(FireHeapTest, JitterDelaysDueButNotTheClaimedBoundary) {
  FireHeap heap;
  ASSERT_TRUE(heap.Upsert(Entry("j", "0 * * * *", absl::Seconds(90)), Utc(2024, 1, 1, 10, 5)));
  EXPECT_EQ(heap.NextDue(), Utc(2024, 1, 1, 11, 1, 30));
  EXPECT_TRUE(heap.PopDue(Utc(2024, 1, 1, 11, 1, 29), 10).empty());
  auto fires = heap.PopDue(Utc(2024, 1, 1, 11, 1, 30), 10);
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0].scheduled_for, Utc(2024, 1, 1, 11, 0));
  EXPECT_EQ(fires[0].due, Utc(2024, 1, 1, 11, 1, 30));
}

TEST(FireHeapTest, ReplaceAndRemoveLeaveNoStaleFires) {
  FireHeap heap;
  const absl::Time t0 = Utc(2024, 1, 1, 10, 0, 30);
  ASSERT_TRUE(heap.Upsert(Entry("a", "* * * * *"), t0));
  ASSERT_TRUE(heap.Upsert(Entry("a", "0 * * * *"), t0));  // replaced: hourly now
  ASSERT_TRUE(heap.Upsert(Entry("b", "* * * * *"), t0));
  EXPECT_TRUE(heap.Remove("b"));
  EXPECT_FALSE(heap.Remove("b"));
  EXPECT_EQ(heap.size(), 1u);
  EXPECT_TRUE(heap.PopDue(Utc(2024, 1, 1, 10, 30), 100).empty());
  EXPECT_EQ(Ids(heap.PopDue(Utc(2024, 1, 1, 11, 0), 100)), std::vector<std::string>{"a"});
  // Many replacements keep the heap compact.
  for (int i = 0; i < 10000; ++i) heap.Upsert(Entry("a", "0 * * * *"), t0);
  EXPECT_EQ(heap.size(), 1u);
}

TEST(FireHeapTest, ALongPauseFiresOnceNotOncePerMissedBoundary) {
  FireHeap heap;
  ASSERT_TRUE(heap.Upsert(Entry("m", "* * * * *"), Utc(2024, 1, 1, 10, 0)));
  auto fires = heap.PopDue(Utc(2024, 1, 1, 11, 0, 30), 100);  // 60 boundaries passed
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0].scheduled_for, Utc(2024, 1, 1, 10, 1));
  EXPECT_EQ(heap.NextBoundary("m"), Utc(2024, 1, 1, 11, 1));
}

TEST(FireHeapTest, MaxBoundsOnePass) {
  FireHeap heap;
  for (int i = 0; i < 50; ++i) {
    heap.Upsert(Entry("s" + std::to_string(i), "0 * * * *"), Utc(2024, 1, 1, 10, 5));
  }
  EXPECT_EQ(heap.PopDue(Utc(2024, 1, 1, 11, 0), 20).size(), 20u);
  EXPECT_EQ(heap.PopDue(Utc(2024, 1, 1, 11, 0), 100).size(), 30u);
  EXPECT_EQ(heap.NextDue(), Utc(2024, 1, 1, 12, 0));
}

TEST(FireHeapTest, NeverFiringScheduleIsNotKept) {
  FireHeap heap;
  EXPECT_FALSE(heap.Upsert(Entry("never", "0 0 30 2 *"), Utc(2024, 1, 1, 0, 0)));
  EXPECT_EQ(heap.size(), 0u);
}

}  // namespace
}  // namespace autosync::scheduler

namespace autosync::scheduler {
namespace {

// Parsed schedules are shared by the stores that use them and dropped with their last user, so
// changing expressions never grows the table; freed slots are reused without firing the old
// occupant's stale items.
TEST(FireHeapTest, SharedSchedulesAndReusedSlotsStayConsistent) {
  FireHeap heap;
  const absl::Time t0 = Utc(2024, 1, 1, 10, 0, 30);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(heap.Upsert(Entry("s" + std::to_string(i), "0 * * * *"), t0));
  }
  EXPECT_EQ(heap.specs(), 1u);
  for (int m = 0; m < 60; ++m) {
    ASSERT_TRUE(heap.Upsert(Entry("s0", std::to_string(m) + " * * * *"), t0));
  }
  EXPECT_EQ(heap.specs(), 2u);  // "0 * * * *" and s0's latest
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(heap.Remove("s" + std::to_string(i)));
  EXPECT_EQ(heap.size(), 50u);
  EXPECT_EQ(heap.specs(), 1u);
  EXPECT_FALSE(heap.Contains("s0"));
  // New stores take the freed slots; the removed ones never fire.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(heap.Upsert(Entry("n" + std::to_string(i), "30 * * * *"), t0));
  }
  EXPECT_EQ(heap.size(), 100u);
  EXPECT_TRUE(heap.SameSchedule("n7", "30 * * * *", "30 * * * *", "UTC", absl::ZeroDuration()));
  EXPECT_FALSE(heap.SameSchedule("n7", "31 * * * *", "30 * * * *", "UTC", absl::ZeroDuration()));
  EXPECT_FALSE(heap.SameSchedule("n7", "30 * * * *", "31 * * * *", "UTC", absl::ZeroDuration()));
  EXPECT_FALSE(heap.SameSchedule("n7", "30 * * * *", "30 * * * *", "UTC", absl::Seconds(1)));
  auto fires = heap.PopDue(Utc(2024, 1, 1, 10, 30), 1000);
  EXPECT_EQ(fires.size(), 50u);
  for (const Fire& f : fires) EXPECT_EQ(f.store_id.substr(0, 1), "n");
  fires = heap.PopDue(Utc(2024, 1, 1, 11, 0), 1000);
  ASSERT_EQ(fires.size(), 50u);  // s50..s99 only: s0..s49 were removed
  for (const Fire& f : fires) EXPECT_GE(std::stoi(f.store_id.substr(1)), 50) << f.store_id;
  EXPECT_EQ(heap.NextDue(), Utc(2024, 1, 1, 11, 30));
}

// A store with an orders schedule every minute and an ads schedule every other minute fires
// every minute; each fire carries the types due at its boundary.
TEST(FireHeapTest, AFireCarriesTheDataTypesDueAtItsBoundary) {
  FireHeap heap;
  ASSERT_TRUE(heap.Upsert(ScheduleEntry{"split",
                                        DataSchedule(*CronSchedule::Parse("* * * * *"),
                                                     *CronSchedule::Parse("*/2 * * * *")),
                                        absl::UTCTimeZone(), absl::ZeroDuration()},
                          Utc(2024, 1, 1, 10, 0, 30)));
  std::vector<DataTypes> types;
  for (int minute = 1; minute <= 4; ++minute) {
    auto fires = heap.PopDue(Utc(2024, 1, 1, 10, minute), 10);
    ASSERT_EQ(fires.size(), 1u) << minute;
    EXPECT_EQ(fires[0].scheduled_for, Utc(2024, 1, 1, 10, minute));
    types.push_back(fires[0].types);
  }
  EXPECT_EQ(types,
            (std::vector<DataTypes>{kOrdersType, kAllDataTypes, kOrdersType, kAllDataTypes}));
  // Ads alone (a schedule the orders one never reaches): the instant carries ads only.
  ASSERT_TRUE(heap.Upsert(ScheduleEntry{"split",
                                        DataSchedule(*CronSchedule::Parse("0 0 * * *"),
                                                     *CronSchedule::Parse("30 10 * * *")),
                                        absl::UTCTimeZone(), absl::ZeroDuration()},
                          Utc(2024, 1, 1, 10, 4)));
  auto fires = heap.PopDue(Utc(2024, 1, 1, 10, 30), 10);
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0].types, kAdsType);
  EXPECT_EQ(heap.NextBoundary("split"), Utc(2024, 1, 2, 0, 0));
}

}  // namespace
}  // namespace autosync::scheduler
