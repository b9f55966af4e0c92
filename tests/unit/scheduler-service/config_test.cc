// SchedulerConfigFromFlags: the defaults are accepted, and each bad value is refused with one line
// naming its flag, as `scheduler-service` prints it before exiting 2.
#include "scheduler-service/config.h"

#include <string>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "common/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/flags.h"
#include "tests/unit/common/set_flags.h"

ABSL_DECLARE_FLAG(bool, insecure_grpc);

namespace autosync::scheduler {
namespace {

using ::autosync::testing::ConfigCase;
using ::autosync::testing::SetFlags;

// Plaintext gRPC, as the binaries' tests run them: the TLS files are tested on their own rows.
class SchedulerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { absl::SetFlag(&FLAGS_insecure_grpc, true); }
  absl::FlagSaver saver_;
};

TEST_F(SchedulerConfigTest, DefaultsAreTheDocumentedValues) {
  absl::StatusOr<SchedulerConfig> config = SchedulerConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.ToString(), "0.0.0.0:50051");
  EXPECT_EQ(config->metrics_listen.ToString(), "0.0.0.0:9101");
  EXPECT_EQ(config->database_pool_size, 8);
  EXPECT_EQ(config->worker_target, "dns:///127.0.0.1:50052");
  EXPECT_EQ(config->worker_tls_name, "autosync-worker");
  EXPECT_EQ(config->startup_timeout, absl::Seconds(30));
  EXPECT_EQ(config->default_schedule, "0 * * * *");
  EXPECT_EQ(config->default_orders_api, "graphql");
  EXPECT_EQ(config->replica_id, common::DefaultProcessName());
  EXPECT_EQ(config->run_timeout, absl::Minutes(30));
  EXPECT_EQ(config->run_history, absl::Hours(24 * 30));
  EXPECT_EQ(config->notify_attempts, 4);
  EXPECT_TRUE(config->adaptive_dispatch);
  EXPECT_TRUE(config->security.insecure);
}

TEST_F(SchedulerConfigTest, ReportsEveryProblemOnOneLineAfterTheEarlierOnes) {
  SetFlags({{"listen", "nonsense"}, {"notify_attempts", "0"}});
  common::ConfigErrors earlier;
  earlier.Require(false, "log_format", "must be text or json");
  absl::StatusOr<SchedulerConfig> config = SchedulerConfigFromFlags(std::move(earlier));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "invalid --log_format: must be text or json; invalid --listen: \"nonsense\" is not "
            "host:port; invalid --notify_attempts: must be between 1 and 10");
}

class SchedulerFlagTest : public SchedulerConfigTest,
                          public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(SchedulerFlagTest, RefusesEachBadValueNamingTheFlag) {
  SetFlags(GetParam().flags);
  ::autosync::testing::ExpectConfigCase(SchedulerConfigFromFlags(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    config, SchedulerFlagTest,
    ::testing::Values(
        ConfigCase{"Defaults", {}, ""},
        ConfigCase{
            "MigrateOnlyNeedsNoTls", {{"migrate_only", "true"}, {"insecure_grpc", "false"}}, ""},
        ConfigCase{"Listen", {{"listen", "nonsense"}}, "invalid --listen: \"nonsense\""},
        ConfigCase{"MetricsListen",
                   {{"metrics_listen", "h:99999"}},
                   "invalid --metrics_listen: \"h:99999\" has a bad port"},
        ConfigCase{"DatabaseUrl", {{"database_url", ""}}, "invalid --database_url: is empty"},
        ConfigCase{"PoolSizeLow",
                   {{"database_pool_size", "0"}},
                   "invalid --database_pool_size: must be between 1 and 100"},
        ConfigCase{"PoolSizeHigh",
                   {{"database_pool_size", "101"}},
                   "invalid --database_pool_size: must be between 1 and 100"},
        ConfigCase{"WorkerTarget", {{"worker_target", ""}}, "invalid --worker_target: is empty"},
        ConfigCase{
            "WorkerTlsName", {{"worker_tls_name", ""}}, "invalid --worker_tls_name: is empty"},
        ConfigCase{"StartupTimeout",
                   {{"startup_timeout_seconds", "601"}},
                   "invalid --startup_timeout_seconds: must be between 1 and 600"},
        ConfigCase{"DefaultSchedule",
                   {{"default_schedule", "61 * * * *"}},
                   "invalid --default_schedule: "},
        ConfigCase{"DefaultAdsSchedule",
                   {{"default_ads_schedule", "often"}},
                   "invalid --default_ads_schedule: "},
        ConfigCase{"DefaultOrdersApi",
                   {{"default_orders_api", "soap"}},
                   "invalid --default_orders_api: must be rest or graphql"},
        ConfigCase{"DefaultTimezone",
                   {{"default_timezone", "Mars/Olympus_Mons"}},
                   "invalid --default_timezone: "},
        ConfigCase{"DefaultStaleness",
                   {{"default_staleness_seconds", "31536001"}},
                   "invalid --default_staleness_seconds: must be between 1 and 31536000"},
        ConfigCase{"ReplicaId",
                   {{"replica_id", std::string(129, 'r')}},
                   "invalid --replica_id: is longer than 128 characters"},
        ConfigCase{"MaxConcurrentRuns",
                   {{"max_concurrent_runs", "1025"}},
                   "invalid --max_concurrent_runs: must be between 1 and 1024"},
        ConfigCase{"RunTimeout",
                   {{"run_timeout_seconds", "9"}},
                   "invalid --run_timeout_seconds: must be between 10 and 86400"},
        ConfigCase{"RunStale",
                   {{"run_stale_seconds", "1"}},
                   "invalid --run_stale_seconds: must be between 2 and 3600"},
        ConfigCase{"CatchupWindow",
                   {{"catchup_window_seconds", "-1"}},
                   "invalid --catchup_window_seconds: must be between 0 and 86400"},
        ConfigCase{"ScheduleRefresh",
                   {{"schedule_refresh_seconds", "3601"}},
                   "invalid --schedule_refresh_seconds: must be between 1 and 3600"},
        ConfigCase{"RunHistory",
                   {{"run_history_days", "0"}},
                   "invalid --run_history_days: must be between 1 and 3650"},
        ConfigCase{"WatcherQueueLimit",
                   {{"watcher_queue_limit", "7"}},
                   "invalid --watcher_queue_limit: must be between 8 and 100000"},
        ConfigCase{"NotifyTimeout",
                   {{"notify_timeout_seconds", "301"}},
                   "invalid --notify_timeout_seconds: must be between 1 and 300"},
        ConfigCase{"NotifyAttempts",
                   {{"notify_attempts", "11"}},
                   "invalid --notify_attempts: must be between 1 and 10"},
        ConfigCase{"NeitherTlsNorInsecure",
                   {{"insecure_grpc", "false"}},
                   "invalid --tls_cert_file: gRPC needs mTLS"},
        ConfigCase{"BothTlsAndInsecure",
                   {{"tls_cert_file", "/etc/hostname"}},
                   "invalid --insecure_grpc: excludes --tls_cert_file"}),
    ::autosync::testing::ConfigCaseName);

}  // namespace
}  // namespace autosync::scheduler
