// Secrets in configuration errors: the database URL helpers of common/config.h never repeat a
// password, whatever shape the connection string has (URI or key=value, quoted, spaced,
// percent-encoded, with '@' in the password, or malformed so that libpq refuses it).
#include "absl/strings/match.h"
#include "common/config.h"
#include "common/pg_url.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Case {
  std::string url;
  std::string secret;  // must not survive
};

std::vector<Case> Cases() {
  return {
      {"postgresql://app:s3cretA@db:5432/autosync", "s3cretA"},
      {"postgres://app:s3cret%40B@db/autosync", "s3cret%40B"},
      {"postgresql://app:s3cr@tC@db/autosync", "tC"},  // a raw '@' in the password
      {"postgresql://app:s3cretD@[::1]:5432/autosync", "s3cretD"},
      {"postgresql://db/x?user=app&password=s3cretE&sslmode=require", "s3cretE"},
      {"postgresql://db/x?password=s3cretF", "s3cretF"},
      {"host=db password=s3cretG dbname=x", "s3cretG"},
      {"host=db password = s3cretH dbname=x", "s3cretH"},
      {"host=db password='s3cret I with spaces' dbname=x", "with spaces"},
      {"host=db password='it\\'s s3cretJ' dbname=x", "s3cretJ"},
      {"host=db PASSWORD=s3cretK", "s3cretK"},
      {"host=db\tpassword=s3cretL\tdbname=x", "s3cretL"},
      // Multi-host (HA) URLs: libpq tries each host for the primary (issue 21).
      {"postgresql://app:s3cretM@db1:5432,db2:5432/autosync?target_session_attrs=read-write",
       "s3cretM"},
      {"postgresql://app:s3cr@tN@[::1]:5432,db2/autosync?target_session_attrs=read-write", "tN"},
      {"postgresql://db1,db2:5433/x?target_session_attrs=read-write&password=s3cretO", "s3cretO"},
      {"host=db1,db2 port=5432,5433 password=s3cretP target_session_attrs=read-write", "s3cretP"},
  };
}

TEST(RedactionTest, RedactDatabaseUrlDropsEveryPasswordShape) {
  for (const Case& c : Cases()) {
    const std::string redacted = RedactDatabaseUrl(c.url);
    EXPECT_THAT(redacted, Not(HasSubstr(c.secret))) << c.url << " -> " << redacted;
    EXPECT_THAT(redacted, HasSubstr("***")) << c.url;
  }
  // Nothing to hide: unchanged.
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app@db:5432/autosync"),
            "postgresql://app@db:5432/autosync");
  EXPECT_EQ(RedactDatabaseUrl("host=db dbname=x"), "host=db dbname=x");
  // A multi-host URL keeps every host (an operator needs to see which ones are configured).
  EXPECT_EQ(RedactDatabaseUrl("postgresql://app:pw@db1:5432,db2:5432/autosync"
                              "?target_session_attrs=read-write"),
            "postgresql://app:***@db1:5432,db2:5432/autosync?target_session_attrs=read-write");
}

TEST(RedactionTest, ValidateDatabaseUrlAcceptsMultiHostUrlsAndChecksEveryPort) {
  EXPECT_TRUE(ValidateDatabaseUrl("postgresql://app:pw@db1:5432,db2:5433/autosync"
                                  "?target_session_attrs=read-write")
                  .ok());
  EXPECT_TRUE(
      ValidateDatabaseUrl("host=db1,db2 port=5432,5433 target_session_attrs=read-write").ok());
  const absl::Status bad_port =
      ValidateDatabaseUrl("postgresql://app:s3cretQ@db1:5432,db2:99999/autosync");
  EXPECT_FALSE(bad_port.ok());
  EXPECT_THAT(std::string(bad_port.message()), HasSubstr("99999"));
  EXPECT_THAT(std::string(bad_port.message()), Not(HasSubstr("s3cretQ")));
  EXPECT_FALSE(ValidateDatabaseUrl("postgresql://db1,db2/x?target_session_attrs=bogus").ok());
}

TEST(RedactionTest, ValidateDatabaseUrlNeverQuotesAPassword) {
  // Malformed strings libpq refuses while quoting the offending text.
  const std::vector<Case> bad = {
      {"host=db password=s3cret wordM", "wordM"},
      {"host=db password='unterminated s3cretN", "s3cretN"},
      {"postgresql://app:s3%zzcretO@db/x", "cretO"},
      {"postgresql://app:s3cretP@db/x?password=s3%zzcretQ", "cretQ"},
      {"postgresql://app:s3cretR@db/x?bogus_option=1", "s3cretR"},
      {"host=db bogus=1 password=s3cretS", "s3cretS"},
      {"s3cretT", "s3cretT"},
  };
  for (const Case& c : bad) {
    const absl::Status s = ValidateDatabaseUrl(c.url);
    EXPECT_FALSE(s.ok()) << c.url;
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(c.secret))) << c.url << " -> " << s;
  }
}

}  // namespace
}  // namespace autosync::common
