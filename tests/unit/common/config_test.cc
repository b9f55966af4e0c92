#include "common/config.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "common/pg_url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Flags of this test only, one per kind of check the config helpers make.
ABSL_FLAG(int32_t, config_test_count, 5, "an int in a range");
ABSL_FLAG(int64_t, config_test_big, 5, "an int64 in a range");
ABSL_FLAG(int32_t, config_test_seconds, 30, "a duration in seconds");
ABSL_FLAG(int32_t, config_test_ms, 250, "a duration in milliseconds");
ABSL_FLAG(std::string, config_test_listen, "127.0.0.1:8080", "a listen address");
ABSL_FLAG(std::string, config_test_name, "x", "a string that must be set");
ABSL_FLAG(std::string, config_test_db, "postgresql://u@127.0.0.1/db", "a database URL");
ABSL_FLAG(std::string, config_test_url, "", "empty or an http(s) URL");
ABSL_FLAG(std::string, config_test_dir, "", "empty or a directory");
ABSL_FLAG(std::string, config_test_id, "", "a process name");
ABSL_FLAG(bool, config_test_loopback_only, false, "a switch for loopback only");

namespace autosync::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HostPortTest, ParsesIpv4AndHostNames) {
  auto hp = ParseHostPort("0.0.0.0:50051");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "0.0.0.0");
  EXPECT_EQ(hp->port, 50051);
  auto named = ParseHostPort("sync-worker:50052");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->host, "sync-worker");
}

TEST(HostPortTest, ParsesBracketedIpv6AndPrintsItBack) {
  auto hp = ParseHostPort("[::1]:8080");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 8080);
  EXPECT_EQ(hp->ToString(), "[::1]:8080");
}

TEST(HostPortTest, RefusesMissingOrBadPortsNamingTheValue) {
  for (const char* bad : {"localhost", "localhost:", "localhost:65536", "localhost:-1",
                          "localhost:+80", ":80", "[::1]80", "[::1]", "host:8o"}) {
    auto hp = ParseHostPort(bad);
    EXPECT_FALSE(hp.ok()) << bad;
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseHostPort("h:99999").status().message()), HasSubstr("h:99999"));
}

TEST(HostPortTest, RecognizesLoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("example.com"));
}

TEST(DatabaseUrlTest, AcceptsUrisAndKeyValueStrings) {
  EXPECT_TRUE(ValidateDatabaseUrl("postgresql://user:pw@127.0.0.1:5432/db").ok());
  EXPECT_TRUE(ValidateDatabaseUrl("postgres://localhost/autosync?sslmode=disable").ok());
  EXPECT_TRUE(ValidateDatabaseUrl("host=127.0.0.1 port=5432 dbname=autosync").ok());
}

TEST(DatabaseUrlTest, RefusesMalformedStringsWithoutEchoingPasswords) {
  EXPECT_FALSE(ValidateDatabaseUrl("").ok());
  EXPECT_FALSE(ValidateDatabaseUrl("not a url").ok());
  EXPECT_FALSE(ValidateDatabaseUrl("postgresql://u:pw@host:notaport/db").ok());
  const absl::Status s = ValidateDatabaseUrl("host=x password=hunter2 bogus");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("hunter2")));
}

TEST(DatabaseUrlTest, RedactsPasswordsInBothForms) {
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:s3cret@db:5432/autosync"),
            "postgresql://app:***@db:5432/autosync");
  EXPECT_EQ(RedactDatabaseUrl("host=db password=s3cret dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://db/x?password=s3cret&sslmode=require"),
            "postgresql://db/x?password=***&sslmode=require");
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app@db/x"), "postgresql://app@db/x");
}

TEST(ConfigErrorsTest, SummarizesEveryProblemOnOneLineNamingTheOption) {
  ConfigErrors errors;
  EXPECT_TRUE(errors.ok());
  errors.Check(absl::OkStatus(), "listen");
  errors.Check(absl::InvalidArgumentError("\"x\" is not host:port"), "listen");
  errors.Require(false, "threads", "must be between 1 and 64");
  EXPECT_FALSE(errors.ok());
  EXPECT_EQ(errors.Summary(),
            "invalid --listen: \"x\" is not host:port; invalid --threads: must be between 1 and "
            "64");
  EXPECT_EQ(errors.ToStatus().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EnvNameTest, UpperCasesWithPrefix) {
  EXPECT_EQ(EnvNameForFlag("database_url"), "AUTOSYNC_DATABASE_URL");
  EXPECT_EQ(EnvNameForFlag("listen"), "AUTOSYNC_LISTEN");
}

TEST(ConfigErrorsTest, RangeNamesTheBoundsAndAppendKeepsOtherLines) {
  ConfigErrors errors;
  errors.RequireInRange(1, 1, 64, "threads");
  errors.RequireInRange(64, 1, 64, "threads");
  EXPECT_TRUE(errors.ok());
  errors.RequireInRange(65, 1, 64, "threads");
  ConfigErrors more;
  more.Require(false, "listen", "is empty");
  more.Require(false, "role_claim", "is empty");
  errors.Append(more.ToStatus());
  errors.Append(absl::OkStatus());
  EXPECT_EQ(errors.Summary(),
            "invalid --threads: must be between 1 and 64; invalid --listen: is empty; invalid "
            "--role_claim: is empty");
}

// Each flag helper against each kind of bad value: the line names the flag (from the flag
// itself) and the problem the way the binaries' messages do; a good value passes through.
struct FlagCheck {
  std::string name;
  std::string flag;
  std::string value;
  std::function<void(ConfigErrors&)> read;
  std::string error;  // empty: accepted
};

void PrintTo(const FlagCheck& check, std::ostream* os) { *os << check.name; }

class FlagHelperTest : public ::testing::TestWithParam<FlagCheck> {
 protected:
  absl::FlagSaver saver_;
};

TEST_P(FlagHelperTest, RefusesABadValueNamingTheFlag) {
  const FlagCheck& check = GetParam();
  std::string parse_error;
  ASSERT_TRUE(absl::FindCommandLineFlag(check.flag)->ParseFrom(check.value, &parse_error))
      << parse_error;
  ConfigErrors errors;
  check.read(errors);
  if (check.error.empty()) {
    EXPECT_TRUE(errors.ok()) << errors.Summary();
  } else {
    EXPECT_EQ(errors.Summary(), check.error);
  }
}

std::vector<FlagCheck> FlagChecks() {
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "/config_test_file";
  std::FILE* f = std::fopen(file.c_str(), "w");
  if (f != nullptr) std::fclose(f);
  return {
      {"RangeLow", "config_test_count", "0",
       [](ConfigErrors& e) { FlagInRange(FLAGS_config_test_count, 1, 64, e); },
       "invalid --config_test_count: must be between 1 and 64"},
      {"RangeHigh", "config_test_big", "100000001",
       [](ConfigErrors& e) { FlagInRange(FLAGS_config_test_big, 1024, 100000000, e); },
       "invalid --config_test_big: must be between 1024 and 100000000"},
      {"RangeOwnProblem", "config_test_count", "9",
       [](ConfigErrors& e) {
         FlagInRange(FLAGS_config_test_count, 0, 8, e, "must be 0 (none) to 8");
       },
       "invalid --config_test_count: must be 0 (none) to 8"},
      {"RangeInside", "config_test_count", "64",
       [](ConfigErrors& e) { EXPECT_EQ(FlagInRange(FLAGS_config_test_count, 1, 64, e), 64); }, ""},
      {"Seconds", "config_test_seconds", "601",
       [](ConfigErrors& e) { SecondsFlag(FLAGS_config_test_seconds, 1, 600, e); },
       "invalid --config_test_seconds: must be between 1 and 600"},
      {"SecondsInside", "config_test_seconds", "45",
       [](ConfigErrors& e) {
         EXPECT_EQ(SecondsFlag(FLAGS_config_test_seconds, 1, 600, e), absl::Seconds(45));
       },
       ""},
      {"Milliseconds", "config_test_ms", "99",
       [](ConfigErrors& e) { MillisecondsFlag(FLAGS_config_test_ms, 100, 60000, e); },
       "invalid --config_test_ms: must be between 100 and 60000"},
      {"MillisecondsInside", "config_test_ms", "250",
       [](ConfigErrors& e) {
         EXPECT_EQ(MillisecondsFlag(FLAGS_config_test_ms, 100, 60000, e), absl::Milliseconds(250));
       },
       ""},
      {"Listen", "config_test_listen", "nonsense",
       [](ConfigErrors& e) { ListenFlag(FLAGS_config_test_listen, e); },
       "invalid --config_test_listen: \"nonsense\" is not host:port"},
      {"ListenGood", "config_test_listen", "[::1]:9",
       [](ConfigErrors& e) { EXPECT_EQ(ListenFlag(FLAGS_config_test_listen, e).port, 9); }, ""},
      {"NonEmpty", "config_test_name", "",
       [](ConfigErrors& e) { NonEmptyFlag(FLAGS_config_test_name, e); },
       "invalid --config_test_name: is empty"},
      {"DatabaseUrl", "config_test_db", "host=db port=0 password=hunter2",
       [](ConfigErrors& e) { DatabaseUrlFlag(FLAGS_config_test_db, e); },
       "invalid --config_test_db: port \"0\" is not a number from 1 to 65535"},
      {"HttpUrl", "config_test_url", "ftp://idp/keys",
       [](ConfigErrors& e) { HttpUrlFlag(FLAGS_config_test_url, e); },
       "invalid --config_test_url: must be an http:// or https:// URL"},
      {"HttpUrlEmpty", "config_test_url", "",
       [](ConfigErrors& e) { HttpUrlFlag(FLAGS_config_test_url, e); }, ""},
      {"Directory", "config_test_dir", file,
       [](ConfigErrors& e) { DirectoryFlag(FLAGS_config_test_dir, e); },
       "invalid --config_test_dir: is not a directory"},
      {"DirectoryMissing", "config_test_dir", dir + "/no/such/dir",
       [](ConfigErrors& e) { DirectoryFlag(FLAGS_config_test_dir, e); },
       "invalid --config_test_dir: is not a directory"},
      {"DirectoryGood", "config_test_dir", dir,
       [](ConfigErrors& e) { DirectoryFlag(FLAGS_config_test_dir, e); }, ""},
      {"ProcessNameTooLong", "config_test_id", std::string(129, 'r'),
       [](ConfigErrors& e) { ProcessNameFlag(FLAGS_config_test_id, 128, e); },
       "invalid --config_test_id: is longer than 128 characters"},
      {"ProcessNameDefault", "config_test_id", "",
       [](ConfigErrors& e) {
         EXPECT_EQ(ProcessNameFlag(FLAGS_config_test_id, 128, e), DefaultProcessName());
       },
       ""},
      {"LoopbackOnly", "config_test_loopback_only", "true",
       [](ConfigErrors& e) {
         LoopbackOnlyFlag(FLAGS_config_test_loopback_only, HostPort{"0.0.0.0", 80}, e);
       },
       "invalid --config_test_loopback_only: needs --listen on a loopback address"},
      {"LoopbackOnlyOnLoopback", "config_test_loopback_only", "true",
       [](ConfigErrors& e) {
         EXPECT_TRUE(
             LoopbackOnlyFlag(FLAGS_config_test_loopback_only, HostPort{"127.0.0.1", 80}, e));
       },
       ""},
      {"LoopbackOnlyOff", "config_test_loopback_only", "false",
       [](ConfigErrors& e) {
         EXPECT_FALSE(
             LoopbackOnlyFlag(FLAGS_config_test_loopback_only, HostPort{"0.0.0.0", 80}, e));
       },
       ""},
  };
}

INSTANTIATE_TEST_SUITE_P(config, FlagHelperTest, ::testing::ValuesIn(FlagChecks()),
                         [](const ::testing::TestParamInfo<FlagCheck>& param_info) {
                           return param_info.param.name;
                         });

TEST(DefaultProcessNameTest, IsHostNameAndPid) {
  const std::string name = DefaultProcessName();
  EXPECT_THAT(name, ::testing::EndsWith(absl::StrCat("-", ::getpid())));
  EXPECT_GT(name.size(), absl::StrCat("-", ::getpid()).size());
}

}  // namespace
}  // namespace autosync::common
