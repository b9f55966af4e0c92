// The /api/ routes as a function of the request, against a fake scheduler: the status and run
// history answers of a store whose run waits in the run queue.
#include "ws-gateway/routes.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"

namespace autosync::gateway {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = autosync::v1;

class RouterTest : public ::testing::Test {
 protected:
  HttpResponse Get(const std::string& target) {
    HttpRequest request;
    request.method = "GET";
    request.target = target;
    request.remote_address = "127.0.0.1";
    return router_.Handle(request);
  }

  // A run of `store` waiting in the queue: queued, never started.
  static v1::Run QueuedRun(const std::string& store) {
    v1::Run run;
    run.set_run_id("run_q");
    run.set_store_id(store);
    run.set_trigger(v1::TRIGGER_CRON);
    run.set_status("queued");
    run.set_stage(v1::STAGE_QUEUED);
    run.set_attempt(1);
    *run.mutable_queued_at() = TimeUtil::SecondsToTimestamp(1796590790);
    return run;
  }

  FakeScheduler scheduler_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics_{*registry_};
  Authenticator auth_;  // dev mode
  OriginPolicy origins_{std::vector<std::string>()};
  TriggerLimiter limiter_{6, absl::Minutes(1), 12, absl::Minutes(1)};
  Router router_{scheduler_, registry_, metrics_, auth_, origins_, limiter_, RouterOptions()};
};

TEST_F(RouterTest, StatusOfAQueuedStoreKeepsIsSyncingAndAddsTheQueueFields) {
  v1::SyncStatus* status = scheduler_.status_response.mutable_status();
  status->set_has_cron_job(true);
  status->set_queued(true);
  status->set_queue_position(2);
  status->set_estimated_wait_seconds(90);
  *status->mutable_queued_run() = QueuedRun("buycosari");
  status->set_skipped_fires(3);
  *status->mutable_last_skip_time() = TimeUtil::SecondsToTimestamp(1796590800);
  status->set_last_skip_reason("a run was queued");

  const HttpResponse res = Get("/api/sync/status/buycosari");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, HasSubstr(R"({"success":true,"storeId":"buycosari","status":{)"));
  for (const char* member : {R"("isSyncing":false)", R"("activeConnections":0)",
                             R"("hasCronJob":true)", R"("queued":true)", R"("queuePosition":2)",
                             R"("estimatedWaitSeconds":"90")", R"("skippedFires":"3")",
                             R"("lastSkipTime":"2026-12-06T21:00:00Z")",
                             R"("lastSkipReason":"a run was queued")",
                             R"("queuedRun":{"runId":"run_q")"}) {
    EXPECT_THAT(res.body, HasSubstr(member));
  }
  EXPECT_THAT(res.body, HasSubstr(R"("timestamp":")"));
}

TEST_F(RouterTest, RunHistoryShowsAQueuedRunWithoutAStartTime) {
  *scheduler_.runs_response.add_runs() = QueuedRun("buycosari");
  v1::Run* done = scheduler_.runs_response.add_runs();
  done->set_run_id("run_done");
  done->set_status("completed");
  done->set_stage(v1::STAGE_COMPLETED);
  done->set_attempt(1);
  *done->mutable_queued_at() = TimeUtil::SecondsToTimestamp(1796590000);
  *done->mutable_started_at() = TimeUtil::SecondsToTimestamp(1796590001);

  const HttpResponse res = Get("/api/stores/buycosari/runs");
  EXPECT_EQ(res.status, 200);
  const size_t second = res.body.find("\"runId\":\"run_done\"");
  ASSERT_NE(second, std::string::npos);
  const std::string queued = res.body.substr(0, second);
  EXPECT_THAT(queued, HasSubstr(R"("status":"queued")"));
  EXPECT_THAT(queued, HasSubstr(R"("stage":"queued")"));
  EXPECT_THAT(queued, HasSubstr(R"("queuedAt":"2026-12-06T20:59:50Z")"));
  EXPECT_THAT(queued, HasSubstr(R"("attempt":1)"));
  EXPECT_THAT(queued, Not(HasSubstr("startedAt")));
  EXPECT_THAT(res.body.substr(second), HasSubstr(R"("startedAt":"2026-12-06T20:46:41Z")"));
}

}  // namespace
}  // namespace autosync::gateway
