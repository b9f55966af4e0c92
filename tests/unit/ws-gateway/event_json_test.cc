// The JSON of the gateway's events and answers: protobuf JSON with lower-case stage and trigger
// words, the Node prototype's progress shape for every stage, and the run queue's additions.
#include "ws-gateway/event_json.h"

#include <simdjson.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace autosync::gateway {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;
namespace v1 = autosync::v1;

// The member names of the JSON object `json` (empty, and a test failure, when it is not one).
std::vector<std::string> Keys(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json).get(object) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not a JSON object: " << json;
    return {};
  }
  std::vector<std::string> keys;
  for (const simdjson::dom::key_value_pair member : object) keys.emplace_back(member.key);
  return keys;
}

v1::SyncProgress Progress(v1::Stage stage) {
  v1::SyncProgress p;
  p.set_store_id("buycosari");
  p.set_run_id("run_1");
  p.set_stage(stage);
  p.set_trigger(v1::TRIGGER_CRON);
  return p;
}

TEST(EventJsonTest, ProgressUsesCamelCaseAndLowerCaseStage) {
  v1::SyncProgress p = Progress(v1::STAGE_ORDERS);
  p.set_message("Fetched \"1\" \"stage\":\"STAGE_X\"");
  p.set_progress(40);
  p.set_trigger(v1::TRIGGER_MANUAL);
  p.mutable_counts()->set_orders_fetched(12);
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(json, HasSubstr("\"storeId\":\"buycosari\""));
  EXPECT_THAT(json, HasSubstr("\"runId\":\"run_1\""));
  EXPECT_THAT(json, HasSubstr("\"stage\":\"orders\""));
  EXPECT_THAT(json, HasSubstr("\"trigger\":\"manual\""));
  EXPECT_THAT(json, HasSubstr("\"progress\":40"));
  EXPECT_THAT(json, HasSubstr("\"ordersFetched\":\"12\""));
  // A message that looks like an enum member is left alone.
  EXPECT_THAT(json, HasSubstr("\\\"stage\\\":\\\"STAGE_X\\\""));
}

TEST(EventJsonTest, QueuedProgressSaysWhereTheRunStandsAndHowLongItMayWait) {
  v1::SyncProgress p = Progress(v1::STAGE_QUEUED);
  p.set_message("Queued behind 2 runs");
  p.set_queue_position(3);
  p.set_estimated_wait_seconds(125);
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(Keys(json),
              UnorderedElementsAre("storeId", "runId", "stage", "message", "progress", "error",
                                   "trigger", "queuePosition", "estimatedWaitSeconds"));
  EXPECT_THAT(json, HasSubstr("\"stage\":\"queued\""));
  EXPECT_THAT(json, HasSubstr("\"queuePosition\":3"));
  EXPECT_THAT(json, HasSubstr("\"estimatedWaitSeconds\":\"125\""));  // int64: a string
}

TEST(EventJsonTest, QueuedProgressWithAFreeSlotSaysZeroWait) {
  v1::SyncProgress p = Progress(v1::STAGE_QUEUED);
  p.set_queue_position(1);
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(json, HasSubstr("\"queuePosition\":1"));
  EXPECT_THAT(json, HasSubstr("\"estimatedWaitSeconds\":\"0\""));
}

TEST(EventJsonTest, OtherStagesKeepThePrototypeShape) {
  // Queue fields a scheduler might leave set on later events do not leak into them.
  v1::SyncProgress p = Progress(v1::STAGE_STARTING);
  p.set_message("Starting sync");
  p.set_queue_position(2);
  p.set_estimated_wait_seconds(60);
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(Keys(json), UnorderedElementsAre("storeId", "runId", "stage", "message", "progress",
                                               "error", "trigger"));
  EXPECT_THAT(json, HasSubstr("\"stage\":\"starting\""));
}

TEST(EventJsonTest, FailedProgressDoesNotCarryRetryable) {
  v1::SyncProgress p = Progress(v1::STAGE_FAILED);
  p.set_error("Orders API answered 503");
  p.set_retryable(true);
  *p.mutable_time() = TimeUtil::SecondsToTimestamp(1796590800);
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(Keys(json), UnorderedElementsAre("storeId", "runId", "stage", "message", "progress",
                                               "error", "time", "trigger"));
  EXPECT_THAT(json, HasSubstr("\"error\":\"Orders API answered 503\""));
  EXPECT_THAT(json, HasSubstr("\"time\":\"2026-12-06T21:00:00Z\""));
}

TEST(EventJsonTest, MessageThatLooksLikeAQueueMemberIsLeftAlone) {
  v1::SyncProgress p = Progress(v1::STAGE_ADS);
  p.set_message(R"("queuePosition":7,"retryable":true)");
  const std::string json = ProgressEventData(p);
  EXPECT_THAT(json, HasSubstr(R"("message":"\"queuePosition\":7,\"retryable\":true")"));
  EXPECT_THAT(Keys(json), UnorderedElementsAre("storeId", "runId", "stage", "message", "progress",
                                               "error", "trigger"));
}

TEST(EventJsonTest, StatusDataCarriesStoreIdAndEveryField) {
  v1::SyncStatus s;
  s.set_active_connections(1);
  s.set_has_cron_job(true);
  const std::string json = StatusEventData("buycosari", s);
  EXPECT_THAT(json, HasSubstr("{\"storeId\":\"buycosari\","));
  EXPECT_THAT(json, HasSubstr("\"isSyncing\":false"));
  EXPECT_THAT(json, HasSubstr("\"activeConnections\":1"));
  EXPECT_THAT(json, HasSubstr("\"hasCronJob\":true"));
  const EncodedEvent e = EncodeForClients(kStatusEvent, json);
  EXPECT_EQ(*e.ws, "{\"event\":\"syncStatus\",\"data\":" + json + "}");
  EXPECT_EQ(*e.sio, "42[\"syncStatus\"," + json + "]");
}

TEST(EventJsonTest, StatusOfAnIdleStoreSaysNotQueuedWithZeros) {
  const std::string json = StatusEventData("buycosari", v1::SyncStatus());
  EXPECT_THAT(json, HasSubstr("\"isSyncing\":false"));
  EXPECT_THAT(json, HasSubstr("\"queued\":false"));
  EXPECT_THAT(json, HasSubstr("\"queuePosition\":0"));
  EXPECT_THAT(json, HasSubstr("\"estimatedWaitSeconds\":\"0\""));
  EXPECT_THAT(json, HasSubstr("\"skippedFires\":\"0\""));
  EXPECT_THAT(json, HasSubstr("\"lastSkipReason\":\"\""));
  // Unset times are left out, like every other time of the status.
  EXPECT_THAT(json, Not(HasSubstr("lastSkipTime")));
  EXPECT_THAT(json, Not(HasSubstr("queuedRun")));
}

TEST(EventJsonTest, StatusOfAQueuedStoreCarriesPositionWaitQueuedRunAndSkips) {
  v1::SyncStatus s;
  s.set_queued(true);
  s.set_queue_position(3);
  s.set_estimated_wait_seconds(125);
  s.set_skipped_fires(4);
  *s.mutable_last_skip_time() = TimeUtil::SecondsToTimestamp(1796590800);
  s.set_last_skip_reason("fresh");
  v1::Run* run = s.mutable_queued_run();
  run->set_run_id("run_q");
  run->set_status("queued");
  run->set_trigger(v1::TRIGGER_CRON);
  run->set_attempt(1);
  *run->mutable_queued_at() = TimeUtil::SecondsToTimestamp(1796590790);
  const std::string json = StatusEventData("buycosari", s);
  EXPECT_THAT(json, HasSubstr("\"isSyncing\":false"));
  EXPECT_THAT(json, HasSubstr("\"queued\":true"));
  EXPECT_THAT(json, HasSubstr("\"queuePosition\":3"));
  EXPECT_THAT(json, HasSubstr("\"estimatedWaitSeconds\":\"125\""));
  EXPECT_THAT(json, HasSubstr("\"skippedFires\":\"4\""));
  EXPECT_THAT(json, HasSubstr("\"lastSkipTime\":\"2026-12-06T21:00:00Z\""));
  EXPECT_THAT(json, HasSubstr("\"lastSkipReason\":\"fresh\""));
  EXPECT_THAT(json, HasSubstr("\"queuedRun\":{\"runId\":\"run_q\""));
}

TEST(EventJsonTest, QueuedRunHasQueuedAtAndAttemptButNoStartedAt) {
  v1::Run run;
  run.set_run_id("run_q");
  run.set_status("queued");
  run.set_stage(v1::STAGE_QUEUED);
  run.set_attempt(2);
  *run.mutable_queued_at() = TimeUtil::SecondsToTimestamp(1796590790);
  *run.mutable_not_before() = TimeUtil::SecondsToTimestamp(1796590850);
  const std::string json = ProtoToJson(run);
  EXPECT_THAT(json, HasSubstr("\"status\":\"queued\""));
  EXPECT_THAT(json, HasSubstr("\"stage\":\"queued\""));
  EXPECT_THAT(json, HasSubstr("\"queuedAt\":\"2026-12-06T20:59:50Z\""));
  EXPECT_THAT(json, HasSubstr("\"attempt\":2"));
  EXPECT_THAT(json, HasSubstr("\"notBefore\":\"2026-12-06T21:00:50Z\""));
  EXPECT_THAT(json, Not(HasSubstr("startedAt")));
}

}  // namespace
}  // namespace autosync::gateway
