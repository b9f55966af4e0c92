#include "sync-worker/connectors/backoff.h"

#include <gtest/gtest.h>

#include <random>

namespace autosync::worker {
namespace {

TEST(BackoffPolicyTest, CeilingGrowsGeometricallyUpToMax) {
  const BackoffPolicy policy{absl::Milliseconds(500), absl::Seconds(5), 2.0, 10};
  EXPECT_EQ(policy.Ceiling(1), absl::Milliseconds(500));
  EXPECT_EQ(policy.Ceiling(2), absl::Seconds(1));
  EXPECT_EQ(policy.Ceiling(3), absl::Seconds(2));
  EXPECT_EQ(policy.Ceiling(4), absl::Seconds(4));
  EXPECT_EQ(policy.Ceiling(5), absl::Seconds(5));
  EXPECT_EQ(policy.Ceiling(1000), absl::Seconds(5));  // no overflow far out
}

TEST(BackoffPolicyTest, DelayStaysWithinZeroAndCeiling) {
  const BackoffPolicy policy{absl::Milliseconds(100), absl::Seconds(3), 2.0, 10};
  std::mt19937_64 gen(42);
  for (int retry = 1; retry <= 12; ++retry) {
    for (int i = 0; i < 200; ++i) {
      const absl::Duration delay = policy.Delay(retry, gen);
      EXPECT_GE(delay, absl::ZeroDuration());
      EXPECT_LE(delay, policy.Ceiling(retry)) << "retry " << retry;
    }
  }
}

TEST(BackoffPolicyTest, DelayIsJitteredAcrossTheWholeRange) {
  const BackoffPolicy policy{absl::Seconds(1), absl::Seconds(60), 2.0, 10};
  std::mt19937_64 gen(7);
  absl::Duration low = absl::InfiniteDuration();
  absl::Duration high = absl::ZeroDuration();
  for (int i = 0; i < 2000; ++i) {
    const absl::Duration delay = policy.Delay(4, gen);  // ceiling 8 s
    low = std::min(low, delay);
    high = std::max(high, delay);
  }
  EXPECT_LT(low, absl::Seconds(1));   // full jitter reaches near zero...
  EXPECT_GT(high, absl::Seconds(7));  // ...and near the ceiling
}

TEST(BackoffPolicyTest, SameSeedSameDelays) {
  const BackoffPolicy policy;
  std::mt19937_64 a(123);
  std::mt19937_64 b(123);
  for (int retry = 1; retry <= 5; ++retry)
    EXPECT_EQ(policy.Delay(retry, a), policy.Delay(retry, b));
}

TEST(BackoffPolicyTest, DegenerateSettingsStaySane) {
  std::mt19937_64 gen(1);
  const BackoffPolicy zero{absl::ZeroDuration(), absl::ZeroDuration(), 2.0, 3};
  EXPECT_EQ(zero.Delay(3, gen), absl::ZeroDuration());
  const BackoffPolicy shrinking{absl::Seconds(2), absl::Seconds(10), 0.5, 3};
  EXPECT_EQ(shrinking.Ceiling(5), absl::Seconds(2));
  const BackoffPolicy initial_above_max{absl::Seconds(20), absl::Seconds(10), 2.0, 3};
  EXPECT_EQ(initial_above_max.Ceiling(1), absl::Seconds(10));
}

}  // namespace
}  // namespace autosync::worker
