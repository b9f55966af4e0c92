#include "ws-gateway/codec/ws_message.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class WsMessageTest : public ::testing::Test {
 protected:
  static void ExpectRefused(std::string_view text, absl::StatusCode code, std::string_view what,
                            size_t max_bytes = kMaxWsMessageBytes) {
    absl::StatusOr<WsMessage> message = ParseWsMessage(text, max_bytes);
    EXPECT_EQ(message.status().code(), code) << text;
    EXPECT_THAT(message.status().message(), HasSubstr(what)) << text;
  }
};

// --- JSON helpers --------------------------------------------------------------------------

TEST_F(WsMessageTest, JsonEscapeEscapesQuotesBackslashAndControlCharacters) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("say \"hi\""), R"(say \"hi\")");
  EXPECT_EQ(JsonEscape(R"(C:\dir)"), R"(C:\\dir)");
  EXPECT_EQ(JsonEscape("a\nb\rc\td\be\ff"), R"(a\nb\rc\td\be\ff)");
  EXPECT_EQ(JsonEscape(std::string("\x00\x01\x1f", 3)), R"(\u0000\u0001\u001f)");
  EXPECT_EQ(JsonEscape("/ and \x7f stay"), "/ and \x7f stay");
  EXPECT_EQ(JsonEscape(""), "");
}

TEST_F(WsMessageTest, JsonEscapePassesValidUtf8Through) {
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80 \xe2\x80\xa8";
  EXPECT_EQ(JsonEscape(text), text);
}

TEST_F(WsMessageTest, JsonEscapeReplacesInvalidUtf8) {
  EXPECT_EQ(JsonEscape("a\xff"
                       "b"),
            R"(a\ufffdb)");
  EXPECT_EQ(JsonEscape("\xc3"), R"(\ufffd)");                                // truncated sequence
  EXPECT_EQ(JsonEscape("\xc0\xaf"), R"(\ufffd\ufffd)");                      // overlong '/'
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");            // UTF-16 surrogate
  EXPECT_EQ(JsonEscape("\xf4\x90\x80\x80"), R"(\ufffd\ufffd\ufffd\ufffd)");  // > U+10FFFF
}

TEST_F(WsMessageTest, JsonQuoteAndAppendAddQuotes) {
  EXPECT_EQ(JsonQuote("a\"b"), R"("a\"b")");
  std::string out = "x=";
  AppendJsonString(&out, "\n");
  EXPECT_EQ(out, R"(x="\n")");
}

TEST_F(WsMessageTest, ParseJsonStringUnescapes) {
  absl::StatusOr<std::string> value = ParseJsonString(R"( "buy\u0063osari \"q\" \u20ac" )");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "buycosari \"q\" \xe2\x82\xac");
}

TEST_F(WsMessageTest, ParseJsonStringRoundTripsJsonQuote) {
  const std::string text = std::string("a\"\\\n\x01 \xc3\xa9", 8);
  absl::StatusOr<std::string> value = ParseJsonString(JsonQuote(text));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, text);
}

TEST_F(WsMessageTest, ParseJsonStringRefusesOtherValues) {
  EXPECT_THAT(ParseJsonString("42").status().message(), HasSubstr("got a number"));
  EXPECT_THAT(ParseJsonString("null").status().message(), HasSubstr("got null"));
  EXPECT_THAT(ParseJsonString(R"("open)").status().message(), HasSubstr("expected a JSON string"));
  EXPECT_EQ(ParseJsonString("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WsMessageTest, SlicesArrayElementsAndObjectValues) {
  EXPECT_THAT(json_internal::ArrayElements(R"( [ "a,]" , {"b":[1,2]}, -1.5e3 ,true,null ] )"),
              ElementsAre(R"("a,]")", R"({"b":[1,2]})", "-1.5e3", "true", "null"));
  EXPECT_THAT(json_internal::ArrayElements("[]"), ElementsAre());
  EXPECT_THAT(json_internal::ObjectValues(R"({"k\"}":"v\\",  "n" : [ {} ] ,"z":0})"),
              ElementsAre(R"("v\\")", "[ {} ]", "0"));
}

// --- /ws framing ---------------------------------------------------------------------------

TEST_F(WsMessageTest, EncodesEvent) {
  EXPECT_EQ(EncodeWsEvent("autoSyncProgress", R"({"storeId":"buycosari","progress":40})"),
            R"({"event":"autoSyncProgress","data":{"storeId":"buycosari","progress":40}})");
  EXPECT_EQ(EncodeWsEvent("syncStatus", ""), R"({"event":"syncStatus","data":null})");
  EXPECT_EQ(EncodeWsEvent("we\"ird", "1"), R"({"event":"we\"ird","data":1})");
}

TEST_F(WsMessageTest, ParsesEventAndRawData) {
  absl::StatusOr<WsMessage> message =
      ParseWsMessage(R"({"event":"selectStore","data":"buycosari"})");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->event, "selectStore");
  EXPECT_EQ(message->data, R"("buycosari")");
  EXPECT_EQ(*ParseJsonString(message->data), "buycosari");
}

TEST_F(WsMessageTest, ParsesDataOfAnyShapeAndIgnoresOtherMembers) {
  absl::StatusOr<WsMessage> message = ParseWsMessage(
      R"( { "data" : {"a":[1,{"b":"}"}]} , "id": 7, "event" : "trigg\u0065rManualSync" } )");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->event, "triggerManualSync");
  EXPECT_EQ(message->data, R"({"a":[1,{"b":"}"}]})");
}

TEST_F(WsMessageTest, MissingDataIsNull) {
  absl::StatusOr<WsMessage> message = ParseWsMessage(R"({"event":"ping"})");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->data, "null");
}

TEST_F(WsMessageTest, EncodedEventParsesBack) {
  absl::StatusOr<WsMessage> message = ParseWsMessage(EncodeWsEvent("a\tb", R"([1,"2"])"));
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->event, "a\tb");
  EXPECT_EQ(message->data, R"([1,"2"])");
}

TEST_F(WsMessageTest, RefusesOversizedMessage) {
  const std::string text = R"({"event":"x","data":")" + std::string(100, 'a') + "\"}";
  EXPECT_TRUE(ParseWsMessage(text, text.size()).ok());
  ExpectRefused(text, absl::StatusCode::kResourceExhausted, "over the limit of 100 bytes", 100);
}

TEST_F(WsMessageTest, RefusesEmptyMessage) {
  ExpectRefused("", absl::StatusCode::kInvalidArgument, "ws message is empty");
  ExpectRefused("  \n", absl::StatusCode::kInvalidArgument, "ws message is empty");
}

TEST_F(WsMessageTest, RefusesNonJson) {
  ExpectRefused("selectStore buycosari", absl::StatusCode::kInvalidArgument, "not valid JSON");
  ExpectRefused(R"({"event":"x",})", absl::StatusCode::kInvalidArgument, "not valid JSON");
  ExpectRefused(R"({"event":"x"} trailing)", absl::StatusCode::kInvalidArgument, "not valid JSON");
  ExpectRefused("{\"event\":\"\xff\"}", absl::StatusCode::kInvalidArgument, "not valid JSON");
}

TEST_F(WsMessageTest, RefusesNonObject) {
  ExpectRefused(R"(["selectStore","buycosari"])", absl::StatusCode::kInvalidArgument,
                "must be a JSON object like {\"event\":\"…\",\"data\":…}, got an array");
  ExpectRefused(R"("selectStore")", absl::StatusCode::kInvalidArgument, "got a string");
}

TEST_F(WsMessageTest, RefusesMissingOrBadEvent) {
  ExpectRefused(R"({"data":"buycosari"})", absl::StatusCode::kInvalidArgument,
                "no \"event\" member");
  ExpectRefused(R"({"event":42,"data":1})", absl::StatusCode::kInvalidArgument,
                "\"event\" must be a string, got a number");
  ExpectRefused(R"({"event":null})", absl::StatusCode::kInvalidArgument, "got null");
  ExpectRefused(R"({"event":""})", absl::StatusCode::kInvalidArgument, "\"event\" is empty");
}

TEST_F(WsMessageTest, RefusesDuplicatedMembers) {
  ExpectRefused(R"({"event":"a","event":"b"})", absl::StatusCode::kInvalidArgument,
                "more than one \"event\"");
  ExpectRefused(R"({"event":"a","data":1,"data":2})", absl::StatusCode::kInvalidArgument,
                "more than one \"data\"");
}

}  // namespace
}  // namespace autosync::gateway
