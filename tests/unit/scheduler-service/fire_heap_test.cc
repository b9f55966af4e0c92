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
  return ScheduleEntry{id, *CronSchedule::Parse(expr), absl::UTCTimeZone(), jitter};
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
