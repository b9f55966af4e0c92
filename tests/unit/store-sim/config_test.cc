// StoreSimConfigFromFlags: the defaults are accepted, and each bad value is refused with the
// message `store-sim` prints (after "store-sim: ") before exiting 2.
#include "tools/store-sim/config.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/common/set_flags.h"
#include "tools/store-sim/flags.h"

namespace autosync::storesim {
namespace {

using ::autosync::testing::ConfigCase;
using ::autosync::testing::SetFlags;

class StoreSimConfigTest : public ::testing::Test {
 protected:
  absl::FlagSaver saver_;
};

TEST_F(StoreSimConfigTest, DefaultsAreTheDocumentedValues) {
  absl::StatusOr<StoreSimConfig> config = StoreSimConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.address, "127.0.0.1");
  EXPECT_EQ(config->server.port, 8090);
  EXPECT_EQ(config->server.threads, 2);
  EXPECT_EQ(config->server.idle_timeout_seconds, 60);
  EXPECT_FALSE(config->server.live);
  EXPECT_EQ(config->server.live_interval_ms, 2000);
  EXPECT_EQ(config->sim.seed, 42u);
  ASSERT_EQ(config->sim.stores.size(), 2u);
  EXPECT_EQ(config->sim.stores[0].order_count, 200000);
  EXPECT_EQ(config->sim.access_token, "sim-token");
  // No --end: the start of the current UTC day.
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_EQ(absl::ToUnixSeconds(config->sim.end) % 86400, 0);
  EXPECT_LE(absl::ToUnixSeconds(config->sim.end), now);
  EXPECT_GT(absl::ToUnixSeconds(config->sim.end), now - 86400);
}

TEST_F(StoreSimConfigTest, ReadsEndAndFaults) {
  SetFlags({{"end", "2025-03-01T12:00:00Z"}, {"burst_429", "3"}, {"live", "true"}});
  absl::StatusOr<StoreSimConfig> config = StoreSimConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sim.end, absl::FromUnixSeconds(1740830400));
  EXPECT_EQ(config->sim.faults.burst_429, 3);
  EXPECT_TRUE(config->server.live);
}

TEST_F(StoreSimConfigTest, IdleTimeoutReachesTheServerOptions) {
  SetFlags({{"idle_timeout_seconds", "5"}});
  absl::StatusOr<StoreSimConfig> config = StoreSimConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.idle_timeout_seconds, 5);
}

class StoreSimFlagTest : public StoreSimConfigTest,
                         public ::testing::WithParamInterface<ConfigCase> {};

TEST_P(StoreSimFlagTest, RefusesEachBadValueNamingTheFlag) {
  SetFlags(GetParam().flags);
  ::autosync::testing::ExpectConfigCase(StoreSimConfigFromFlags(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    config, StoreSimFlagTest,
    ::testing::Values(
        ConfigCase{"Defaults", {}, ""},
        ConfigCase{
            "NonLoopbackAllowed", {{"listen", "0.0.0.0:8090"}, {"allow_non_loopback", "true"}}, ""},
        ConfigCase{"NonLoopback",
                   {{"listen", "0.0.0.0:8090"}},
                   "--listen: 0.0.0.0 is not a loopback address"},
        ConfigCase{
            "ListenNoPort", {{"listen", "nonsense"}}, "--listen: 'nonsense' is not host:port"},
        ConfigCase{"Stores", {{"stores", "acme"}}, "--stores: 'acme' is not <id>:<order_count>"},
        ConfigCase{
            "StoresDuplicate", {{"stores", "acme:5,acme:6"}}, "--stores: duplicate store 'acme'"},
        ConfigCase{"End", {{"end", "yesterday"}}, "--end: 'yesterday' is not an RFC 3339 time"},
        ConfigCase{"LiveDeleteProbability",
                   {{"live_delete_probability", "1.5"}},
                   "--live_delete_probability must be in [0, 1]"},
        ConfigCase{"NegativeFault", {{"bulk_stuck", "-1"}}, "fault flags must be >= 0"},
        ConfigCase{"ThreadsLow", {{"threads", "0"}}, "--threads must be in [1, 64]"},
        ConfigCase{"ThreadsHigh", {{"threads", "65"}}, "--threads must be in [1, 64]"},
        ConfigCase{"IdleTimeoutAtMost", {{"idle_timeout_seconds", "3600"}}, ""},
        ConfigCase{"IdleTimeoutLow",
                   {{"idle_timeout_seconds", "0"}},
                   "--idle_timeout_seconds must be in [1, 3600]"},
        ConfigCase{"IdleTimeoutHigh",
                   {{"idle_timeout_seconds", "3601"}},
                   "--idle_timeout_seconds must be in [1, 3600]"}),
    ::autosync::testing::ConfigCaseName);

}  // namespace
}  // namespace autosync::storesim
