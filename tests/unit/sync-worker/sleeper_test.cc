#include "sync-worker/connectors/sleeper.h"

#include <gtest/gtest.h>

#include <thread>

namespace autosync::worker {
namespace {

TEST(RealSleeperTest, ZeroOrNegativeWaitReturnsAtOnce) {
  RealSleeper sleeper;
  EXPECT_TRUE(sleeper.SleepFor(absl::ZeroDuration()));
  EXPECT_TRUE(sleeper.SleepFor(-absl::Seconds(1)));
  EXPECT_FALSE(sleeper.cancelled());
}

TEST(RealSleeperTest, AfterCancelEveryWaitReportsCancellation) {
  RealSleeper sleeper;
  sleeper.Cancel();
  EXPECT_TRUE(sleeper.cancelled());
  EXPECT_FALSE(sleeper.SleepFor(absl::Hours(1)));  // returns at once: the test would hang otherwise
  EXPECT_FALSE(sleeper.SleepFor(absl::ZeroDuration()));
}

TEST(RealSleeperTest, CancelWakesASleepingThread) {
  RealSleeper sleeper;
  bool result = true;
  std::thread sleeping([&] { result = sleeper.SleepFor(absl::Hours(1)); });
  sleeper.Cancel();  // whether it lands before or during the wait, the wait ends now
  sleeping.join();
  EXPECT_FALSE(result);
}

TEST(RealSleeperTest, ShortWaitCompletes) {
  RealSleeper sleeper;
  const absl::Time start = absl::Now();
  EXPECT_TRUE(sleeper.SleepFor(absl::Milliseconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(5));
}

}  // namespace
}  // namespace autosync::worker
