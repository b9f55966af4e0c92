// Secrets in configuration errors: the database URL helpers of common/config.h never repeat a
// password, whatever shape the connection string has (URI or key=value, quoted, spaced,
// percent-encoded, with '@' in the password, or malformed so that libpq refuses it).
#include "absl/strings/match.h"
#include "common/config.h"
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
