#include "common/log.h"

#include "gtest/gtest.h"

namespace autosync::common {
namespace {

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonEscaped(out, "a\"b\\c\nd\te\x01 caf\xc3\xa9");
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\te\\u0001 caf\xc3\xa9");
}

TEST(LogOptionsTest, ParsesKnownValuesAndRefusesOthers) {
  LogFormat format = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &format).ok());
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml", &format).ok());
  LogLevel level = LogLevel::kInfo;
  EXPECT_TRUE(ParseLogLevel("warn", &level).ok());
  EXPECT_EQ(level, LogLevel::kWarn);
  const absl::Status bad = ParseLogLevel("loud", &level);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("loud"), absl::string_view::npos);
}

}  // namespace
}  // namespace autosync::common
