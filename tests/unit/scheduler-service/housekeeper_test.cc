// The housekeeper's passes against an in-memory repository and run queue, a clock moved by hand
// and no thread: heartbeats name this replica's runs; reaped runs are announced (a FAILED event
// and a status each), their follow-ups wake the dispatcher, and only a last attempt with nothing
// after it is notified; pruning and the schedule refresh come every --schedule_refresh_seconds;
// a failed call is logged, never dropped, and the pass goes on.
#include "scheduler-service/housekeeper.h"

#include <string>
#include <vector>

#include "common/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/run_end.h"
#include "scheduler-service/store_validation.h"
#include "tests/unit/scheduler-service/scheduler_fakes.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::SyncProgress;
using ::testing::ElementsAre;
using testing::FakeClock;
using testing::FakeRepository;
using testing::FakeRunQueue;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::RecordingEvents;
using ::testing::SizeIs;

const absl::Time kStart =
    absl::FromCivil(absl::CivilMinute(2025, 3, 1, 10, 0), absl::UTCTimeZone());

MATCHER_P2(IsKey, store_id, run_id, "") { return arg.store_id == store_id && arg.run_id == run_id; }

class FakeHooks final : public HousekeeperHooks {
 public:
  std::vector<RunKey> ActiveRuns() override { return active; }
  void OnFollowUpQueued() override { ++woken; }
  void VerifyLostTicks() override { ++verified; }
  int LoadSchedules(const std::vector<StoreSchedule>&, bool) override {
    ++loads;
    return 0;
  }
  void Notify(Notification n) override { notified.push_back(std::move(n)); }

  std::vector<RunKey> active;
  int woken = 0;
  int verified = 0;
  int loads = 0;
  std::vector<Notification> notified;
};

class HousekeeperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    common::InitLogging("housekeeper_test", common::LogFormat::kText, common::LogLevel::kInfo);
  }
  HousekeeperTest() {
    config_.replica_id = "replica-a";
    config_.schedule_refresh = absl::Seconds(60);
  }

  // One pass, with what it logged.
  std::string PassLogged() {
    ::testing::internal::CaptureStderr();
    keeper_.Pass();
    return ::testing::internal::GetCapturedStderr();
  }

  SchedulerConfig config_;
  FakeClock clock_{kStart};
  FakeRepository repo_;
  FakeRunQueue queue_;
  SchedulerRegistry registry_;
  SchedulerMetrics metrics_{registry_};
  RecordingEvents events_;
  FakeHooks hooks_;
  Housekeeper keeper_{config_, clock_, repo_, queue_, metrics_, events_, hooks_};
};

TEST_F(HousekeeperTest, HeartbeatsNameThisReplicasRuns) {
  hooks_.active = {{"shop-a", "run_1"}, {"shop-b", "run_2"}};
  keeper_.Pass();
  hooks_.active = {{"shop-b", "run_2"}};
  keeper_.Pass();
  repo_.With([&] {
    ASSERT_THAT(repo_.heartbeats, SizeIs(2));
    EXPECT_THAT(repo_.heartbeats[0],
                ElementsAre(IsKey("shop-a", "run_1"), IsKey("shop-b", "run_2")));
    EXPECT_THAT(repo_.heartbeats[1], ElementsAre(IsKey("shop-b", "run_2")));
  });
  EXPECT_EQ(hooks_.verified, 2);  // lost ticks are checked every pass
}

TEST_F(HousekeeperTest, ReapedRunsAreAnnouncedAndTheirFollowUpsDispatched) {
  repo_.With([&] {
    repo_.reaped = std::vector<ReapedRun>{
        // Followed up: announced, the dispatcher woken, not notified.
        {"run_1", "shop-a", "replica b stopped heartbeating", autosync::v1::TRIGGER_CRON, 1,
         "run_9"},
        // The last attempt, nothing after it: failed for good, notified.
        {"run_2", "shop-b", "replica b stopped heartbeating", autosync::v1::TRIGGER_API,
         kMaxAttempts, ""},
        // No follow-up because the store has another run queued: not notified.
        {"run_3", "shop-c", "replica b stopped heartbeating", autosync::v1::TRIGGER_CRON, 2, ""},
    };
  });
  keeper_.Pass();
  events_.With([&] {
    ASSERT_THAT(events_.progress, SizeIs(3));
    const char* runs[] = {"run_1", "run_2", "run_3"};
    for (size_t i = 0; i < 3; ++i) {
      const SyncProgress& p = events_.progress[i];
      EXPECT_EQ(p.run_id(), runs[i]);
      EXPECT_EQ(p.stage(), autosync::v1::STAGE_FAILED);
      EXPECT_EQ(p.error(), "replica b stopped heartbeating");
      EXPECT_EQ(FromProto(p.time()), kStart);
    }
    EXPECT_THAT(events_.statuses, ElementsAre("shop-a", "shop-b", "shop-c"));
    ASSERT_THAT(events_.failed, SizeIs(1));
    EXPECT_EQ(events_.failed[0].run_id, "run_2");
    EXPECT_EQ(events_.failed[0].store_id, "shop-b");
  });
  EXPECT_EQ(hooks_.woken, 1);
  EXPECT_EQ(metrics_.runs_reaped.Value(), 3);
  EXPECT_EQ(metrics_.runs_queued.Value(), 1);

  // A run is reaped once: the next pass announces nothing.
  keeper_.Pass();
  events_.With([&] { EXPECT_THAT(events_.progress, SizeIs(3)); });
}

TEST_F(HousekeeperTest, FailuresAreLoggedAndThePassGoesOn) {
  repo_.With([&] {
    repo_.heartbeat_error = absl::UnavailableError("heartbeat: connection refused");
    repo_.reaped = absl::UnavailableError("reap: connection refused");
  });
  queue_.With([&] { queue_.stats = absl::UnavailableError("stats: connection refused"); });
  const std::string log = PassLogged();
  EXPECT_THAT(log, HasSubstr("heartbeat: connection refused"));
  EXPECT_THAT(log, HasSubstr("reap: connection refused"));
  EXPECT_EQ(hooks_.verified, 1);  // the rest of the pass still ran
  events_.With([&] { EXPECT_THAT(events_.progress, IsEmpty()); });
}

TEST_F(HousekeeperTest, PruningAndTheRefreshComeEveryRefreshInterval) {
  keeper_.FirstPass();
  keeper_.Pass();
  EXPECT_EQ(queue_.With([&] { return queue_.prune_calls; }), 0);
  EXPECT_EQ(hooks_.loads, 0);

  clock_.Advance(config_.schedule_refresh);
  keeper_.Pass();
  EXPECT_EQ(queue_.With([&] { return queue_.prune_calls; }), 1);
  EXPECT_EQ(repo_.With([&] { return repo_.prune_calls; }), 1);
  EXPECT_EQ(metrics_.runs_pruned.Value(), 3);
  // Nothing was loaded yet: the first refresh reloads every schedule.
  EXPECT_EQ(hooks_.loads, 1);
  EXPECT_EQ(metrics_.refreshes_reloaded.Value(), 1);

  // The stores version did not move: the next refresh only advances the gauges.
  clock_.Advance(config_.schedule_refresh);
  keeper_.Pass();
  EXPECT_EQ(hooks_.loads, 1);
  EXPECT_EQ(metrics_.refreshes_unchanged.Value(), 1);
}

TEST_F(HousekeeperTest, PruneFailuresAreLoggedAndTheRefreshStillRuns) {
  keeper_.FirstPass();
  queue_.With([&] { queue_.prune_error = absl::UnavailableError("history: timeout"); });
  repo_.With([&] { repo_.prune_error = absl::UnavailableError("group claims: timeout"); });
  clock_.Advance(config_.schedule_refresh);
  const std::string log = PassLogged();
  EXPECT_THAT(log, HasSubstr("history: timeout"));
  EXPECT_THAT(log, HasSubstr("group claims: timeout"));
  EXPECT_EQ(hooks_.loads, 1);
}

TEST_F(HousekeeperTest, AFreshnessLoadThatFailsIsLogged) {
  repo_.With([&] { repo_.freshness = absl::UnavailableError("freshness: timeout"); });
  ::testing::internal::CaptureStderr();
  keeper_.FirstPass();
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("freshness: timeout"));
}

}  // namespace
}  // namespace autosync::scheduler
