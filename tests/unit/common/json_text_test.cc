#include "common/json_text.h"

#include <string>

#include "gtest/gtest.h"

namespace autosync::common {
namespace {

TEST(JsonTextTest, EscapesQuotesBackslashesAndNamedControlCharacters) {
  EXPECT_EQ(JsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(JsonEscape("\b\f\n\r\t"), "\\b\\f\\n\\r\\t");
}

TEST(JsonTextTest, OtherControlCharactersBecomeLowerCaseUnicodeEscapes) {
  EXPECT_EQ(JsonEscape(std::string("\x00\x01\x1b\x1f", 4)), "\\u0000\\u0001\\u001b\\u001f");
  EXPECT_EQ(JsonEscape("\x7f"), "\x7f");  // DEL is not a JSON control character
}

TEST(JsonTextTest, SlashAndValidUtf8PassThrough) {
  EXPECT_EQ(JsonEscape("a/b"), "a/b");
  const std::string utf8 = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // café € 😀
  EXPECT_EQ(JsonEscape(utf8), utf8);
}

TEST(JsonTextTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(JsonEscape("a\xFF"
                       "b"),
            "a\\ufffdb");
  EXPECT_EQ(JsonEscape("\xC0\xAF"), "\\ufffd\\ufffd");             // overlong '/'
  EXPECT_EQ(JsonEscape("\xED\xA0\x80"), "\\ufffd\\ufffd\\ufffd");  // a surrogate
  EXPECT_EQ(JsonEscape("x\xE2\x82"), "x\\ufffd\\ufffd");           // truncated at the end
}

TEST(JsonTextTest, QuotedFormsAddQuotesAndAppend) {
  EXPECT_EQ(JsonQuote("say \"hi\""), "\"say \\\"hi\\\"\"");
  std::string out = "[";
  AppendJsonString(out, "a\nb");
  out += ",";
  AppendJsonEscaped(out, "c\"");
  EXPECT_EQ(out, "[\"a\\nb\",c\\\"");
}

}  // namespace
}  // namespace autosync::common
