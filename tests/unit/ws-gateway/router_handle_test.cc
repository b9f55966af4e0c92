// Router::Handle for each route family, against the fake scheduler: the status code and JSON shape
// of a success, a not-found, bad input and a refusal (401 without a token, 403 for a store the
// token does not name). routes_test.cc covers the run queue fields, quarantine and the store
// management routes; this file covers the rest.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/unit/ws-gateway/fake_scheduler_client.h"
#include "ws-gateway/routes.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = autosync::v1;

constexpr char kSecret[] = "router-handle-test-secret-0123456789";

class RouterHandleTest : public ::testing::Test {
 protected:
  // A token of `role` limited to `stores` (a JSON value: "*" or a list).
  static std::string Token(const std::string& role, const std::string& stores = R"("*")") {
    return SignJwtHs256(R"({"alg":"HS256"})",
                        absl::StrCat(R"({"sub":"u1","stores":)", stores, R"(,"role":")", role,
                                     R"(","exp":)", absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                        kSecret);
  }
  HttpResponse Call(const std::string& method, const std::string& target, const std::string& token,
                    std::string body = "") {
    HttpRequest request;
    request.method = method;
    request.target = target;
    request.remote_address = "127.0.0.1";
    if (!token.empty()) request.headers = {{"authorization", "Bearer " + token}};
    request.body = std::move(body);
    return router_.Handle(request);
  }
  HttpResponse Get(const std::string& target, const std::string& role = "viewer") {
    return Call("GET", target, Token(role));
  }

  FakeScheduler scheduler_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  GatewayMetrics metrics_{*registry_};
  Authenticator auth_{JwtVerifier(kSecret)};
  OriginPolicy origins_{std::vector<std::string>{"https://dash.example"}};
  TriggerLimiter limiter_{2, absl::Hours(1), 100, absl::Hours(1)};
  Router router_{scheduler_, registry_, metrics_, auth_, origins_, limiter_, RouterOptions()};
};

TEST_F(RouterHandleTest, HealthSaysOkOr503WithTheReason) {
  HttpResponse res = Call("GET", "/health", "");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"status":"ok","scheduler":"SERVING","auth":"jwt")"));
  EXPECT_THAT(res.body, HasSubstr(R"("timestamp":")"));

  scheduler_.health = absl::UnavailableError("connection refused");
  res = Call("GET", "/health", "");
  EXPECT_EQ(res.status, 503);
  EXPECT_THAT(res.body,
              StartsWith(R"({"status":"unavailable","reason":"connection refused","auth":"jwt")"));
}

TEST_F(RouterHandleTest, UnknownRoutesAndMetricsOnThePublicPortAre404) {
  HttpResponse res = Get("/api/nothing-here");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, R"({"success":false,"error":"no route for GET /api/nothing-here"})");
  EXPECT_EQ(Call("GET", "/metrics", "").status, 404);
  // No --web_root: static files are not served.
  res = Call("GET", "/index.html", "");
  EXPECT_EQ(res.status, 404);
  EXPECT_THAT(res.body, HasSubstr("no web root configured"));
}

TEST_F(RouterHandleTest, ApiRoutesWithoutAGoodTokenAre401WithAChallenge) {
  for (const std::string& token : {std::string(), std::string("not.a.jwt")}) {
    const HttpResponse res = Call("GET", "/api/sync/status/shop-1", token);
    EXPECT_EQ(res.status, 401) << token;
    EXPECT_THAT(res.body, StartsWith(R"({"success":false,"error":")"));
    EXPECT_THAT(res.headers, ::testing::Contains(::testing::Pair("WWW-Authenticate", "Bearer")));
  }
}

TEST_F(RouterHandleTest, AStoreOutsideTheTokenIs403AndReachesNoScheduler) {
  const std::string token = Token("operator", R"(["shop-1"])");
  HttpResponse res = Call("GET", "/api/sync/status/shop-2", token);
  EXPECT_EQ(res.status, 403);
  EXPECT_THAT(res.body, StartsWith(R"({"success":false,"error":")"));
  res = Call("POST", "/api/test/trigger-sync/shop-2", token);
  EXPECT_EQ(res.status, 403);
  EXPECT_TRUE(scheduler_.triggers.empty());
  // The token's own store is fine.
  EXPECT_EQ(Call("GET", "/api/sync/status/shop-1", token).status, 200);
}

TEST_F(RouterHandleTest, AnOriginNotAllowedIsRefusedOnApiRoutes) {
  HttpRequest request;
  request.method = "GET";
  request.target = "/api/stores";
  request.headers = {{"authorization", "Bearer " + Token("viewer")},
                     {"origin", "https://evil.example"}};
  const HttpResponse res = router_.Handle(request);
  EXPECT_EQ(res.status, 403);
  EXPECT_EQ(res.body, R"({"success":false,"error":"origin not allowed"})");
}

TEST_F(RouterHandleTest, SyncStatusAnswersTheStatusOrTheSchedulersError) {
  scheduler_.status_response.mutable_status()->set_is_syncing(true);
  HttpResponse res = Get("/api/sync/status/shop-1");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"storeId":"shop-1","status":{)"));
  EXPECT_THAT(res.body, HasSubstr(R"("isSyncing":true)"));

  EXPECT_EQ(Get("/api/sync/status/Bad%20Id").status, 400);
  scheduler_.status_error = absl::NotFoundError("no store shop-9");
  res = Get("/api/sync/status/shop-9");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, R"({"success":false,"error":"no store shop-9"})");
  scheduler_.status_error = absl::DeadlineExceededError("slow");
  EXPECT_EQ(Get("/api/sync/status/shop-9").status, 503);
}

TEST_F(RouterHandleTest, TriggerStartsOrAnswers409ForARunInFlightAnd429WhenLimited) {
  HttpResponse res = Call("POST", "/api/test/trigger-sync/shop-1", Token("operator"));
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"message":"Manual sync triggered for store: )"
                                   R"(shop-1","runId":"run_fake","started":true,"timestamp":")"));
  ASSERT_EQ(scheduler_.triggers.size(), 1u);
  EXPECT_EQ(scheduler_.triggers[0].store_id(), "shop-1");
  EXPECT_EQ(scheduler_.triggers[0].trigger(), v1::TRIGGER_MANUAL);

  scheduler_.trigger_started = false;
  res = Call("POST", "/api/test/trigger-sync/shop-1", Token("operator"));
  EXPECT_EQ(res.status, 409);
  EXPECT_THAT(res.body, StartsWith(R"({"success":false,"error":"A sync is already running for )"
                                   R"(store: shop-1","runId":"run_fake","started":false)"));

  // The store's burst (2) is spent.
  res = Call("POST", "/api/test/trigger-sync/shop-1", Token("operator"));
  EXPECT_EQ(res.status, 429);
  EXPECT_THAT(res.body, StartsWith(R"({"success":false,"error":")"));
  EXPECT_EQ(scheduler_.triggers.size(), 2u);

  // A viewer may not trigger.
  EXPECT_EQ(Call("POST", "/api/test/trigger-sync/shop-2", Token("viewer")).status, 403);
  EXPECT_EQ(scheduler_.triggers.size(), 2u);
}

TEST_F(RouterHandleTest, StoresLtvAndRunsAnswerTheirShapesAndRefuseBadPaging) {
  HttpResponse res = Get("/api/stores");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"stores":[],"timestamp":")"));
  EXPECT_EQ(Get("/api/stores?pageSize=abc").status, 400);

  res = Get("/api/stores/shop-1/ltv");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,)"));
  EXPECT_THAT(res.body, HasSubstr(R"("storeId":"shop-1")"));

  res = Get("/api/stores/shop-1/runs?pageSize=5");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, HasSubstr(R"("storeId":"shop-1")"));
  EXPECT_EQ(Get("/api/stores/shop-1/runs?pageSize=-3").status, 400);
  EXPECT_EQ(Get("/api/stores/Bad%20Id/runs").status, 400);
}

TEST_F(RouterHandleTest, MeNamesTheRoleSubjectAndStores) {
  const HttpResponse res = Call("GET", "/api/me", Token("operator", R"(["shop-1","shop-2"])"));
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"role":"operator","subject":"u1",)"
                                   R"("stores":["shop-1","shop-2"],"devMode":false,)"));
}

TEST_F(RouterHandleTest, AuditPagesAreAdminOnlyAndCheckTheirParameters) {
  v1::AuditEntry* entry = scheduler_.audit_page.add_entries();
  entry->set_id(7);
  entry->set_actor("u1");
  entry->set_action("store.create");
  entry->set_store_id("shop-1");
  entry->set_source("gateway");
  scheduler_.audit_page.set_next_page_token("7");

  HttpResponse res = Get("/api/audit?storeId=shop-1&action=store.create&limit=10", "admin");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"entries":[{"id":7,"at":")"));
  EXPECT_THAT(res.body, HasSubstr(R"("actor":"u1","action":"store.create","storeId":"shop-1",)"
                                  R"("detail":{},"source":"gateway"}],"nextBefore":7,)"));
  ASSERT_EQ(scheduler_.audit_requests.size(), 1u);
  EXPECT_EQ(scheduler_.audit_requests[0].store_id(), "shop-1");
  EXPECT_EQ(scheduler_.audit_requests[0].action(), "store.create");
  EXPECT_EQ(scheduler_.audit_requests[0].page_size(), 10);

  EXPECT_EQ(Get("/api/audit?limit=0", "admin").status, 400);
  EXPECT_EQ(Get("/api/audit?action=DROP%20TABLE", "admin").status, 400);
  EXPECT_EQ(Get("/api/audit?before=-1", "admin").status, 400);
  EXPECT_EQ(Get("/api/audit?storeId=Bad%20Id", "admin").status, 400);
  EXPECT_EQ(Get("/api/audit", "operator").status, 403);
  EXPECT_EQ(scheduler_.audit_requests.size(), 1u);

  scheduler_.audit_page.set_next_page_token("not-a-number");
  EXPECT_EQ(Get("/api/audit", "admin").status, 502);
}

TEST_F(RouterHandleTest, GetStoreAnswersTheStoreOrTheNotFound) {
  scheduler_.stored.set_display_name("Shop One");
  HttpResponse res = Get("/api/stores/shop-1");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.body, StartsWith(R"({"success":true,"store":{)"));
  EXPECT_THAT(res.body, HasSubstr(R"("storeId":"shop-1")"));
  EXPECT_EQ(Get("/api/stores/Bad%20Id").status, 400);
}

class RouterStaticTest : public RouterHandleTest {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) / "router_static_test";
    std::filesystem::create_directories(root_ / "css");
    std::ofstream(root_ / "index.html") << "<html>dash</html>";
    std::ofstream(root_ / "css" / "app.css") << "body{}";
    std::ofstream(root_ / ".secret") << "no";
    RouterOptions options;
    options.web_root = root_.string();
    static_router_ = std::make_unique<Router>(scheduler_, registry_, metrics_, auth_, origins_,
                                              limiter_, options);
  }
  HttpResponse Static(const std::string& target) {
    HttpRequest request;
    request.method = "GET";
    request.target = target;
    return static_router_->Handle(request);
  }
  std::filesystem::path root_;
  std::unique_ptr<Router> static_router_;
};

TEST_F(RouterStaticTest, ServesFilesWithTheirTypeAndRefusesEscapes) {
  HttpResponse res = Static("/");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "<html>dash</html>");
  EXPECT_THAT(res.content_type, StartsWith("text/html"));
  res = Static("/css/app.css");
  EXPECT_EQ(res.status, 200);
  EXPECT_THAT(res.content_type, StartsWith("text/css"));
  for (const char* bad :
       {"/.secret", "/../etc/passwd", "/css/../.secret", "/%2e%2e/x", "/missing.js"}) {
    EXPECT_EQ(Static(bad).status, 404) << bad;
  }
}

}  // namespace
}  // namespace autosync::gateway
