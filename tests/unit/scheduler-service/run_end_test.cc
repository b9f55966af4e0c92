// DecideRunEnd: what the end of a RunSync stream means for the run (recorded, given back to the
// queue, retried later, followed at once), and the queue's pure rules (priorities, backoff, the
// wait estimate). No database, no worker.
#include "scheduler-service/run_end.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/run_queue.h"

namespace autosync::scheduler {
namespace {

using ::testing::HasSubstr;

StreamEnd Base() {
  StreamEnd end;
  end.run_timeout = absl::Minutes(30);
  return end;
}

StreamEnd Terminal(bool completed, bool retryable = false, int attempt = 1) {
  StreamEnd end = Base();
  end.accepted = true;
  end.terminal = true;
  end.completed = completed;
  end.retryable = retryable;
  end.terminal_error = completed ? "" : "the orders API answered 503";
  end.attempt = attempt;
  return end;
}

TEST(RunEndTest, CompletedIsRecordedAndNothingFollows) {
  const RunEnd end = DecideRunEnd(Terminal(true));
  EXPECT_EQ(end.status, "completed");
  EXPECT_EQ(end.error, "");
  EXPECT_FALSE(end.synthesize_failure);
  EXPECT_EQ(end.next, RunNext::kNothing);
}

TEST(RunEndTest, FailedForAPassingCauseIsRetriedWithGrowingBackoff) {
  const RunEnd first = DecideRunEnd(Terminal(false, /*retryable=*/true, /*attempt=*/1));
  EXPECT_EQ(first.status, "failed");
  EXPECT_EQ(first.error, "the orders API answered 503");
  EXPECT_FALSE(first.synthesize_failure);  // the worker's own FAILED event is recorded
  EXPECT_EQ(first.next, RunNext::kRetryLater);
  EXPECT_EQ(first.delay, absl::Seconds(30));
  const RunEnd third = DecideRunEnd(Terminal(false, true, 3));
  EXPECT_EQ(third.next, RunNext::kRetryLater);
  EXPECT_EQ(third.delay, absl::Minutes(2));
}

TEST(RunEndTest, RetriesStopAfterTheLastAttempt) {
  const RunEnd end = DecideRunEnd(Terminal(false, true, kMaxAttempts));
  EXPECT_EQ(end.status, "failed");
  EXPECT_EQ(end.next, RunNext::kNothing);
}

TEST(RunEndTest, FailedForACauseARetryCannotFixIsNotRetried) {
  const RunEnd end = DecideRunEnd(Terminal(false, /*retryable=*/false));
  EXPECT_EQ(end.status, "failed");
  EXPECT_EQ(end.next, RunNext::kNothing);
}

TEST(RunEndTest, RefusalBeforeTheRunStartedGoesBackToTheQueue) {
  StreamEnd s = Base();
  s.code = absl::StatusCode::kResourceExhausted;
  s.message = "this worker is already running 64 syncs";
  const RunEnd end = DecideRunEnd(s);
  EXPECT_EQ(end.next, RunNext::kGiveBack);
  EXPECT_EQ(end.status, "");  // not recorded: the row goes back to 'queued'
  EXPECT_EQ(end.delay, absl::Milliseconds(250));
  s.refusals = 3;
  EXPECT_EQ(DecideRunEnd(s).delay, absl::Seconds(2));
  // An unreachable worker (no event yet) is a refusal too.
  s.code = absl::StatusCode::kUnavailable;
  EXPECT_EQ(DecideRunEnd(s).next, RunNext::kGiveBack);
}

TEST(RunEndTest, TooManyRefusalsFailTheRun) {
  StreamEnd s = Base();
  s.code = absl::StatusCode::kUnavailable;
  s.message = "connection refused";
  s.refusals = kMaxRefusals - 1;
  const RunEnd end = DecideRunEnd(s);
  EXPECT_EQ(end.status, "failed");
  EXPECT_TRUE(end.synthesize_failure);
  EXPECT_THAT(end.error, HasSubstr("no sync-worker took the run"));
  EXPECT_THAT(end.error, HasSubstr("UNAVAILABLE: connection refused"));
  EXPECT_EQ(end.next, RunNext::kNothing);
}

TEST(RunEndTest, StreamBrokenAfterTheWorkerStartedIsFollowedAtOnce) {
  StreamEnd s = Base();
  s.accepted = true;
  s.code = absl::StatusCode::kUnavailable;
  s.message = "Socket closed";
  const RunEnd end = DecideRunEnd(s);
  EXPECT_EQ(end.status, "failed");
  EXPECT_TRUE(end.synthesize_failure);
  EXPECT_THAT(end.error,
              HasSubstr("stopped in the middle of the run (UNAVAILABLE: Socket closed)"));
  EXPECT_THAT(end.error, HasSubstr("resumes from the stored cursor"));
  EXPECT_EQ(end.next, RunNext::kFollowUp);
  EXPECT_EQ(end.delay, absl::ZeroDuration());
  // A worker that keeps dying under a store is not fed it forever.
  s.attempt = kMaxAttempts;
  EXPECT_EQ(DecideRunEnd(s).next, RunNext::kNothing);
}

TEST(RunEndTest, ReplicaStoppingHandsTheRunToAnotherReplica) {
  StreamEnd s = Base();
  s.accepted = true;
  s.code = absl::StatusCode::kCancelled;
  s.stopping = true;
  const RunEnd end = DecideRunEnd(s);
  EXPECT_EQ(end.status, "failed");
  EXPECT_THAT(end.error, HasSubstr("shut down"));
  EXPECT_EQ(end.next, RunNext::kFollowUp);
  // Stopping also wins over a refusal: the run is not given back by a replica going away.
  s.accepted = false;
  s.code = absl::StatusCode::kResourceExhausted;
  EXPECT_EQ(DecideRunEnd(s).next, RunNext::kFollowUp);
}

TEST(RunEndTest, DeadlineCancelAndSilentEndsAreRecordedFailedWithTheirReason) {
  StreamEnd s = Base();
  s.accepted = true;
  s.code = absl::StatusCode::kDeadlineExceeded;
  EXPECT_THAT(DecideRunEnd(s).error, HasSubstr("exceeded its budget of 30m"));
  EXPECT_EQ(DecideRunEnd(s).next, RunNext::kNothing);
  s.code = absl::StatusCode::kCancelled;
  EXPECT_THAT(DecideRunEnd(s).error, HasSubstr("store was deleted"));
  s.code = absl::StatusCode::kOk;
  EXPECT_THAT(DecideRunEnd(s).error, HasSubstr("without an outcome"));
  s.accepted = false;
  s.code = absl::StatusCode::kNotFound;
  s.message = "store \"x\" is not registered";
  EXPECT_EQ(DecideRunEnd(s).error, "sync-worker answered NOT_FOUND: store \"x\" is not registered");
  // A refusal whose budget is spent is not given back again.
  s.code = absl::StatusCode::kResourceExhausted;
  s.deadline_passed = true;
  EXPECT_EQ(DecideRunEnd(s).next, RunNext::kNothing);
  EXPECT_THAT(DecideRunEnd(s).error, HasSubstr("budget"));
}

TEST(RunQueueRulesTest, PeopleGoAheadOfTheSchedule) {
  EXPECT_EQ(PriorityOf(autosync::v1::TRIGGER_MANUAL), RunPriority::kPerson);
  EXPECT_EQ(PriorityOf(autosync::v1::TRIGGER_API), RunPriority::kPerson);
  EXPECT_EQ(PriorityOf(autosync::v1::TRIGGER_CRON), RunPriority::kCron);
  EXPECT_LT(static_cast<int>(RunPriority::kPerson), static_cast<int>(RunPriority::kCron));
  EXPECT_EQ(PriorityLabel(RunPriority::kPerson), "manual");
  EXPECT_EQ(PriorityLabel(RunPriority::kCron), "cron");
  EXPECT_EQ(PriorityLabel(RunPriority::kLow), "low");
}

TEST(RunQueueRulesTest, BackoffsGrowAndAreCapped) {
  EXPECT_EQ(RefusalBackoff(1), absl::Milliseconds(250));
  EXPECT_EQ(RefusalBackoff(2), absl::Milliseconds(500));
  EXPECT_EQ(RefusalBackoff(7), absl::Seconds(10));
  EXPECT_EQ(RefusalBackoff(1000), absl::Seconds(10));
  EXPECT_EQ(RetryBackoff(1), absl::Seconds(30));
  EXPECT_EQ(RetryBackoff(2), absl::Minutes(1));
  EXPECT_EQ(RetryBackoff(10), absl::Minutes(15));
}

TEST(RunQueueRulesTest, WaitEstimateCountsRoundsOfSlots) {
  // A free slot for it: no wait.
  EXPECT_EQ(EstimateWaitSeconds(1, 64, 1, absl::Seconds(20)), 0);
  EXPECT_EQ(EstimateWaitSeconds(3, 64, 5, absl::Seconds(20)), 0);
  // 64 slots all busy, runs of 20 s: positions 1-64 wait a round, 65-128 two.
  EXPECT_EQ(EstimateWaitSeconds(1, 64, 0, absl::Seconds(20)), 20);
  EXPECT_EQ(EstimateWaitSeconds(64, 64, 0, absl::Seconds(20)), 20);
  EXPECT_EQ(EstimateWaitSeconds(65, 64, 0, absl::Seconds(20)), 40);
  EXPECT_EQ(EstimateWaitSeconds(123, 4, 0, absl::Seconds(4)), 124);
  // Unknown without slots or a measured run time.
  EXPECT_EQ(EstimateWaitSeconds(5, 0, 0, absl::Seconds(20)), -1);
  EXPECT_EQ(EstimateWaitSeconds(5, 4, 0, absl::ZeroDuration()), -1);
  EXPECT_EQ(EstimateWaitSeconds(0, 4, 0, absl::Seconds(1)), 0);
}

}  // namespace
}  // namespace autosync::scheduler
