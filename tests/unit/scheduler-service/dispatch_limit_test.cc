// DispatchLimit: the runs a replica keeps in flight, from the runs' start latency. A simulated
// machine answers each start with a latency that grows once more runs are in flight than it has
// room for; the limit must find that room, not the floor and not the slots.
#include "scheduler-service/dispatch_limit.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// A machine with room for `room` runs: a start takes 5 ms, plus 20 ms for each run beyond it.
absl::Duration Latency(int in_flight, int room) {
  return absl::Milliseconds(5) + absl::Milliseconds(20) * std::max(0, in_flight - room);
}

// Runs `starts` starts with as many runs in flight as the limit allows, one every 10 ms; returns
// the limits seen over the last half.
struct Seen {
  int lowest = 1 << 30;
  int highest = 0;
};
Seen Drive(DispatchLimit& limit, int room, int starts, absl::Time* now) {
  Seen seen;
  for (int i = 0; i < starts; ++i) {
    const int in_flight = limit.limit();
    limit.OnStart(Latency(in_flight, room), in_flight, *now);
    *now += absl::Milliseconds(10);
    if (i >= starts / 2) {
      seen.lowest = std::min(seen.lowest, limit.limit());
      seen.highest = std::max(seen.highest, limit.limit());
    }
  }
  return seen;
}

TEST(DispatchLimitTest, AnUncrowdedMachineGetsEverySlot) {
  DispatchLimit limit(/*max=*/64, /*initial=*/8);
  absl::Time now = kT0;
  const Seen seen = Drive(limit, /*room=*/1000, 2000, &now);
  EXPECT_EQ(seen.lowest, 64);
  EXPECT_EQ(seen.highest, 64);
}

TEST(DispatchLimitTest, ACrowdedMachineSettlesNearItsRoom) {
  for (int room : {6, 12, 24, 40}) {
    SCOPED_TRACE(room);
    DispatchLimit limit(/*max=*/64, /*initial=*/DispatchLimit::kMinLimit);
    absl::Time now = kT0;
    const Seen seen = Drive(limit, room, 20000, &now);
    // Around the room: never back at the slots, never starved below half of it.
    EXPECT_GE(seen.lowest, std::max(DispatchLimit::kMinLimit, room / 2));
    EXPECT_LE(seen.highest, room + room / 2 + 2);
  }
}

TEST(DispatchLimitTest, RoomThatGrowsIsFoundAgain) {
  DispatchLimit limit(/*max=*/64, /*initial=*/DispatchLimit::kMinLimit);
  absl::Time now = kT0;
  Drive(limit, /*room=*/8, 5000, &now);
  EXPECT_LE(limit.limit(), 14);
  // The herd's neighbour finished: room for 40.
  const Seen seen = Drive(limit, /*room=*/40, 20000, &now);
  EXPECT_GE(seen.highest, 36);
}

TEST(DispatchLimitTest, OneSlowStartIsNotCongestion) {
  DispatchLimit limit(/*max=*/64, /*initial=*/32);
  absl::Time now = kT0;
  for (int i = 0; i < 200; ++i) {
    limit.OnStart(absl::Milliseconds(5), 32, now);
    now += absl::Milliseconds(10);
  }
  ASSERT_EQ(limit.limit(), 64);
  limit.OnStart(absl::Milliseconds(150), 64, now);
  EXPECT_EQ(limit.limit(), 64);
}

TEST(DispatchLimitTest, NoGrowthWhileTheLimitIsNotReached) {
  DispatchLimit limit(/*max=*/64, /*initial=*/8);
  absl::Time now = kT0;
  for (int i = 0; i < 1000; ++i) {
    limit.OnStart(absl::Milliseconds(5), /*in_flight=*/3, now);
    now += absl::Milliseconds(10);
  }
  EXPECT_EQ(limit.limit(), 8);
}

TEST(DispatchLimitTest, TheBaselineFollowsALastingChange) {
  DispatchLimit limit(/*max=*/64, /*initial=*/16);
  absl::Time now = kT0;
  limit.OnStart(absl::Milliseconds(2), 1, now);
  EXPECT_EQ(limit.baseline(), absl::Milliseconds(2));
  // The worker moved further away: every start now takes 40 ms, for good.
  for (int i = 0; i < 5000; ++i) {
    limit.OnStart(absl::Milliseconds(40), limit.limit(), now);
    now += absl::Seconds(1);
  }
  EXPECT_EQ(limit.baseline(), absl::Milliseconds(40));
  // Two windows later nothing looks congested any more: the limit has grown back to the slots.
  EXPECT_EQ(limit.limit(), 64);
}

TEST(DispatchLimitTest, DisabledKeepsEverySlotAndBoundsHold) {
  DispatchLimit limit(/*max=*/64, /*initial=*/8);
  limit.Disable();
  absl::Time now = kT0;
  Drive(limit, /*room=*/4, 2000, &now);
  EXPECT_EQ(limit.limit(), 64);

  DispatchLimit tiny(/*max=*/2, /*initial=*/100);
  EXPECT_EQ(tiny.limit(), 2);
  Drive(tiny, /*room=*/1, 500, &now);
  EXPECT_GE(tiny.limit(), 1);
  EXPECT_LE(tiny.limit(), 2);
}

}  // namespace
}  // namespace autosync::scheduler
