// RS256 / ES256 tokens from a JWKS against the real ws-gateway (issue 19): tokens minted by npm
// `jose` and the JWKS served by js/jwks_server.js on 127.0.0.1. Accepted on an HTTP route and a
// /ws upgrade; key rotation without a restart; unknown kid and wrong aud refused; the JWKS
// endpoint down, hanging past the timeout, or answering garbage: no bad token gets through,
// HTTP routes keep answering while a fetch hangs, and the keys cached before keep working.
// Needs node and `npm ci` in tests/integration/gateway/js.
#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://idp.test/";
constexpr char kAudience[] = "autosync";

std::string JsDir() {
  const char* source = std::getenv("AUTOSYNC_SOURCE_DIR");
  if (source != nullptr && *source != '\0') {
    return absl::StrCat(source, "/tests/integration/gateway/js");
  }
  return AUTOSYNC_GATEWAY_JS_DIR;
}

class JwksGatewayTest : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    ASSERT_TRUE(RunCommand({"node", "--version"}).ok())
        << "node is required for the JWKS tests (apt-get install nodejs npm)";
    ASSERT_TRUE(std::filesystem::exists(JsDir() + "/node_modules/jose/package.json"))
        << "run: npm ci --prefix " << JsDir();
    auto idp = ChildProcess::Start("/usr/bin/env", {.args = {"node", JsDir() + "/jwks_server.js"}});
    ASSERT_TRUE(idp.ok()) << idp.status();
    idp_ = std::move(*idp);
    // The helper prints its ports once it listens (key generation takes a moment).
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && idp_->running()) {
      const std::string out = idp_->Output();
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      const size_t start = out.find("{\"jwks\":");
      const size_t end = out.find('}', start == std::string::npos ? 0 : start);
      if (start != std::string::npos && end != std::string::npos &&
          parser.parse(out.substr(start, end - start + 1)).get(doc) == simdjson::SUCCESS) {
        jwks_port_ = static_cast<int>(doc["jwks"].get_int64().value());
        control_port_ = static_cast<int>(doc["control"].get_int64().value());
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_GT(control_port_, 0) << idp_->Output();
  }

  // The gateway against the helper's JWKS (or `url`), only unknown kids triggering refreshes.
  void StartWithJwks(const std::string& url = "") {
    StartGateway({"--jwks_url=" +
                      (url.empty() ? absl::StrCat("http://127.0.0.1:", jwks_port_, "/jwks") : url),
                  absl::StrCat("--jwt_issuer=", kIssuer),
                  absl::StrCat("--jwt_audience=", kAudience), "--jwks_refresh_seconds=3600",
                  "--jwks_min_refresh_seconds=1", "--jwks_timeout_ms=3000"});
  }

  std::string Control(const std::string& path) {
    auto res = HttpGet(absl::StrCat("http://127.0.0.1:", control_port_, path));
    EXPECT_TRUE(res.ok() && res->status == 200)
        << path << ": " << (res.ok() ? res->body : res.status().ToString());
    return res.ok() ? res->body : "";
  }
  std::string Token(const std::string& kid, const std::string& extra = "") {
    return Control(absl::StrCat("/token?kid=", kid, "&iss=", kIssuer, "&aud=", kAudience, extra));
  }
  // GET /api/stores with the token: the HTTP status (0 when the gateway did not answer).
  long Api(const std::string& token) {
    auto res = HttpGet(Url("/api/stores?token=" + token));
    return res.ok() ? res->status : 0;
  }
  std::string ApiBody(const std::string& token) {
    auto res = HttpGet(Url("/api/stores?token=" + token));
    return res.ok() ? res->body : res.status().ToString();
  }
  std::string HealthBody() {
    auto res = HttpGet(Url("/health"));
    return res.ok() ? res->body : res.status().ToString();
  }
  double Refreshes(const std::string& outcome) {
    auto metrics = ScrapeMetrics(metrics_port_);
    return metrics.ok() ? SeriesValue(*metrics,
                                      absl::StrCat("autosync_gateway_jwks_refresh_total{outcome=\"",
                                                   outcome, "\"}"))
                        : -1;
  }
  // Polls until the gateway counted `n` refreshes with this outcome.
  void WaitForRefreshes(const std::string& outcome, double n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (Refreshes(outcome) < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
    ASSERT_GE(Refreshes(outcome), n) << gateway_->Output();
  }
  int Pending() {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(Control("/stats")).get(doc) != simdjson::SUCCESS) return -1;
    return static_cast<int>(doc["pending"].get_int64().value());
  }

  std::unique_ptr<ChildProcess> idp_;
  int jwks_port_ = 0;
  int control_port_ = 0;
};

TEST_F(JwksGatewayTest, Rs256AndEs256TokensAreAcceptedOverHttpAndWebSocket) {
  StartWithJwks();
  WaitForRefreshes("ok", 1);
  const std::string rs = Token("rsa-1");
  const std::string es = Token("ec-1");
  EXPECT_EQ(Api(rs), 200) << ApiBody(rs);
  EXPECT_EQ(Api(es), 200) << ApiBody(es);
  for (const std::string& token : {rs, es}) {
    auto ws = WsTestClient::Connect(port_, "/ws?token=" + token);
    ASSERT_TRUE(ws.ok()) << ws.status();
    ASSERT_TRUE((*ws)->SendText(R"({"event":"selectStore","data":"buycosari"})").ok());
    auto status = (*ws)->ReadUntil("syncStatus");
    EXPECT_TRUE(status.ok()) << status.status();
  }
  // The /ws upgrade refuses a token for an unknown kid.
  auto refused = WsTestClient::Connect(port_, "/ws?token=" + Token("stranger"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  auto closed = (*refused)->Read();
  EXPECT_THAT(closed.status().ToString(), HasSubstr("unknown key id"));
  // Wrong audience and wrong issuer.
  const std::string other_aud =
      Control(absl::StrCat("/token?kid=rsa-1&iss=", kIssuer, "&aud=other"));
  EXPECT_EQ(Api(other_aud), 401);
  EXPECT_THAT(ApiBody(other_aud), HasSubstr("wrong audience"));
  EXPECT_THAT(
      ApiBody(Control(absl::StrCat("/token?kid=ec-1&iss=https://evil.test/&aud=", kAudience))),
      HasSubstr("wrong issuer"));
  auto health = HttpGet(Url("/health"));
  ASSERT_TRUE(health.ok());
  EXPECT_THAT(health->body, HasSubstr(R"("jwks":{"ready":true,"keys":2})"));
}

TEST_F(JwksGatewayTest, RotationWithoutRestart) {
  StartWithJwks();
  WaitForRefreshes("ok", 1);
  const std::string old_token = Token("rsa-1");
  EXPECT_EQ(Api(old_token), 200);
  Control("/mode?set=rotated");
  // The new kid is unknown until a refresh: refused, and the refusal asks for one.
  const std::string new_token = Token("rsa-2");
  EXPECT_EQ(Api(new_token), 401);
  EXPECT_THAT(ApiBody(new_token), HasSubstr("unknown key id"));
  WaitForRefreshes("ok", 2);
  EXPECT_EQ(Api(new_token), 200) << ApiBody(new_token);
  EXPECT_EQ(Api(Token("ec-1")), 200);
  // The removed key's tokens are refused from now on.
  EXPECT_EQ(Api(old_token), 401);
  EXPECT_THAT(ApiBody(old_token), HasSubstr("unknown key id"));
}

TEST_F(JwksGatewayTest, AFailingJwksEndpointLetsNoBadTokenThroughAndKeepsCachedKeys) {
  StartWithJwks();
  WaitForRefreshes("ok", 1);
  const std::string good = Token("rsa-1");
  const std::string stranger = Token("stranger");
  ASSERT_EQ(Api(good), 200);

  // Down (the port closed): the unknown kid is refused and its refresh fails.
  Control("/mode?set=down");
  EXPECT_EQ(Api(stranger), 401);
  WaitForRefreshes("fetch_error", 1);
  EXPECT_EQ(Api(good), 200);
  EXPECT_EQ(Api(stranger), 401);
  auto health = HttpGet(Url("/health"));
  ASSERT_TRUE(health.ok());
  EXPECT_THAT(health->body, HasSubstr(R"("jwks":{"ready":true,"keys":2,"lastError":)"));

  // Hanging past the timeout: while the fetch is held open, routes answer at once.
  Control("/mode?set=hang");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Pending() < 1 && absl::Now() < deadline) {
    EXPECT_EQ(Api(stranger), 401);  // asks for a refresh (at most one a second)
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(Pending(), 1) << gateway_->Output();
  const double errors_before_timeout = Refreshes("fetch_error");  // the held fetch is not counted
  auto during = HttpGet(Url("/health"));
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(during->status, 200);
  EXPECT_EQ(Api(good), 200);
  EXPECT_EQ(Api(stranger), 401);
  // All of that happened while the gateway's fetch was still waiting (--jwks_timeout_ms=3000).
  EXPECT_GE(Pending(), 1);
  WaitForRefreshes("fetch_error", errors_before_timeout + 1);
  EXPECT_EQ(Api(good), 200);
  EXPECT_THAT(HealthBody(), HasSubstr("no answer within"));

  // Garbage: refused as a key set, the cached keys stay.
  Control("/mode?set=garbage");
  const absl::Time garbage_deadline = absl::Now() + absl::Seconds(20);
  while (Refreshes("invalid") < 1 && absl::Now() < garbage_deadline) {
    EXPECT_EQ(Api(stranger), 401);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(Refreshes("invalid"), 1);
  EXPECT_EQ(Api(good), 200);
  EXPECT_EQ(Api(Token("ec-1")), 200);
  EXPECT_EQ(Api(stranger), 401);
  EXPECT_THAT(HealthBody(), HasSubstr("JWKS is not JSON"));
  Control("/mode?set=both");  // lets the gateway's shutdown finish nothing in flight
}

TEST_F(JwksGatewayTest, BeforeTheFirstGoodFetchEveryJwksTokenIsRefusedAndHealthSaysWhy) {
  StartWithJwks(absl::StrCat("http://127.0.0.1:", FreePort(), "/jwks"));
  WaitForRefreshes("fetch_error", 1);
  const std::string token = Token("rsa-1");
  EXPECT_EQ(Api(token), 401);
  EXPECT_THAT(ApiBody(token), HasSubstr("no JWKS keys loaded"));
  auto health = HttpGet(Url("/health"));
  ASSERT_TRUE(health.ok());
  EXPECT_THAT(health->body,
              HasSubstr(R"("jwks":{"ready":false,"keys":0,"reason":"no JWKS fetched yet)"));
}

}  // namespace
}  // namespace autosync::testing
