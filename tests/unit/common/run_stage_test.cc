#include "common/run_stage.h"

#include "gtest/gtest.h"

namespace autosync::common {
namespace {

using autosync::v1::Stage;
using autosync::v1::Trigger;

TEST(RunStageTest, EveryStageRoundTripsThroughItsName) {
  for (const Stage stage :
       {autosync::v1::STAGE_STARTING, autosync::v1::STAGE_ORDERS, autosync::v1::STAGE_ADS,
        autosync::v1::STAGE_LTV, autosync::v1::STAGE_COMPLETED, autosync::v1::STAGE_FAILED,
        autosync::v1::STAGE_SKIPPED, autosync::v1::STAGE_QUEUED}) {
    EXPECT_EQ(StageFromName(StageName(stage)), stage) << StageName(stage);
  }
  EXPECT_EQ(StageName(autosync::v1::STAGE_ORDERS), "orders");
  EXPECT_EQ(StageName(autosync::v1::STAGE_COMPLETED), "completed");
}

TEST(RunStageTest, UnknownStagesAndNames) {
  EXPECT_EQ(StageName(autosync::v1::STAGE_UNSPECIFIED), "starting");
  EXPECT_EQ(StageFromName("Orders"), autosync::v1::STAGE_UNSPECIFIED);
  EXPECT_EQ(StageFromName(""), autosync::v1::STAGE_UNSPECIFIED);
}

TEST(RunStageTest, TriggersRoundTripAndDefaultToApi) {
  for (const Trigger trigger :
       {autosync::v1::TRIGGER_CRON, autosync::v1::TRIGGER_MANUAL, autosync::v1::TRIGGER_API}) {
    EXPECT_EQ(TriggerFromName(TriggerName(trigger)), trigger) << TriggerName(trigger);
  }
  EXPECT_EQ(TriggerName(autosync::v1::TRIGGER_UNSPECIFIED), "api");
  EXPECT_EQ(TriggerFromName("webhook"), autosync::v1::TRIGGER_UNSPECIFIED);
}

}  // namespace
}  // namespace autosync::common
