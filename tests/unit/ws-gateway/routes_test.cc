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
#include "ws-gateway/store_json.h"

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
  for (const char* member :
       {R"("isSyncing":false)", R"("activeConnections":0)", R"("hasCronJob":true)",
        R"("queued":true)", R"("queuePosition":2)", R"("estimatedWaitSeconds":"90")",
        R"("skippedFires":"3")", R"("lastSkipTime":"2026-12-06T21:00:00Z")",
        R"("lastSkipReason":"a run was queued")", R"("queuedRun":{"runId":"run_q")"}) {
    EXPECT_THAT(res.body, HasSubstr(member));
  }
  EXPECT_THAT(res.body, HasSubstr(R"("timestamp":")"));
}

TEST_F(RouterTest, QuarantineListsRecordsWithTheirRuleAndPassesPagingOn) {
  v1::QuarantinedRecord* q = scheduler_.quarantine_response.add_records();
  q->set_kind("order");
  q->set_record_key("1042");
  q->set_rule("refund_exceeds_total");
  q->set_detail("refunded 150.00 of a 100.00 order");
  q->set_raw(R"({"id":1042,"total_price":"100.00"})");
  *q->mutable_last_seen() = TimeUtil::SecondsToTimestamp(1796590000);
  scheduler_.quarantine_response.set_total(3);
  (*scheduler_.quarantine_response.mutable_by_rule())["refund_exceeds_total"] = 3;
  scheduler_.quarantine_response.set_next_page_token("tok");

  const HttpResponse res =
      Get("/api/stores/buycosari/quarantine?pageSize=1&kind=order&pageToken=abc");
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_THAT(res.body, HasSubstr(R"("success":true)"));
  EXPECT_THAT(res.body, HasSubstr(R"("storeId":"buycosari")"));
  EXPECT_THAT(res.body, HasSubstr(R"("recordKey":"1042")"));
  EXPECT_THAT(res.body, HasSubstr(R"("rule":"refund_exceeds_total")"));
  // The raw JSON travels as a string, escaped, never spliced into the answer.
  EXPECT_THAT(res.body, HasSubstr(R"("raw":"{\"id\":1042,\"total_price\":\"100.00\"}")"));
  EXPECT_THAT(res.body, HasSubstr(R"("byRule":{"refund_exceeds_total":"3"})"));
  EXPECT_THAT(res.body, HasSubstr(R"("nextPageToken":"tok")"));
  ASSERT_EQ(scheduler_.quarantine_requests.size(), 1u);
  EXPECT_EQ(scheduler_.quarantine_requests[0].store_id(), "buycosari");
  EXPECT_EQ(scheduler_.quarantine_requests[0].page_size(), 1);
  EXPECT_EQ(scheduler_.quarantine_requests[0].kind(), "order");
  EXPECT_EQ(scheduler_.quarantine_requests[0].page_token(), "abc");

  EXPECT_EQ(Get("/api/stores/buycosari/quarantine?pageSize=-1").status, 400);
  EXPECT_EQ(Get("/api/stores/Bad%20Id/quarantine").status, 400);
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

namespace autosync::gateway {
namespace {

constexpr char kRoleSecret[] = "routes-test-secret-0123456789";

// The store routes with a token of each role: the role a route needs, the body rules (unknown,
// mistyped and secret members, oversized bodies, a PUT without its version), and what reaches
// the scheduler.
class StoreRoutesTest : public ::testing::Test {
 protected:
  static std::string Token(const std::string& role) {
    const std::string role_claim = role.empty() ? "" : absl::StrCat(R"(,"role":")", role, "\"");
    return SignJwtHs256(R"({"alg":"HS256"})",
                        absl::StrCat(R"({"sub":"u","stores":"*")", role_claim, R"(,"exp":)",
                                     absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                        kRoleSecret);
  }
  HttpResponse Call(const std::string& method, const std::string& target, const std::string& role,
                    std::string body = "") {
    HttpRequest request;
    request.method = method;
    request.target = target;
    request.remote_address = "127.0.0.1";
    request.headers = {{"authorization", "Bearer " + Token(role)}};
    request.body = std::move(body);
    return router_.Handle(request);
  }

  FakeScheduler scheduler_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics_{*registry_};
  Authenticator auth_{JwtVerifier(kRoleSecret)};
  OriginPolicy origins_{std::vector<std::string>()};
  TriggerLimiter limiter_{600, absl::Seconds(0), 600, absl::Seconds(0)};
  Router router_{scheduler_, registry_, metrics_, auth_, origins_, limiter_, RouterOptions()};
};

constexpr char kNewStore[] =
    R"({"storeId":"shop-2","schedules":{"orders":"*/5 * * * *","ads":"0 */6 * * *"},)"
    R"("stalenessSeconds":{"orders":600,"ads":7200},"credentialsRef":"env:SHOP2_TOKEN"})";

TEST_F(StoreRoutesTest, EachRouteNeedsItsRoleAndARefusalChangesNothing) {
  struct Case {
    std::string method;
    std::string target;
    std::string body;
    std::string needs;  // the lowest role allowed
  };
  const std::vector<Case> cases = {
      {"GET", "/api/stores", "", "viewer"},
      {"GET", "/api/stores/shop-1", "", "viewer"},
      {"GET", "/api/me", "", "viewer"},
      {"POST", "/api/schedules/preview", R"({"schedule":"* * * * *"})", "viewer"},
      {"POST", "/api/test/trigger-sync/shop-1", "", "operator"},
      {"POST", "/api/stores/shop-1/pause", R"({"note":"holiday"})", "operator"},
      {"POST", "/api/stores/shop-1/resume", "", "operator"},
      {"POST", "/api/stores/shop-1/resync", "{}", "operator"},
      {"POST", "/api/stores", kNewStore, "admin"},
      {"PUT", "/api/stores/shop-1", R"({"version":3})", "admin"},
      {"DELETE", "/api/stores/shop-1", "", "admin"},
      {"POST", "/api/stores/shop-1/backfill", R"({"from":"2024-01-01","to":"2024-01-31"})",
       "admin"},
  };
  const std::vector<std::string> roles = {"viewer", "operator", "admin"};
  for (const Case& c : cases) {
    const auto needed = std::find(roles.begin(), roles.end(), c.needs) - roles.begin();
    for (size_t r = 0; r < roles.size(); ++r) {
      const size_t upserts = scheduler_.upserts.size();
      const size_t deletes = scheduler_.deleted.size();
      const HttpResponse res = Call(c.method, c.target, roles[r], c.body);
      const std::string what = absl::StrCat(c.method, " ", c.target, " as ", roles[r]);
      if (static_cast<long>(r) < needed) {
        EXPECT_EQ(res.status, 403) << what << ": " << res.body;
        EXPECT_THAT(res.body, HasSubstr(absl::StrCat("role ", c.needs, " required"))) << what;
        EXPECT_EQ(scheduler_.upserts.size(), upserts) << what;
        EXPECT_EQ(scheduler_.deleted.size(), deletes) << what;
      } else {
        EXPECT_LT(res.status, 300) << what << ": " << res.body;
      }
    }
  }
  // A token without a role is an operator (what every token could do before roles).
  EXPECT_EQ(Call("POST", "/api/stores/shop-1/pause", "").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/stores/shop-1", "").status, 403);
}

// A role claim naming no known role gives no role: every /api/ route answers 403 (issue 19).
TEST_F(StoreRoutesTest, ARoleClaimNamingNoKnownRoleIsRefusedEverywhere) {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/stores"}, {"GET", "/api/me"}, {"POST", "/api/stores/shop-1/pause"}}) {
    const HttpResponse res = Call(method, target, "superuser");
    EXPECT_EQ(res.status, 403) << method << " " << target << ": " << res.body;
    EXPECT_THAT(res.body, HasSubstr("role none may not use")) << target;
  }
}

TEST_F(StoreRoutesTest, CreateMapsTheJsonToTheSchedulerStore) {
  const HttpResponse res = Call("POST", "/api/stores", "admin", kNewStore);
  ASSERT_EQ(res.status, 201) << res.body;
  ASSERT_EQ(scheduler_.upserts.size(), 1u);
  const v1::UpsertStoreRequest& req = scheduler_.upserts[0];
  EXPECT_TRUE(req.create_only());
  EXPECT_EQ(req.expected_version(), 0);
  EXPECT_EQ(req.store().store_id(), "shop-2");
  EXPECT_EQ(req.store().schedule(), "*/5 * * * *");
  EXPECT_EQ(req.store().ads_schedule(), "0 */6 * * *");
  EXPECT_EQ(req.store().staleness_seconds(), 600);
  EXPECT_EQ(req.store().ads_staleness_seconds(), 7200);
  EXPECT_TRUE(req.store().enabled());  // absent: enabled
  EXPECT_EQ(req.store().credentials_ref(), "env:SHOP2_TOKEN");
  EXPECT_THAT(res.body, HasSubstr(R"("schedules":{"orders":"*/5 * * * *","ads":"0 */6 * * *"})"));
  EXPECT_THAT(res.body, HasSubstr(R"("stalenessSeconds":{"orders":600,"ads":7200})"));
}

// The notification webhook and its key reference travel both ways under their camelCase names;
// the scheduler's refusals of them name the JSON member.
TEST_F(StoreRoutesTest, NotificationFieldsMapBothWays) {
  const std::string body =
      absl::StrCat(R"({"storeId":"shop-2","credentialsRef":"env:SHOP2_TOKEN",)",
                   R"("notifyWebhookUrl":"https://hooks.example.com/autosync",)",
                   R"("notifySecretRef":"file:/var/run/secrets/hook"})");
  const HttpResponse res = Call("POST", "/api/stores", "admin", body);
  ASSERT_EQ(res.status, 201) << res.body;
  ASSERT_EQ(scheduler_.upserts.size(), 1u);
  EXPECT_EQ(scheduler_.upserts[0].store().notify_webhook_url(),
            "https://hooks.example.com/autosync");
  EXPECT_EQ(scheduler_.upserts[0].store().notify_secret_ref(), "file:/var/run/secrets/hook");
  EXPECT_THAT(res.body, HasSubstr(R"("notifyWebhookUrl":"https://hooks.example.com/autosync")"));
  EXPECT_THAT(res.body, HasSubstr(R"("notifySecretRef":"file:/var/run/secrets/hook")"));
  EXPECT_EQ(JsonFieldFor("notify_webhook_url: must use https://"), "notifyWebhookUrl");
  EXPECT_EQ(JsonFieldFor("notify_secret_ref: is required"), "notifySecretRef");
}

TEST_F(StoreRoutesTest, BadBodiesAreRefusedNamingTheMember) {
  struct Case {
    std::string body;
    int status;
    std::string field;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", 400, "", "body: is empty"},
      {"[1,2]", 400, "", "body: must be a JSON object"},
      {"{\"storeId\":", 400, "", "body: is not valid JSON"},
      {R"({"storeId":"x","colour":"red"})", 400, "colour", "colour: is not a known member"},
      {R"({"storeId":"x","schedules":{"orders":5}})", 400, "schedules.orders",
       "schedules.orders: must be a string"},
      {R"({"storeId":"x","schedules":{"daily":"* * * * *"}})", 400, "schedules.daily",
       "is not a known member"},
      {R"({"storeId":"x","stalenessSeconds":{"ads":"60"}})", 400, "stalenessSeconds.ads",
       "must be an integer"},
      {R"({"storeId":"x","enabled":"yes"})", 400, "enabled", "must be true or false"},
      {R"({"storeId":"x","accessToken":"shpat_123"})", 400, "accessToken", "looks like a secret"},
      {R"({"storeId":"x","shopifyApiToken":"shpat_123"})", 400, "shopifyApiToken",
       "looks like a secret"},
      {R"({"storeId":"x","storeId":"y"})", 400, "storeId", "appears twice"},
      {R"({"displayName":"no id"})", 400, "storeId", "storeId: is required"},
      {R"({"storeId":"Bad Id"})", 400, "storeId", "storeId: store_id"},
      {absl::StrCat(R"({"storeId":"x","displayName":")", std::string(70 * 1024, 'a'), "\"}"), 413,
       "", "larger than 65536 bytes"},
  };
  for (const Case& c : cases) {
    const HttpResponse res = Call("POST", "/api/stores", "admin", c.body);
    EXPECT_EQ(res.status, c.status) << c.body.substr(0, 80) << " -> " << res.body;
    EXPECT_THAT(res.body, HasSubstr(c.message)) << c.body.substr(0, 80);
    if (!c.field.empty()) {
      EXPECT_THAT(res.body, HasSubstr(absl::StrCat(R"("field":")", c.field, "\"")))
          << c.body.substr(0, 80);
    }
    // The secret's value is never echoed.
    EXPECT_THAT(res.body, Not(HasSubstr("shpat_123")));
  }
  EXPECT_TRUE(scheduler_.upserts.empty());
}

TEST_F(StoreRoutesTest, ReplaceNeedsTheVersionAndMapsAConflictTo409WithTheCurrentStore) {
  EXPECT_THAT(Call("PUT", "/api/stores/shop-1", "admin", R"({"displayName":"x"})").body,
              HasSubstr("version: is required"));
  EXPECT_THAT(Call("PUT", "/api/stores/shop-1", "admin", R"({"storeId":"other","version":2})").body,
              HasSubstr("storeId: does not match"));
  EXPECT_TRUE(scheduler_.upserts.empty());

  HttpResponse res = Call("PUT", "/api/stores/shop-1", "admin", R"({"version":4})");
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_EQ(scheduler_.upserts.size(), 1u);
  EXPECT_EQ(scheduler_.upserts[0].expected_version(), 4);
  EXPECT_EQ(scheduler_.upserts[0].store().store_id(), "shop-1");
  EXPECT_FALSE(scheduler_.upserts[0].create_only());

  scheduler_.upsert_error = absl::AbortedError("store \"shop-1\" was changed by someone else");
  scheduler_.stored.set_version(9);
  scheduler_.stored.set_display_name("theirs");
  res = Call("PUT", "/api/stores/shop-1", "admin", R"({"version":4})");
  EXPECT_EQ(res.status, 409);
  EXPECT_THAT(res.body, HasSubstr("was changed by someone else"));
  EXPECT_THAT(res.body, HasSubstr(R"("store":{"storeId":"shop-1","displayName":"theirs")"));
  EXPECT_THAT(res.body, HasSubstr(R"("version":9)"));

  // A scheduler validation error names the JSON member it is about.
  scheduler_.upsert_error =
      absl::InvalidArgumentError("ads_schedule: cron: hour field: \"25\" is out of range 0-23");
  res = Call("PUT", "/api/stores/shop-1", "admin", R"({"version":9})");
  EXPECT_EQ(res.status, 400);
  EXPECT_THAT(res.body, HasSubstr(R"("field":"schedules.ads")"));
}

TEST_F(StoreRoutesTest, ActionBodiesAreCheckedToo) {
  EXPECT_THAT(Call("POST", "/api/stores/shop-1/backfill", "admin", R"({"from":"2024-01-01"})").body,
              HasSubstr("to: is required"));
  EXPECT_THAT(Call("POST", "/api/stores/shop-1/pause", "operator", R"({"note":1})").body,
              HasSubstr("note: must be a string"));
  EXPECT_THAT(Call("POST", "/api/stores/shop-1/resume", "operator", R"({"force":true})").body,
              HasSubstr("force: is not a known member"));
  const HttpResponse paused =
      Call("POST", "/api/stores/shop-1/pause", "operator", R"({"note":"black friday"})");
  EXPECT_EQ(paused.status, 200);
  EXPECT_THAT(paused.body, HasSubstr(R"("enabled":false,"pauseNote":"black friday")"));
  // Wrong methods name the allowed ones.
  const HttpResponse wrong = Call("PATCH", "/api/stores/shop-1", "admin");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_THAT(wrong.body, HasSubstr("GET, HEAD, PUT, DELETE"));
}

}  // namespace
}  // namespace autosync::gateway
