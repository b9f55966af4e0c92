// GatewayConfigFromFlags: the defaults are accepted on a loopback --listen, and each bad value is
// refused with one line naming its flag, as `ws-gateway` prints it before exiting 2.
#include "ws-gateway/config.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "common/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/common/set_flags.h"
#include "ws-gateway/flags.h"

ABSL_DECLARE_FLAG(bool, insecure_grpc);

namespace autosync::gateway {
namespace {

using ::autosync::testing::ConfigCase;
using ::autosync::testing::SetFlags;
using ::testing::ElementsAre;

// Writes `content` to a file under the test's temporary directory and returns its path.
std::string TempFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f != nullptr) {
    std::fputs(content.c_str(), f);
    std::fclose(f);
  }
  return path;
}

// Plaintext gRPC, as the binaries' tests run them: the TLS files are tested on their own rows.
class GatewayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { absl::SetFlag(&FLAGS_insecure_grpc, true); }
  absl::FlagSaver saver_;
};

TEST_F(GatewayConfigTest, DefaultsAreTheDocumentedValuesOnLoopback) {
  SetFlags({{"listen", "127.0.0.1:8080"}});
  absl::StatusOr<GatewayConfig> config = GatewayConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(config->metrics_listen.ToString(), "0.0.0.0:9103");
  EXPECT_EQ(config->scheduler_target, "dns:///127.0.0.1:50051");
  EXPECT_EQ(config->scheduler_tls_name, "autosync-scheduler");
  EXPECT_EQ(config->threads, 1);
  EXPECT_EQ(config->blocking_threads, 4);
  EXPECT_EQ(config->upstream_timeout, absl::Seconds(2));
  EXPECT_EQ(config->jwt_secret, "");
  EXPECT_EQ(config->jwt.role_claim, "role");
  EXPECT_EQ(config->jwt.default_role, Role::kOperator);
  EXPECT_EQ(config->limits.max_payload, 1000000u);
  EXPECT_EQ(config->gateway_id, common::DefaultProcessName());
  EXPECT_TRUE(config->allowed_origins.empty());
  EXPECT_FALSE(config->bench_endpoints);
}

TEST_F(GatewayConfigTest, ReadsTheSecretFileAndTheOrigins) {
  const std::string secret = TempFile("gateway_secret", "0123456789abcdef0123\n");
  SetFlags({{"jwt_secret_file", secret},
            {"allowed_origins", "https://a.example, http://b.example:8080"},
            {"default_role", "none"}});
  absl::StatusOr<GatewayConfig> config = GatewayConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->jwt_secret, "0123456789abcdef0123");
  EXPECT_THAT(config->allowed_origins, ElementsAre("https://a.example", "http://b.example:8080"));
  EXPECT_EQ(config->jwt.default_role, Role::kNone);
}

TEST_F(GatewayConfigTest, ReportsEveryProblemOnOneLineAfterTheEarlierOnes) {
  SetFlags({{"listen", "127.0.0.1:8080"}, {"threads", "0"}, {"role_claim", ""}});
  common::ConfigErrors earlier;
  earlier.Require(false, "log_format", "must be text or json");
  absl::StatusOr<GatewayConfig> config = GatewayConfigFromFlags(std::move(earlier));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "invalid --log_format: must be text or json; invalid --threads: must be between 1 "
            "and 64; invalid --role_claim: is empty");
}

class GatewayFlagTest : public GatewayConfigTest,
                        public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(GatewayFlagTest, RefusesEachBadValueNamingTheFlag) {
  // A loopback --listen unless the row says otherwise: dev mode is refused elsewhere.
  SetFlags({{"listen", "127.0.0.1:8080"}});
  SetFlags(GetParam().flags);
  ::autosync::testing::ExpectConfigCase(GatewayConfigFromFlags(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    config, GatewayFlagTest,
    ::testing::Values(
        ConfigCase{"Defaults", {}, ""},
        ConfigCase{"RemoteDevModeAllowed",
                   {{"listen", "0.0.0.0:8080"}, {"allow_remote_dev_mode", "true"}},
                   ""},
        ConfigCase{"RemoteWithJwks",
                   {{"listen", "0.0.0.0:8080"}, {"jwks_url", "https://idp.example/jwks"}},
                   ""},
        ConfigCase{"RemoteDevMode",
                   {{"listen", "0.0.0.0:8080"}},
                   "invalid --jwt_secret_file: (or --jwks_url) is required when --listen is not "
                   "a loopback address"},
        ConfigCase{"Listen", {{"listen", "nonsense"}}, "invalid --listen: \"nonsense\""},
        ConfigCase{"MetricsListen",
                   {{"metrics_listen", "127.0.0.1:x"}},
                   "invalid --metrics_listen: \"127.0.0.1:x\" has a bad port"},
        ConfigCase{
            "SchedulerTarget", {{"scheduler_target", ""}}, "invalid --scheduler_target: is empty"},
        ConfigCase{"SchedulerTlsName",
                   {{"scheduler_tls_name", ""}},
                   "invalid --scheduler_tls_name: is empty"},
        ConfigCase{"Threads", {{"threads", "65"}}, "invalid --threads: must be between 1 and 64"},
        ConfigCase{"BlockingThreads",
                   {{"blocking_threads", "0"}},
                   "invalid --blocking_threads: must be between 1 and 64"},
        ConfigCase{"UpstreamTimeout",
                   {{"upstream_timeout_ms", "60001"}},
                   "invalid --upstream_timeout_ms: must be between 1 and 60000"},
        ConfigCase{"WebRoot",
                   {{"web_root", "/nonexistent/web"}},
                   "invalid --web_root: is not a directory"},
        ConfigCase{"JwtSecretFileMissing",
                   {{"jwt_secret_file", "/nonexistent/secret"}},
                   "invalid --jwt_secret_file: cannot read /nonexistent/secret"},
        ConfigCase{"JwtSecretFileShort",
                   {{"jwt_secret_file", TempFile("short_secret", "tooshort")}},
                   "invalid --jwt_secret_file: "},
        ConfigCase{"JwksUrl",
                   {{"jwks_url", "ftp://idp.example/jwks"}},
                   "invalid --jwks_url: must be an http:// or https:// URL"},
        ConfigCase{"JwksRefresh",
                   {{"jwks_refresh_seconds", "9"}},
                   "invalid --jwks_refresh_seconds: must be between 10 and 86400"},
        ConfigCase{"JwksMinRefresh",
                   {{"jwks_min_refresh_seconds", "3601"}},
                   "invalid --jwks_min_refresh_seconds: must be between 1 and 3600"},
        ConfigCase{"JwksTimeout",
                   {{"jwks_timeout_ms", "99"}},
                   "invalid --jwks_timeout_ms: must be between 100 and 60000"},
        ConfigCase{"JwtLeeway",
                   {{"jwt_leeway_seconds", "301"}},
                   "invalid --jwt_leeway_seconds: must be between 0 and 300"},
        ConfigCase{"RoleClaim", {{"role_claim", ""}}, "invalid --role_claim: is empty"},
        ConfigCase{"StoresClaim", {{"stores_claim", ""}}, "invalid --stores_claim: is empty"},
        ConfigCase{"DefaultRole",
                   {{"default_role", "root"}},
                   "invalid --default_role: must be viewer, operator, admin or none"},
        ConfigCase{"AllowedOrigins",
                   {{"allowed_origins", "https://ok.example,ftp://bad"}},
                   "invalid --allowed_origins: entry \"ftp://bad\" is not * or an http(s):// "
                   "origin"},
        ConfigCase{"PingInterval",
                   {{"ping_interval_ms", "9"}},
                   "invalid --ping_interval_ms: must be between 10 and 600000"},
        ConfigCase{"PingTimeout",
                   {{"ping_timeout_ms", "600001"}},
                   "invalid --ping_timeout_ms: must be between 10 and 600000"},
        ConfigCase{"MaxPayload",
                   {{"max_payload_bytes", "1023"}},
                   "invalid --max_payload_bytes: must be between 1024 and 100000000"},
        ConfigCase{"ConnectTimeout",
                   {{"connect_timeout_ms", "99"}},
                   "invalid --connect_timeout_ms: must be between 100 and 600000"},
        ConfigCase{"SendQueueMax",
                   {{"send_queue_max", "7"}},
                   "invalid --send_queue_max: must be between 8 and 100000"},
        ConfigCase{"StoreTriggers",
                   {{"store_triggers_per_minute", "0"}},
                   "invalid --store_triggers_per_minute: must be between 1 and 6000"},
        ConfigCase{"ClientTriggers",
                   {{"client_triggers_per_minute", "6001"}},
                   "invalid --client_triggers_per_minute: must be between 1 and 6000"},
        ConfigCase{"BenchEndpointsRemote",
                   {{"listen", "0.0.0.0:8080"},
                    {"allow_remote_dev_mode", "true"},
                    {"bench_endpoints", "true"}},
                   "invalid --bench_endpoints: needs --listen on a loopback address"},
        ConfigCase{"ProtocolConformanceRemote",
                   {{"listen", "0.0.0.0:8080"},
                    {"allow_remote_dev_mode", "true"},
                    {"protocol_conformance", "true"}},
                   "invalid --protocol_conformance: needs --listen on a loopback address"},
        ConfigCase{"NeitherTlsNorInsecure",
                   {{"insecure_grpc", "false"}},
                   "invalid --tls_cert_file: gRPC needs mTLS"}),
    ::autosync::testing::ConfigCaseName);

}  // namespace
}  // namespace autosync::gateway
