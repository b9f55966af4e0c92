// WorkerConfigFromFlags: the defaults are accepted, and each bad value is refused with one line
// naming its flag, as `sync-worker` prints it before exiting 2.
#include "sync-worker/config.h"

#include <string>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "common/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync-worker/flags.h"
#include "tests/unit/common/set_flags.h"

ABSL_DECLARE_FLAG(bool, insecure_grpc);

namespace autosync::worker {
namespace {

using ::autosync::testing::ConfigCase;
using ::autosync::testing::SetFlags;

// Plaintext gRPC, as the binaries' tests run them: the TLS files are tested on their own rows.
class WorkerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { absl::SetFlag(&FLAGS_insecure_grpc, true); }
  absl::FlagSaver saver_;
};

TEST_F(WorkerConfigTest, DefaultsAreTheDocumentedValues) {
  absl::StatusOr<WorkerConfig> config = WorkerConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.ToString(), "0.0.0.0:50052");
  EXPECT_EQ(config->metrics_listen.ToString(), "0.0.0.0:9102");
  EXPECT_EQ(config->database_pool_size, 16);
  EXPECT_EQ(config->max_concurrent_syncs, 64);
  EXPECT_EQ(config->worker_id, common::DefaultProcessName());
  EXPECT_EQ(config->startup_timeout, absl::Seconds(30));
  EXPECT_EQ(config->pipeline.orders_lookback, absl::Seconds(300));
  EXPECT_EQ(config->pipeline.ads_window_days, 28);
  EXPECT_EQ(config->pipeline.sweep_interval, absl::Hours(24));
  EXPECT_EQ(config->pipeline.orders_sweep, absl::Hours(24 * 7));
  EXPECT_EQ(config->pipeline.bulk.timeout, absl::Seconds(7200));
  EXPECT_TRUE(config->verify_tls);
  EXPECT_TRUE(config->security.insecure);
}

TEST_F(WorkerConfigTest, RequestTimeoutZeroKeepsEachClientsDefault) {
  const PipelineOptions defaults;
  absl::StatusOr<WorkerConfig> config = WorkerConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pipeline.orders_client.request_timeout, defaults.orders_client.request_timeout);
  EXPECT_EQ(config->pipeline.ads_client.request_timeout, defaults.ads_client.request_timeout);

  SetFlags({{"source_request_timeout_seconds", "7"}, {"ads_max_throttle_wait_seconds", "1"}});
  config = WorkerConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pipeline.orders_client.request_timeout, absl::Seconds(7));
  EXPECT_EQ(config->pipeline.ads_client.request_timeout, absl::Seconds(7));
  // The throttle wait is capped by the flag, the default one too.
  EXPECT_EQ(config->pipeline.ads_client.max_throttle_wait, absl::Seconds(1));
  EXPECT_LE(config->pipeline.ads_client.default_throttle_wait, absl::Seconds(1));
}

TEST_F(WorkerConfigTest, ReportsEveryProblemOnOneLineAfterTheEarlierOnes) {
  SetFlags({{"max_concurrent_syncs", "0"}, {"ads_sweep_days", "0"}});
  common::ConfigErrors earlier;
  earlier.Require(false, "log_level", "must be debug, info, warn or error");
  absl::StatusOr<WorkerConfig> config = WorkerConfigFromFlags(std::move(earlier));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "invalid --log_level: must be debug, info, warn or error; invalid "
            "--max_concurrent_syncs: must be between 1 and 256; invalid --ads_sweep_days: must "
            "be 1 to 1100");
}

class WorkerFlagTest : public WorkerConfigTest, public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(WorkerFlagTest, RefusesEachBadValueNamingTheFlag) {
  SetFlags(GetParam().flags);
  ::autosync::testing::ExpectConfigCase(WorkerConfigFromFlags(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    config, WorkerFlagTest,
    ::testing::Values(
        ConfigCase{"Defaults", {}, ""}, ConfigCase{"NoSweep", {{"sweep_interval_hours", "0"}}, ""},
        ConfigCase{"Listen", {{"listen", "nonsense"}}, "invalid --listen: \"nonsense\""},
        ConfigCase{"MetricsListen",
                   {{"metrics_listen", ":9102"}},
                   "invalid --metrics_listen: \":9102\" has no host"},
        ConfigCase{"DatabaseUrl",
                   {{"database_url", "host=db port=70000"}},
                   "invalid --database_url: port \"70000\" is not a number from 1 to 65535"},
        ConfigCase{"PoolSize",
                   {{"database_pool_size", "101"}},
                   "invalid --database_pool_size: must be between 1 and 100"},
        ConfigCase{"MaxConcurrentSyncs",
                   {{"max_concurrent_syncs", "257"}},
                   "invalid --max_concurrent_syncs: must be between 1 and 256"},
        ConfigCase{"StartupTimeout",
                   {{"startup_timeout_seconds", "0"}},
                   "invalid --startup_timeout_seconds: must be between 1 and 600"},
        ConfigCase{"OrdersLookback",
                   {{"orders_lookback_seconds", "86401"}},
                   "invalid --orders_lookback_seconds: must be between 0 and 86400"},
        ConfigCase{"AdsWindowDays",
                   {{"ads_window_days", "91"}},
                   "invalid --ads_window_days: must be between 1 and 90"},
        ConfigCase{"AdsInitialDays",
                   {{"ads_initial_days", "1101"}},
                   "invalid --ads_initial_days: must be between 1 and 1100 (the ads API keeps 37 "
                   "months)"},
        ConfigCase{"AdsThrottleWait",
                   {{"ads_max_throttle_wait_seconds", "0"}},
                   "invalid --ads_max_throttle_wait_seconds: must be between 1 and 3600"},
        ConfigCase{"SourceRequestTimeout",
                   {{"source_request_timeout_seconds", "301"}},
                   "invalid --source_request_timeout_seconds: must be between 0 and 300"},
        ConfigCase{"SweepInterval",
                   {{"sweep_interval_hours", "8785"}},
                   "invalid --sweep_interval_hours: must be 0 (no sweep) to 8784"},
        ConfigCase{"OrdersSweepDays",
                   {{"orders_sweep_days", "0"}},
                   "invalid --orders_sweep_days: must be 1 to 366"},
        ConfigCase{"AdsSweepDays",
                   {{"ads_sweep_days", "1101"}},
                   "invalid --ads_sweep_days: must be 1 to 1100"},
        ConfigCase{"BulkTimeout",
                   {{"bulk_timeout_seconds", "9"}},
                   "invalid --bulk_timeout_seconds: must be between 10 and 864000 (Shopify's own "
                   "limit is 10 days)"},
        ConfigCase{"BulkMaxPoll",
                   {{"bulk_max_poll_seconds", "601"}},
                   "invalid --bulk_max_poll_seconds: must be between 1 and 600"},
        ConfigCase{"AdsAsyncTimeout",
                   {{"ads_async_timeout_seconds", "86401"}},
                   "invalid --ads_async_timeout_seconds: must be between 10 and 86400"},
        ConfigCase{"WorkerId",
                   {{"worker_id", std::string(129, 'w')}},
                   "invalid --worker_id: is longer than 128 characters"},
        ConfigCase{"NeitherTlsNorInsecure",
                   {{"insecure_grpc", "false"}},
                   "invalid --tls_cert_file: gRPC needs mTLS"},
        ConfigCase{"MissingTlsFiles",
                   {{"insecure_grpc", "false"},
                    {"tls_cert_file", "/nonexistent/cert.pem"},
                    {"tls_key_file", "/nonexistent/key.pem"},
                    {"tls_ca_file", "/nonexistent/ca.pem"}},
                   "invalid --tls_cert_file: cannot read /nonexistent/cert.pem"}),
    ::autosync::testing::ConfigCaseName);

}  // namespace
}  // namespace autosync::worker
