// ScheduleLoop driven by a fake clock: fires reach the sink, disabled/deleted stores stop
// firing, refresh keeps unchanged stores in place, catch-up runs a missed fire once.
#include "scheduler-service/schedule_loop.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time t) : now_(t) {}
  absl::Time Now() const override { return now_; }
  void SleepUntil(absl::Time) const override {}  // the test moves the time
  void Set(absl::Time t) { now_ = t; }

 private:
  absl::Time now_;
};

class RecordingSink final : public FireSink {
 public:
  void OnFire(const Fire& fire) override { fires.push_back(fire); }
  std::vector<Fire> fires;
};

StoreSchedule Store(const std::string& id, const std::string& expr) {
  return StoreSchedule{.store_id = id, .schedule = expr, .ads_schedule = expr, .timezone = "UTC"};
}

class ScheduleLoopTest : public ::testing::Test {
 protected:
  FakeClock clock_{Utc(2024, 1, 1, 10, 0, 30)};
  RecordingSink sink_;
  ScheduleLoop loop_{clock_, sink_, {.catchup_window = absl::Hours(1)}};
};

TEST_F(ScheduleLoopTest, FiresEachStoreAtItsBoundary) {
  ASSERT_EQ(loop_.Load({Store("a", "* * * * *"), Store("b", "0 * * * *")}, false), 0);
  EXPECT_EQ(loop_.size(), 2u);
  EXPECT_EQ(loop_.RunDue(), 0u);
  clock_.Set(Utc(2024, 1, 1, 10, 1));
  EXPECT_EQ(loop_.RunDue(), 1u);
  ASSERT_EQ(sink_.fires.size(), 1u);
  EXPECT_EQ(sink_.fires[0].store_id, "a");
  EXPECT_EQ(sink_.fires[0].scheduled_for, Utc(2024, 1, 1, 10, 1));
  EXPECT_EQ(loop_.RunDue(), 0u);  // once per boundary
  clock_.Set(Utc(2024, 1, 1, 11, 0));
  EXPECT_EQ(loop_.RunDue(), 2u);
}

TEST_F(ScheduleLoopTest, DisabledAndRemovedStoresStopFiring) {
  loop_.Load({Store("a", "* * * * *"), Store("b", "* * * * *"), Store("c", "* * * * *")}, false);
  StoreSchedule off = Store("a", "* * * * *");
  off.enabled = false;
  loop_.Upsert(off);
  loop_.Remove("b");
  // A refresh without "c" (deleted through another replica) drops it too.
  loop_.Load({off, Store("d", "* * * * *")}, false);
  clock_.Set(Utc(2024, 1, 1, 10, 1));
  loop_.RunDue();
  ASSERT_EQ(sink_.fires.size(), 1u);
  EXPECT_EQ(sink_.fires[0].store_id, "d");
}

TEST_F(ScheduleLoopTest, RefreshKeepsAStoreInsideItsJitterWindow) {
  StoreSchedule s = Store("j", "* * * * *");
  s.jitter_seconds = 50;
  loop_.Load({s}, false);
  const auto boundary = loop_.NextBoundary("j");
  ASSERT_TRUE(boundary.has_value());
  clock_.Set(*boundary + absl::Seconds(1));  // boundary passed, jitter not yet
  loop_.Load({s}, false);                    // unchanged: keeps its pending fire
  EXPECT_EQ(loop_.NextBoundary("j"), boundary);
}

TEST_F(ScheduleLoopTest, CatchUpRunsAMissedFireOnceAfterARestart) {
  // Last tick claimed at 08:00; the 09:00 and 10:00 boundaries were missed while down.
  StoreSchedule s = Store("late", "0 * * * *");
  s.last_tick = Utc(2024, 1, 1, 8, 0);
  StoreSchedule current = Store("current", "0 * * * *");
  current.last_tick = Utc(2024, 1, 1, 10, 0);
  StoreSchedule fresh = Store("new", "0 * * * *");
  fresh.created_at = Utc(2024, 1, 1, 10, 0, 10);
  loop_.Load({s, current, fresh}, /*catch_up=*/true);
  EXPECT_EQ(loop_.RunDue(), 1u);
  ASSERT_EQ(sink_.fires.size(), 1u);
  EXPECT_EQ(sink_.fires[0].store_id, "late");
  EXPECT_EQ(loop_.RunDue(), 0u);  // once, not once per missed boundary
  EXPECT_EQ(loop_.NextBoundary("late"), Utc(2024, 1, 1, 11, 0));
}

// Orders on :41 and ads every two hours; the last tick was 09:41 and the replica restarts at
// 10:45: the 10:00 ads boundary and the 10:41 orders boundary were both missed. The catch-up
// fires once, at the earliest (10:00), syncing both types.
TEST_F(ScheduleLoopTest, CatchUpSyncsEveryDataTypeThatMissedABoundary) {
  StoreSchedule s = Store("split", "41 * * * *");
  s.ads_schedule = "0 */2 * * *";
  s.last_tick = Utc(2024, 1, 1, 9, 41);
  clock_.Set(Utc(2024, 1, 1, 10, 45));
  loop_.Load({s}, /*catch_up=*/true);
  EXPECT_EQ(loop_.RunDue(), 1u);
  ASSERT_EQ(sink_.fires.size(), 1u);
  EXPECT_EQ(sink_.fires[0].scheduled_for, Utc(2024, 1, 1, 10, 0));  // the earliest missed
  EXPECT_EQ(sink_.fires[0].types, kAllDataTypes);  // 10:00 (ads) and 10:41 (orders) missed
  EXPECT_EQ(loop_.RunDue(), 0u);                   // once
  EXPECT_EQ(loop_.NextBoundary("split"), Utc(2024, 1, 1, 11, 41));
}

TEST_F(ScheduleLoopTest, CatchUpIgnoresFiresOlderThanTheWindow) {
  StoreSchedule s = Store("daily", "0 3 * * *");  // missed 03:00, seven hours ago
  s.last_tick = Utc(2023, 12, 31, 3, 0);
  loop_.Load({s}, /*catch_up=*/true);
  EXPECT_EQ(loop_.RunDue(), 0u);
}

TEST_F(ScheduleLoopTest, UnusableSchedulesAreCountedNotScheduled) {
  EXPECT_EQ(loop_.Load({Store("bad", "nope"), Store("ok", "* * * * *")}, false), 1);
  EXPECT_EQ(loop_.size(), 1u);
}

// A sink that claims in bulk gets every fire of one instant in a single OnFires call.
TEST_F(ScheduleLoopTest, OnePassHandsEveryDueFireToTheSinkAtOnce) {
  class Batching final : public FireSink {
   public:
    void OnFire(const Fire&) override { ++singles; }
    void OnFires(std::vector<Fire> fires) override { batches.push_back(std::move(fires)); }
    int singles = 0;
    std::vector<std::vector<Fire>> batches;
  } batching;
  ScheduleLoop loop(clock_, batching, {});
  std::vector<StoreSchedule> stores;
  for (int i = 0; i < 2500; ++i) stores.push_back(Store(absl::StrCat("s", i), "* * * * *"));
  stores.push_back(Store("hourly", "0 * * * *"));
  ASSERT_EQ(loop.Load(stores, false), 0);
  EXPECT_EQ(loop.RunDue(), 0u);
  EXPECT_TRUE(batching.batches.empty());  // nothing due: the sink is not called
  clock_.Set(Utc(2024, 1, 1, 10, 1));
  EXPECT_EQ(loop.RunDue(), 2500u);
  ASSERT_EQ(batching.batches.size(), 1u);
  EXPECT_EQ(batching.batches[0].size(), 2500u);
  EXPECT_EQ(batching.singles, 0);
  for (const Fire& f : batching.batches[0]) {
    EXPECT_EQ(f.scheduled_for, Utc(2024, 1, 1, 10, 1));
    EXPECT_NE(f.store_id, "hourly");
  }
}

// With a lead, the fires of the next due instant are handed over that long ahead (each still
// carries its due time, for the sink to wait for), one instant at a time; nothing earlier.
TEST_F(ScheduleLoopTest, ALeadHandsOverTheNextInstantsFiresAheadOneInstantAtATime) {
  ScheduleLoop loop(clock_, sink_, {.lead = absl::Milliseconds(50)});
  // A store whose jitter (whole seconds in [0, 59)) is not zero.
  std::string j = "j0";
  for (int i = 1; JitterFor(j, 59) == absl::ZeroDuration(); ++i) j = absl::StrCat("j", i);
  StoreSchedule jittered = Store(j, "* * * * *");
  jittered.jitter_seconds = 59;
  ASSERT_EQ(loop.Load({Store("a", "* * * * *"), Store("b", "* * * * *"), jittered}, false), 0);
  // Two instants: a and b at their boundary, j at its boundary plus its jitter.
  const absl::Time ab_due = *loop.NextBoundary("a");
  const absl::Time j_due = *loop.NextBoundary(j) + JitterFor(j, 59);
  ASSERT_GT(absl::AbsDuration(j_due - ab_due), absl::Milliseconds(100));
  const bool ab_first = ab_due < j_due;
  const absl::Time first = std::min(ab_due, j_due), second = std::max(ab_due, j_due);
  clock_.Set(first - absl::Milliseconds(51));
  EXPECT_EQ(loop.RunDue(), 0u);  // not yet within the lead
  clock_.Set(first - absl::Milliseconds(50));
  EXPECT_EQ(loop.RunDue(), ab_first ? 2u : 1u);
  ASSERT_EQ(sink_.fires.size(), ab_first ? 2u : 1u);
  for (const Fire& f : sink_.fires) EXPECT_EQ(f.due, first);  // each carries its due time
  EXPECT_EQ(loop.RunDue(), 0u);  // the other instant is not held back for this one's sake
  clock_.Set(second - absl::Milliseconds(10));
  EXPECT_EQ(loop.RunDue(), ab_first ? 1u : 2u);
  ASSERT_EQ(sink_.fires.size(), 3u);
  EXPECT_EQ(sink_.fires[2].due, second);
  EXPECT_EQ(sink_.fires[ab_first ? 2 : 0].store_id, j);
}

// The default OnFires forwards each fire to OnFire (single-fire sinks keep working).
TEST_F(ScheduleLoopTest, DefaultBatchGoesToOnFireOneByOne) {
  ASSERT_EQ(loop_.Load({Store("a", "* * * * *"), Store("b", "* * * * *")}, false), 0);
  clock_.Set(Utc(2024, 1, 1, 10, 1));
  sink_.OnFires({});
  EXPECT_TRUE(sink_.fires.empty());
  EXPECT_EQ(loop_.RunDue(), 2u);
  ASSERT_EQ(sink_.fires.size(), 2u);
}

TEST_F(ScheduleLoopTest, ThreadFiresOnTheRealClock) {
  RealClock real;
  class Counting final : public FireSink {
   public:
    void OnFire(const Fire&) override {
      absl::MutexLock lock(&mu);
      ++count;
    }
    absl::Mutex mu;
    int count = 0;
  } counting;
  ScheduleLoop loop(real, counting, {});
  // A per-minute store whose boundary is at most a minute away would make this slow; use
  // catch-up from an instant just before a boundary that has passed instead: due at once.
  StoreSchedule s = Store("now", "* * * * *");
  s.last_tick = absl::Now() - absl::Seconds(61);
  loop.Load({s}, /*catch_up=*/true);
  loop.Start();
  {
    absl::MutexLock lock(&counting.mu);
    auto fired = [&counting]() { return counting.count > 0; };
    EXPECT_TRUE(counting.mu.AwaitWithTimeout(absl::Condition(&fired), absl::Seconds(10)));
  }
  loop.Stop();
}

}  // namespace
}  // namespace autosync::scheduler
