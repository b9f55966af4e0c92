// TickClaimer against an in-memory repository and a clock moved by hand: a boundary's fires are
// claimed and recorded; skips become SKIPPED announcements; queued runs wake the dispatcher;
// unscheduled stores leave the loop; a rolled-back batch is recorded one by one; ticks of groups
// another replica won are checked after the grace and given up after kLostTickGiveUp.
#include "scheduler-service/tick_claimer.h"

#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/store_validation.h"
#include "tests/unit/scheduler-service/scheduler_fakes.h"

namespace autosync::scheduler {
namespace {

using ::testing::ElementsAre;
using testing::FakeClock;
using testing::FakeRepository;
using ::testing::Field;
using ::testing::IsEmpty;
using testing::RecordingEvents;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

const absl::Time kBoundary =
    absl::FromCivil(absl::CivilMinute(2025, 3, 1, 10, 0), absl::UTCTimeZone());

std::vector<std::string> StoresOf(const std::vector<TickRequest>& ticks) {
  std::vector<std::string> out;
  for (const TickRequest& t : ticks) out.push_back(t.store_id);
  return out;
}

class TickClaimerTest : public ::testing::Test {
 protected:
  TickClaimerTest() { config_.replica_id = "replica-a"; }

  // The fires of one boundary, handed over as the schedule loop does; then every claim and
  // record task is let finish (common::ThreadPool::Stop runs what is queued).
  void FireAndSettle(const std::vector<std::string>& stores) {
    std::vector<Fire> fires;
    for (const std::string& id : stores) fires.push_back({id, kBoundary, kBoundary, kAllDataTypes});
    claimer_.OnFires(std::move(fires));
    claimer_.Stop();
  }
  double Value(prometheus::Counter& c) { return c.Value(); }

  SchedulerConfig config_;
  FakeClock clock_{kBoundary};
  FakeRepository repo_;
  SchedulerRegistry registry_;
  SchedulerMetrics metrics_{registry_};
  RecordingEvents events_;
  TickClaimer claimer_{config_, clock_, repo_, metrics_, events_};
};

TEST_F(TickClaimerTest, FiresAreClaimedOnceAndRecordedWithTheirClaim) {
  FireAndSettle({"c", "a", "b"});
  repo_.With([&] {
    EXPECT_EQ(repo_.claim_calls, 1);  // one statement for the boundary
    // Recorded in store order, each with its own run id and its group's claim time.
    EXPECT_THAT(StoresOf(repo_.recorded), ElementsAre("a", "b", "c"));
    std::set<std::string> run_ids;
    for (const TickRequest& t : repo_.recorded) {
      EXPECT_EQ(t.scheduled_for, kBoundary);
      EXPECT_EQ(t.claimed_at, kBoundary);
      EXPECT_TRUE(common::ValidateRunId(t.run_id).ok()) << t.run_id;
      run_ids.insert(t.run_id);
    }
    EXPECT_THAT(run_ids, SizeIs(3));
  });
  events_.With([&] {
    EXPECT_GE(events_.queued, 1);  // the dispatcher is woken
    EXPECT_THAT(events_.skips, IsEmpty());
  });
  EXPECT_EQ(Value(metrics_.fires_started), 3);
  EXPECT_EQ(Value(metrics_.fires_lost), 0);
}

TEST_F(TickClaimerTest, SkipReasonsBecomeSkippedAnnouncements) {
  repo_.With([&] {
    repo_.outcome["fresh"] = {TickOutcome::kSkippedFresh, "synced 5 min ago (fresh for 60 min)"};
    repo_.outcome["busy"] = {TickOutcome::kSkippedOverlap, "a run is already in flight"};
  });
  FireAndSettle({"fresh", "busy", "due"});
  std::vector<autosync::v1::SyncProgress> skips;
  events_.With([&] {
    ASSERT_THAT(events_.skips, SizeIs(1));  // the boundary's skips, announced together
    skips = events_.skips[0];
    EXPECT_EQ(events_.queued, 1);  // "due" was queued
  });
  ASSERT_THAT(skips, SizeIs(2));
  std::map<std::string, std::string> run_of;
  repo_.With([&] {
    for (const TickRequest& t : repo_.recorded) run_of[t.store_id] = t.run_id;
  });
  for (const autosync::v1::SyncProgress& p : skips) {
    EXPECT_EQ(p.stage(), autosync::v1::STAGE_SKIPPED);
    EXPECT_EQ(p.trigger(), autosync::v1::TRIGGER_CRON);
    EXPECT_EQ(p.progress(), 100);
    EXPECT_EQ(p.run_id(), run_of[p.store_id()]);
    EXPECT_EQ(FromProto(p.time()), kBoundary);
  }
  EXPECT_THAT(skips, UnorderedElementsAre(
                         AllOf(::testing::Property(&autosync::v1::SyncProgress::store_id, "fresh"),
                               ::testing::Property(&autosync::v1::SyncProgress::message,
                                                   "synced 5 min ago (fresh for 60 min)")),
                         AllOf(::testing::Property(&autosync::v1::SyncProgress::store_id, "busy"),
                               ::testing::Property(&autosync::v1::SyncProgress::message,
                                                   "a run is already in flight"))));
  EXPECT_EQ(Value(metrics_.fires_skipped), 2);
  EXPECT_EQ(Value(metrics_.skips_fresh), 1);
  EXPECT_EQ(Value(metrics_.skips_overlap), 1);
  EXPECT_EQ(Value(metrics_.fires_started), 1);
}

TEST_F(TickClaimerTest, AStoreNoLongerScheduledLeavesTheLoop) {
  repo_.With([&] { repo_.outcome["gone"] = {TickOutcome::kNotScheduled, ""}; });
  FireAndSettle({"gone", "kept"});
  events_.With([&] {
    EXPECT_THAT(events_.not_scheduled, ElementsAre("gone"));
    EXPECT_EQ(events_.queued, 1);
    EXPECT_THAT(events_.skips, IsEmpty());
  });
}

TEST_F(TickClaimerTest, OnlyQueuedTicksWakeTheDispatcher) {
  repo_.With([&] { repo_.outcome["a"] = {TickOutcome::kSkippedOverlap, "busy"}; });
  FireAndSettle({"a"});
  events_.With([&] { EXPECT_EQ(events_.queued, 0); });
}

class TickClaimerRollbackTest : public TickClaimerTest,
                                public ::testing::WithParamInterface<absl::StatusCode> {};

TEST_P(TickClaimerRollbackTest, ABatchRolledBackIsRecordedOneByOne) {
  repo_.With([&] {
    repo_.batch_errors.push_back(absl::Status(GetParam(), "rolled back"));
    repo_.outcome["b"] = {TickOutcome::kSkippedFresh, "fresh"};
  });
  FireAndSettle({"a", "b", "c"});
  repo_.With([&] {
    EXPECT_EQ(repo_.batch_calls, 1);
    EXPECT_EQ(repo_.single_calls, 3);
    EXPECT_THAT(StoresOf(repo_.recorded), ElementsAre("a", "b", "c"));
  });
  events_.With([&] {
    ASSERT_THAT(events_.skips, SizeIs(1));
    EXPECT_THAT(events_.skips[0],
                ElementsAre(::testing::Property(&autosync::v1::SyncProgress::store_id, "b")));
    EXPECT_GE(events_.queued, 1);  // "a" and "c" wake the dispatcher, as a batch's would
  });
  EXPECT_EQ(Value(metrics_.fires_started), 2);
  EXPECT_EQ(Value(metrics_.fires_error), 0);
}

INSTANTIATE_TEST_SUITE_P(Codes, TickClaimerRollbackTest,
                         ::testing::Values(absl::StatusCode::kAlreadyExists,
                                           absl::StatusCode::kAborted));

TEST_F(TickClaimerTest, ATickThatFailsOneByOneIsCheckedAgainAfterTheGrace) {
  repo_.With([&] {
    repo_.batch_errors.push_back(absl::AbortedError("deadlock"));
    repo_.single_error = absl::UnavailableError("database away");
  });
  FireAndSettle({"a"});
  EXPECT_EQ(Value(metrics_.fires_error), 1);
  repo_.With([&] { repo_.single_error = absl::OkStatus(); });
  clock_.Advance(TickClaimer::kLostTickGrace);
  claimer_.VerifyLost();
  repo_.With([&] { EXPECT_THAT(StoresOf(repo_.recorded), ElementsAre("a")); });
  EXPECT_EQ(Value(metrics_.fires_recovered), 1);
}

TEST_F(TickClaimerTest, LostTicksAreVerifiedOnlyAfterTheGrace) {
  repo_.With([&] { repo_.wins = [](const GroupTick&) { return false; }; });
  FireAndSettle({"a", "b"});
  EXPECT_EQ(Value(metrics_.fires_lost), 2);
  repo_.With([&] { EXPECT_THAT(repo_.recorded, IsEmpty()); });

  // Within the grace the winner is still recording: nothing is checked.
  clock_.Advance(TickClaimer::kLostTickGrace - absl::Seconds(1));
  claimer_.VerifyLost();
  repo_.With([&] { EXPECT_THAT(repo_.unrecorded_asked, IsEmpty()); });

  // The winner recorded "a" but not "b" (it stopped): "b" is recorded here, once.
  repo_.RecordedElsewhere("a", kBoundary);
  repo_.With([&] { repo_.outcome["b"] = {TickOutcome::kSkippedOverlap, "busy"}; });
  clock_.Advance(absl::Seconds(1));
  claimer_.VerifyLost();
  repo_.With([&] {
    ASSERT_THAT(repo_.unrecorded_asked, SizeIs(1));
    EXPECT_THAT(StoresOf(repo_.unrecorded_asked[0]), ElementsAre("a", "b"));
    EXPECT_THAT(StoresOf(repo_.recorded), ElementsAre("b"));
  });
  EXPECT_EQ(Value(metrics_.fires_recovered), 1);
  events_.With([&] {
    ASSERT_THAT(events_.skips, SizeIs(1));
    EXPECT_THAT(events_.skips[0],
                ElementsAre(::testing::Property(&autosync::v1::SyncProgress::store_id, "b")));
  });

  // Checked once: the next pass has nothing left.
  claimer_.VerifyLost();
  repo_.With([&] { EXPECT_THAT(repo_.unrecorded_asked, SizeIs(1)); });
}

TEST_F(TickClaimerTest, LostTicksThatCannotBeCheckedAreRetriedThenGivenUp) {
  repo_.With([&] {
    repo_.wins = [](const GroupTick&) { return false; };
    repo_.unrecorded_error = absl::UnavailableError("database away");
  });
  FireAndSettle({"a", "b"});
  clock_.Advance(TickClaimer::kLostTickGrace);
  claimer_.VerifyLost();  // cannot check: kept for later
  repo_.With([&] { EXPECT_THAT(repo_.unrecorded_asked, SizeIs(1)); });
  EXPECT_EQ(Value(metrics_.fires_error), 0);

  // The database stayed away past kLostTickGiveUp: the ticks are left to the next boundary.
  clock_.Advance(TickClaimer::kLostTickGiveUp);
  claimer_.VerifyLost();
  repo_.With([&] {
    EXPECT_THAT(repo_.unrecorded_asked, SizeIs(1));  // not asked again
    EXPECT_THAT(repo_.recorded, IsEmpty());
  });
  EXPECT_EQ(Value(metrics_.fires_error), 2);
  claimer_.VerifyLost();
  EXPECT_EQ(Value(metrics_.fires_error), 2);  // given up once
}

TEST_F(TickClaimerTest, AFailedClaimIsCheckedAfterTheGraceLikeALostOne) {
  repo_.With([&] { repo_.claim_error = absl::UnavailableError("database away"); });
  FireAndSettle({"a"});
  EXPECT_EQ(Value(metrics_.fires_error), 1);
  repo_.With([&] { EXPECT_THAT(repo_.recorded, IsEmpty()); });
  clock_.Advance(TickClaimer::kLostTickGrace);
  claimer_.VerifyLost();
  repo_.With([&] { EXPECT_THAT(StoresOf(repo_.recorded), ElementsAre("a")); });
  EXPECT_EQ(Value(metrics_.fires_recovered), 1);
}

}  // namespace
}  // namespace autosync::scheduler
