// Roles at the real ws-gateway (issue 19): every HTTP route (access.h kAllRoutes) and every
// client event (kAllSocketEvents) on both WebSocket protocols, with a viewer, an operator and an
// admin token (HS256, the `role` claim), against the fake scheduler. A call is refused (HTTP 403
// / the protocol's refusal) exactly when the token's role is below the table's (NeededRole), and
// a store outside the token's `stores` claim is refused on every path.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/integration/security/security_support.h"
#include "ws-gateway/access.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

using gateway::Role;
using gateway::RouteId;
using gateway::SocketEvent;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "roles-test-secret-0123456789";
constexpr Role kRoles[] = {Role::kViewer, Role::kOperator, Role::kAdmin};

std::string JsDir() {
  const char* source = std::getenv("AUTOSYNC_SOURCE_DIR");
  if (source != nullptr && *source != '\0') {
    return absl::StrCat(source, "/tests/integration/gateway/js");
  }
  return AUTOSYNC_GATEWAY_JS_DIR;
}

struct Sample {
  std::string method;
  std::string path;
  std::string body;
};

// A request that reaches each route. A switch without default: a new RouteId must get one.
Sample SampleRequest(RouteId id) {
  switch (id) {
    case RouteId::kHealth:
      return {"GET", "/health", ""};
    case RouteId::kMetrics:
      return {"GET", "/metrics", ""};
    case RouteId::kSyncStatus:
      return {"GET", "/api/sync/status/buycosari", ""};
    case RouteId::kTriggerSync:
      return {"POST", "/api/test/trigger-sync/buycosari", ""};
    case RouteId::kStores:
      return {"GET", "/api/stores", ""};
    case RouteId::kCreateStore:
      return {"POST", "/api/stores", R"({"storeId":"buycosari","displayName":"B"})"};
    case RouteId::kStore:
      return {"GET", "/api/stores/buycosari", ""};
    case RouteId::kReplaceStore:
      return {"PUT", "/api/stores/buycosari", R"({"displayName":"B","version":1})"};
    case RouteId::kDeleteStore:
      return {"DELETE", "/api/stores/buycosari", ""};
    case RouteId::kPauseStore:
      return {"POST", "/api/stores/buycosari/pause", "{}"};
    case RouteId::kResumeStore:
      return {"POST", "/api/stores/buycosari/resume", "{}"};
    case RouteId::kResyncStore:
      return {"POST", "/api/stores/buycosari/resync", "{}"};
    case RouteId::kBackfillStore:
      return {"POST", "/api/stores/buycosari/backfill",
              R"({"from":"2024-01-01","to":"2024-01-31"})"};
    case RouteId::kPreviewSchedule:
      return {"POST", "/api/schedules/preview", R"({"schedule":"0 * * * *"})"};
    case RouteId::kMe:
      return {"GET", "/api/me", ""};
    case RouteId::kStoreLtv:
      return {"GET", "/api/stores/buycosari/ltv", ""};
    case RouteId::kStoreRuns:
      return {"GET", "/api/stores/buycosari/runs", ""};
    case RouteId::kStoreQuarantine:
      return {"GET", "/api/stores/buycosari/quarantine", ""};
    case RouteId::kAudit:
      return {"GET", "/api/audit", ""};
    case RouteId::kBenchBroadcast:
      return {"POST", "/bench/broadcast", "{}"};
    case RouteId::kStatic:
      return {"GET", "/index.html", ""};
    case RouteId::kNotFound:
      return {"PATCH", "/nowhere", ""};
  }
  return {};
}

// The /ws frame of each event.
std::string WsFrame(SocketEvent event, const std::string& store) {
  switch (event) {
    case SocketEvent::kSelectStore:
      return absl::StrCat(R"({"event":"selectStore","data":")", store, R"("})");
    case SocketEvent::kTriggerManualSync:
      return absl::StrCat(R"({"event":"triggerManualSync","data":")", store, R"("})");
  }
  return "";
}

class RolesTest : public GatewayFixture {
 protected:
  RolesTest() { stop_timeout_ = absl::Seconds(10); }

  void SetUp() override {
    GatewayFixture::SetUp();
    const std::string secret = WriteTempFile("roles-jwt", absl::StrCat(kSecret, "\n"));
    // High trigger limits: the walk triggers many times.
    base_args_ = {"--jwt_secret_file=" + secret, "--store_triggers_per_minute=6000",
                  "--client_triggers_per_minute=6000"};
    StartGateway();
  }

  static std::string Token(Role role, const std::string& stores_json = R"("*")") {
    return gateway::SignJwtHs256(
        R"({"alg":"HS256","typ":"JWT"})",
        absl::StrCat(R"({"sub":"roles-)", gateway::RoleName(role), R"(","stores":)", stores_json,
                     R"(,"role":")", gateway::RoleName(role), R"(","exp":)",
                     absl::ToUnixSeconds(absl::Now()) + 3600, "}"),
        kSecret);
  }

  // The Socket.IO client's JSON line after emitting `event` for `store`.
  absl::StatusOr<std::string> SioEmit(SocketEvent event, const std::string& token,
                                      const std::string& store) {
    return RunCommand({"node", JsDir() + "/sio_client.js",
                       absl::StrCat("--url=http://127.0.0.1:", port_), "--websocket-only",
                       "--scenario=emit", absl::StrCat("--event=", gateway::SocketEventName(event)),
                       "--store=" + store, "--token=" + token});
  }
};

TEST_F(RolesTest, EveryRouteRefusesExactlyTheRolesBelowItsNeed) {
  int checked = 0;
  for (RouteId id : gateway::kAllRoutes) {
    const Sample sample = SampleRequest(id);
    ASSERT_FALSE(sample.method.empty());
    const std::optional<Role> needed = gateway::NeededRole(id);
    for (Role role : kRoles) {
      auto res = HttpCall(
          sample.method, Url(sample.path),
          {{"Authorization", "Bearer " + Token(role)}, {"Content-Type", "application/json"}},
          sample.body);
      ASSERT_TRUE(res.ok()) << res.status();
      const std::string what =
          absl::StrCat(sample.method, " ", sample.path, " as ", gateway::RoleName(role));
      const bool refused = needed.has_value() && static_cast<int>(role) < static_cast<int>(*needed);
      if (refused) {
        EXPECT_EQ(res->status, 403) << what << ": " << res->body;
        EXPECT_THAT(res->body, HasSubstr(R"("success":false)")) << what;
        EXPECT_THAT(res->body,
                    HasSubstr(absl::StrCat("role ", gateway::RoleName(*needed), " required")))
            << what;
      } else {
        EXPECT_NE(res->status, 403) << what << ": " << res->body;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(gateway::kAllRoutes.size()) * 3);
}

TEST_F(RolesTest, EveryPlainWsEventRefusesExactlyTheRolesBelowItsNeed) {
  for (SocketEvent event : gateway::kAllSocketEvents) {
    const Role needed = gateway::NeededRole(event);
    for (Role role : kRoles) {
      const std::string what =
          absl::StrCat(gateway::SocketEventName(event), " as ", gateway::RoleName(role));
      auto client = WsTestClient::Connect(port_, "/ws?token=" + Token(role));
      ASSERT_TRUE(client.ok()) << client.status();
      ASSERT_TRUE((*client)->SendText(WsFrame(event, "buycosari")).ok());
      if (static_cast<int>(role) < static_cast<int>(needed)) {
        // selectStore is refused with an `error` event, a trigger with its triggerResult.
        auto refused = (*client)->ReadUntil(
            event == SocketEvent::kSelectStore ? "\"event\":\"error\"" : "\"code\":403");
        ASSERT_TRUE(refused.ok()) << what << ": " << refused.status();
        if (event == SocketEvent::kTriggerManualSync) {
          EXPECT_THAT(*refused, HasSubstr(R"("success":false)")) << what;
        }
        EXPECT_THAT(*refused,
                    HasSubstr(absl::StrCat("role ", gateway::RoleName(needed), " required")))
            << what;
      } else {
        // The event's answer: a status for selectStore, a trigger result for a trigger.
        const std::string answer =
            event == SocketEvent::kSelectStore ? "syncStatus" : "triggerResult";
        auto ok = (*client)->ReadUntil(answer);
        ASSERT_TRUE(ok.ok()) << what << ": " << ok.status();
        EXPECT_THAT(*ok, Not(HasSubstr("required"))) << what;
        if (event == SocketEvent::kTriggerManualSync) {
          EXPECT_THAT(*ok, HasSubstr(R"("success":true)")) << what;
        }
      }
    }
  }
}

TEST_F(RolesTest, EverySocketIoEventRefusesExactlyTheRolesBelowItsNeed) {
  ASSERT_TRUE(std::filesystem::exists(JsDir() + "/node_modules/socket.io-client/package.json"))
      << "run: npm ci --prefix " << JsDir();
  for (SocketEvent event : gateway::kAllSocketEvents) {
    const Role needed = gateway::NeededRole(event);
    for (Role role : kRoles) {
      const std::string what =
          absl::StrCat(gateway::SocketEventName(event), " as ", gateway::RoleName(role));
      auto out = SioEmit(event, Token(role), "buycosari");
      ASSERT_TRUE(out.ok()) << what << ": " << out.status();
      if (static_cast<int>(role) < static_cast<int>(needed)) {
        EXPECT_THAT(*out, HasSubstr(R"("ack":{"success":false)")) << what << ": " << *out;
        EXPECT_THAT(*out, HasSubstr(absl::StrCat("role ", gateway::RoleName(needed), " required")))
            << what << ": " << *out;
      } else {
        EXPECT_THAT(*out, HasSubstr(R"("ack":{"success":true)")) << what << ": " << *out;
      }
    }
  }
}

TEST_F(RolesTest, AStoreOutsideTheClaimsIsRefusedOnEveryPath) {
  const std::string token = Token(Role::kAdmin, R"(["other"])");
  auto http =
      HttpCall("GET", Url("/api/sync/status/buycosari"), {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->status, 403);
  EXPECT_THAT(http->body, HasSubstr("does not grant store buycosari"));
  auto trigger = HttpCall("POST", Url("/api/test/trigger-sync/buycosari"),
                          {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(trigger.ok());
  EXPECT_EQ(trigger->status, 403);
  for (SocketEvent event : gateway::kAllSocketEvents) {
    auto client = WsTestClient::Connect(port_, "/ws?token=" + token);
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE((*client)->SendText(WsFrame(event, "buycosari")).ok());
    auto refused = (*client)->ReadUntil("does not grant store buycosari");
    ASSERT_TRUE(refused.ok()) << refused.status();
    if (std::filesystem::exists(JsDir() + "/node_modules/socket.io-client/package.json")) {
      auto out = SioEmit(event, token, "buycosari");
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_THAT(*out, HasSubstr("does not grant store buycosari")) << *out;
    }
  }
  EXPECT_EQ(fake_->triggers(), 0);
}

}  // namespace
}  // namespace autosync::testing
