#include "common/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace autosync::common
