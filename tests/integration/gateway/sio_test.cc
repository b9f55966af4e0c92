// The stock socket.io-client (npm, driven by node) against the real ws-gateway and the fake
// scheduler: default options (long-polling, then upgrade), websocket-only, heartbeats with
// short intervals, and CONNECT refusals. Needs `npm ci` in tests/integration/gateway/js.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/fake_scheduler.h"
#include "tests/integration/gateway/gateway_fixture.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/process.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "sio-test-secret-0123456789";

// The node project with socket.io-client: AUTOSYNC_SOURCE_DIR when set, else the source tree
// this test was built from.
std::string JsDir() {
  const char* source = std::getenv("AUTOSYNC_SOURCE_DIR");
  if (source != nullptr && *source != '\0') {
    return absl::StrCat(source, "/tests/integration/gateway/js");
  }
  return AUTOSYNC_GATEWAY_JS_DIR;
}

class SocketIoTest : public GatewayFixture {
 protected:
  SocketIoTest() { stop_timeout_ = absl::Seconds(10); }
  void SetUp() override {
    GatewayFixture::SetUp();
    ASSERT_TRUE(RunCommand({"node", "--version"}).ok())
        << "node is required for the Socket.IO tests (apt-get install nodejs npm)";
    ASSERT_TRUE(std::filesystem::exists(JsDir() + "/node_modules/socket.io-client/package.json"))
        << "run: npm ci --prefix " << JsDir();
  }

  absl::StatusOr<std::string> Client(std::vector<std::string> extra) {
    std::vector<std::string> argv = {"node", JsDir() + "/sio_client.js",
                                     absl::StrCat("--url=http://127.0.0.1:", port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }
};

TEST_F(SocketIoTest, DefaultOptionsClientReceivesATriggeredRunAfterUpgrading) {
  StartGateway();
  auto out = Client({"--store=buycosari"});
  ASSERT_TRUE(out.ok()) << out.status() << "\n" << gateway_->Output();
  EXPECT_THAT(*out, HasSubstr(R"("ok":true)"));
  EXPECT_THAT(*out, HasSubstr(R"("transport":"websocket")"));
  EXPECT_THAT(*out, HasSubstr(R"("upgraded":true)"));
  EXPECT_EQ(fake_->triggers(), 1);
}

TEST_F(SocketIoTest, WebSocketOnlyClientReceivesATriggeredRun) {
  StartGateway();
  auto out = Client({"--store=buycosari", "--websocket-only"});
  ASSERT_TRUE(out.ok()) << out.status() << "\n" << gateway_->Output();
  EXPECT_THAT(*out, HasSubstr(R"("ok":true)"));
}

TEST_F(SocketIoTest, HeartbeatsKeepShortIntervalSessionsAlive) {
  StartGateway({"--ping_interval_ms=200", "--ping_timeout_ms=200"});
  // Ten ping cycles on each transport without a disconnect.
  auto polling = Client({"--scenario=heartbeat", "--hold-ms=2000"});
  ASSERT_TRUE(polling.ok()) << polling.status();
  auto ws = Client({"--scenario=heartbeat", "--hold-ms=2000", "--websocket-only"});
  ASSERT_TRUE(ws.ok()) << ws.status();
}

TEST_F(SocketIoTest, ConnectIsRefusedWithoutAValidToken) {
  const std::string secret = absl::StrCat(::testing::TempDir(), "/sio-secret-", getpid());
  std::ofstream(secret) << kSecret;
  StartGateway({"--jwt_secret_file=" + secret});
  auto anonymous = Client({"--scenario=refused"});
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_THAT(*anonymous, HasSubstr("bearer token is required"));
  auto forged = Client({"--scenario=refused", "--token=a.b.c"});
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_THAT(*forged, HasSubstr("invalid token"));
  const std::string token =
      gateway::SignJwtHs256(R"({"alg":"HS256"})",
                            absl::StrCat(R"({"sub":"sio","stores":["buycosari"],"exp":)",
                                         absl::ToUnixSeconds(absl::Now()) + 600, "}"),
                            kSecret);
  auto good = Client({"--store=buycosari", "--token=" + token});
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_THAT(*good, HasSubstr(R"("ok":true)"));
}

}  // namespace
}  // namespace autosync::testing
