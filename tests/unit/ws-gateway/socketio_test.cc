#include "ws-gateway/codec/socketio.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ws-gateway/codec/engineio.h"

namespace autosync::gateway::socketio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SocketIoTest : public ::testing::Test {
 protected:
  // Decodes a packet that must be valid.
  static Packet MustDecode(std::string_view text) {
    absl::StatusOr<Packet> packet = Decode(text);
    EXPECT_TRUE(packet.ok()) << text << ": " << packet.status();
    return packet.ok() ? *std::move(packet) : Packet{};
  }

  // Expects `text` to be refused with InvalidArgument naming `what`.
  static void ExpectRefused(std::string_view text, std::string_view what) {
    absl::StatusOr<Packet> packet = Decode(text);
    EXPECT_EQ(packet.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(packet.status().message(), HasSubstr(what)) << text;
  }
};

// --- encoding ------------------------------------------------------------------------------

TEST_F(SocketIoTest, EncodesEventInMainNamespace) {
  EXPECT_EQ(EncodeEvent("/", "autoSyncProgress", R"({"storeId":"buycosari"})"),
            R"(2["autoSyncProgress",{"storeId":"buycosari"}])");
  EXPECT_EQ(EncodeEvent("/", "foo", ""), R"(2["foo"])");
}

TEST_F(SocketIoTest, EncodesEventFrameWithEngineIoMessagePrefix) {
  EXPECT_EQ(EncodeEventFrame("/", "autoSyncProgress", R"({"storeId":"buycosari"})"),
            R"(42["autoSyncProgress",{"storeId":"buycosari"}])");
  EXPECT_EQ(EncodeEventFrame("/custom", "message-with-ack", R"(1,"2")", 17),
            R"(42/custom,17["message-with-ack",1,"2"])");
}

TEST_F(SocketIoTest, EventFrameEqualsMessageWrappedEvent) {
  EXPECT_EQ(EncodeEventFrame("/admin", "x", "[1]", 3),
            engineio::EncodeMessage(EncodeEvent("/admin", "x", "[1]", 3)));
}

TEST_F(SocketIoTest, EncodesEventWithNamespaceAndAckId) {
  EXPECT_EQ(EncodeEvent("/admin", "bar", ""), R"(2/admin,["bar"])");
  EXPECT_EQ(EncodeEvent("/", "foo", "", 12), R"(212["foo"])");
  EXPECT_EQ(EncodeEvent("/admin", "foo", "", 13), R"(2/admin,13["foo"])");
}

TEST_F(SocketIoTest, EscapesEventName) {
  EXPECT_EQ(EncodeEvent("/", "a\"b\\c\n", "null"), R"(2["a\"b\\c\n",null])");
}

TEST_F(SocketIoTest, EncodesAck) {
  EXPECT_EQ(engineio::EncodeMessage(EncodeAck("/", 1, R"("ack")")), R"(431["ack"])");
  EXPECT_EQ(EncodeAck("/", 12, ""), "312[]");
  EXPECT_EQ(EncodeAck("/admin", 13, R"("bar")"), R"(3/admin,13["bar"])");
}

TEST_F(SocketIoTest, EncodesConnectReply) {
  EXPECT_EQ(engineio::EncodeMessage(EncodeConnect("/", "abc")), R"(40{"sid":"abc"})");
  EXPECT_EQ(EncodeConnect("/admin", "oSO0OpakMV_3jnilAAAA"),
            R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})");
}

TEST_F(SocketIoTest, EncodesConnectError) {
  EXPECT_EQ(engineio::EncodeMessage(EncodeConnectError("/", "Invalid namespace")),
            R"(44{"message":"Invalid namespace"})");
  EXPECT_EQ(EncodeConnectError("/random", "Invalid namespace"),
            R"(4/random,{"message":"Invalid namespace"})");
}

TEST_F(SocketIoTest, EncodesDisconnect) {
  EXPECT_EQ(EncodeDisconnect("/"), "1");
  EXPECT_EQ(EncodeDisconnect("/admin"), "1/admin,");
}

TEST_F(SocketIoTest, EncodesBinaryPacketsWithAttachmentCount) {
  Packet event;
  event.type = PacketType::kBinaryEvent;
  event.nsp = "/admin";
  event.attachment_count = 2;
  event.data = R"(["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])";
  EXPECT_EQ(Encode(event),
            R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");

  Packet ack;
  ack.type = PacketType::kBinaryAck;
  ack.ack_id = 15;
  ack.attachment_count = 1;
  ack.data = R"(["bar",{"_placeholder":true,"num":0}])";
  EXPECT_EQ(Encode(ack), R"(61-15["bar",{"_placeholder":true,"num":0}])");
}

// --- decoding, every type ------------------------------------------------------------------

TEST_F(SocketIoTest, DecodesConnectWithoutAndWithAuth) {
  const Packet plain = MustDecode("0");
  EXPECT_EQ(plain.type, PacketType::kConnect);
  EXPECT_EQ(plain.nsp, "/");
  EXPECT_EQ(plain.data, "");

  const Packet auth = MustDecode(R"(0{"token":"123"})");
  EXPECT_EQ(auth.data, R"({"token":"123"})");

  const Packet custom = MustDecode(R"(0/custom,{"token":"abc"})");
  EXPECT_EQ(custom.nsp, "/custom");
  EXPECT_EQ(custom.data, R"({"token":"abc"})");
}

TEST_F(SocketIoTest, DecodesNamespaceWithoutTrailingComma) {
  EXPECT_EQ(MustDecode("0/random").nsp, "/random");
  EXPECT_EQ(MustDecode("0/admin,").nsp, "/admin");
  const Packet disconnect = MustDecode("1/custom");
  EXPECT_EQ(disconnect.type, PacketType::kDisconnect);
  EXPECT_EQ(disconnect.nsp, "/custom");
}

TEST_F(SocketIoTest, DecodesConnectReplyAndConnectError) {
  const Packet reply = MustDecode(R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})");
  EXPECT_EQ(reply.data, R"({"sid":"wZX3oN0bSVIhsaknAAAI"})");
  const Packet error = MustDecode(R"(4/random,{"message":"Invalid namespace"})");
  EXPECT_EQ(error.type, PacketType::kConnectError);
  EXPECT_EQ(error.nsp, "/random");
  EXPECT_EQ(error.data, R"({"message":"Invalid namespace"})");
}

TEST_F(SocketIoTest, DecodesDisconnect) {
  const Packet packet = MustDecode("1");
  EXPECT_EQ(packet.type, PacketType::kDisconnect);
  EXPECT_EQ(packet.nsp, "/");
}

TEST_F(SocketIoTest, DecodesEventNameAndRawArguments) {
  const Packet packet = MustDecode(R"(2["message",1,"2",{"3":[true]}])");
  EXPECT_EQ(packet.type, PacketType::kEvent);
  EXPECT_EQ(packet.event, "message");
  EXPECT_THAT(packet.args, ElementsAre("1", R"("2")", R"({"3":[true]})"));
  EXPECT_FALSE(packet.ack_id.has_value());
  EXPECT_EQ(packet.data, R"(["message",1,"2",{"3":[true]}])");
}

TEST_F(SocketIoTest, DecodesClientEventsOfTheDashboard) {
  const Packet select = MustDecode(R"(2["selectStore","buycosari"])");
  EXPECT_EQ(select.event, "selectStore");
  EXPECT_THAT(select.args, ElementsAre(R"("buycosari")"));
  const Packet trigger = MustDecode(R"(2[ "triggerManualSync" , "buycosari" ])");
  EXPECT_EQ(trigger.event, "triggerManualSync");
  EXPECT_THAT(trigger.args, ElementsAre(R"("buycosari")"));
}

TEST_F(SocketIoTest, DecodesEscapedEventName) {
  const Packet packet = MustDecode(R"(2["sel\u0065ct \"x\""])");
  EXPECT_EQ(packet.event, "select \"x\"");
  EXPECT_THAT(packet.args, IsEmpty());
}

TEST_F(SocketIoTest, DecodesEventWithNamespaceAndAckId) {
  const Packet packet = MustDecode(R"(2/custom,17["message-with-ack",1,"2"])");
  EXPECT_EQ(packet.nsp, "/custom");
  EXPECT_EQ(packet.ack_id, 17u);
  EXPECT_EQ(packet.event, "message-with-ack");
  EXPECT_THAT(packet.args, ElementsAre("1", R"("2")"));
  EXPECT_EQ(MustDecode(R"(2456["message-with-ack",1,"2",{"3":[false]}])").ack_id, 456u);
}

TEST_F(SocketIoTest, DecodesAck) {
  const Packet packet = MustDecode(R"(3456[1,"2",{"3":[false]}])");
  EXPECT_EQ(packet.type, PacketType::kAck);
  EXPECT_EQ(packet.ack_id, 456u);
  EXPECT_THAT(packet.args, ElementsAre("1", R"("2")", R"({"3":[false]})"));
  EXPECT_THAT(MustDecode("312[]").args, IsEmpty());
  EXPECT_EQ(MustDecode(R"(3/admin,13["bar"])").nsp, "/admin");
}

TEST_F(SocketIoTest, DecodesBinaryEventHeader) {
  const Packet packet = MustDecode(
      R"(52-/admin,789["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(packet.type, PacketType::kBinaryEvent);
  EXPECT_EQ(packet.attachment_count, 2u);
  EXPECT_EQ(packet.nsp, "/admin");
  EXPECT_EQ(packet.ack_id, 789u);
  EXPECT_EQ(packet.event, "message");
  ASSERT_EQ(packet.args.size(), 2u);
  EXPECT_EQ(PlaceholderIndex(packet.args[0]), 0u);
  EXPECT_EQ(PlaceholderIndex(packet.args[1]), 1u);
}

TEST_F(SocketIoTest, DecodesBinaryAckHeader) {
  const Packet packet = MustDecode(R"(61-15["bar",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(packet.type, PacketType::kBinaryAck);
  EXPECT_EQ(packet.attachment_count, 1u);
  EXPECT_EQ(packet.ack_id, 15u);
  EXPECT_THAT(packet.args, ElementsAre(R"("bar")", R"({"_placeholder":true,"num":0})"));
}

TEST_F(SocketIoTest, EveryPacketTypeRoundTrips) {
  for (const char* wire :
       {"0", R"(0/admin,{"token":"123"})", "1", "1/admin,", R"(2["foo"])",
        R"(2/admin,13["foo",{"a":[1,2]}])", "312[]", R"(3/admin,13["bar"])",
        R"(4{"message":"Not authorized"})", R"(51-["baz",{"_placeholder":true,"num":0}])",
        R"(61-15["bar",{"_placeholder":true,"num":0}])"}) {
    EXPECT_EQ(Encode(MustDecode(wire)), wire);
  }
}

TEST_F(SocketIoTest, PlaceholderIndexIgnoresOrdinaryValues) {
  EXPECT_EQ(PlaceholderIndex(R"({"_placeholder":true,"num":3})"), 3u);
  EXPECT_FALSE(PlaceholderIndex(R"({"_placeholder":false,"num":3})").has_value());
  EXPECT_FALSE(PlaceholderIndex(R"({"num":3})").has_value());
  EXPECT_FALSE(PlaceholderIndex(R"("x")").has_value());
  EXPECT_FALSE(PlaceholderIndex("not json").has_value());
}

// --- decoding errors -----------------------------------------------------------------------

TEST_F(SocketIoTest, RefusesEmptyPacket) { ExpectRefused("", "empty Socket.IO packet"); }

TEST_F(SocketIoTest, RefusesUnknownType) {
  ExpectRefused("abc", "unknown Socket.IO packet type \"a\"");
  ExpectRefused("7[\"x\"]", "unknown Socket.IO packet type \"7\"");
}

TEST_F(SocketIoTest, RefusesBadAttachmentCount) {
  ExpectRefused(R"(5["x"])", "attachment count missing");
  ExpectRefused(R"(5-["x"])", "attachment count missing");
  ExpectRefused(R"(5a-["x"])", "attachment count missing");
  ExpectRefused(R"(517-["x"])", "more than the limit of 16");
}

TEST_F(SocketIoTest, RefusesBadNamespace) {
  ExpectRefused(R"(2/admin["x"])", "missing ',' after the namespace");
  ExpectRefused("0/ad min,", "bad namespace");
  ExpectRefused("0/" + std::string(200, 'a') + ",", "namespace longer than 128 bytes");
}

TEST_F(SocketIoTest, RefusesNonArrayEventPayload) {
  ExpectRefused("2{}", "payload must be a JSON array, got an object");
  ExpectRefused(R"(2"foo")", "payload must be a JSON array, got a string");
  ExpectRefused("2", "payload missing");
  ExpectRefused("2[]", "empty array");
}

TEST_F(SocketIoTest, RefusesEventNameThatIsNotAString) {
  ExpectRefused("2[1,2]", "event name must be a string, got a number");
  ExpectRefused(R"(2[{"a":1}])", "event name must be a string, got an object");
  ExpectRefused("2[null]", "event name must be a string, got null");
}

TEST_F(SocketIoTest, RefusesReservedEventNames) {
  for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                           "removeListener"}) {
    ExpectRefused(std::string("2[\"") + name + "\"]", "is reserved");
  }
  EXPECT_TRUE(Decode(R"(2["connected"])").ok());
}

TEST_F(SocketIoTest, RefusesBadAckIds) {
  ExpectRefused(R"(2abc["message-with-ack",1])", "bad ack id \"abc[");
  ExpectRefused(R"(21-["x"])", "bad ack id");
  ExpectRefused(R"(299999999999999999["x"])", "ack id \"99999999999999999\" is too large");
  ExpectRefused(R"(29007199254740992["x"])", "larger than 9007199254740991");
  EXPECT_EQ(MustDecode(R"(29007199254740991["x"])").ack_id, 9007199254740991u);
  ExpectRefused(R"(3["x"])", "ack id missing");
  ExpectRefused(R"(012{"token":1})", "unexpected ack id or data \"12\"");
}

TEST_F(SocketIoTest, RefusesTrailingGarbage) {
  ExpectRefused(R"(2["x"]abc)", "trailing garbage \"abc\" after the JSON payload");
  ExpectRefused(R"(0{"token":"1"}})", "trailing garbage \"}\"");
  ExpectRefused("1xyz", "trailing data \"xyz\"");
  ExpectRefused("1/admin,xyz", "trailing data");
}

TEST_F(SocketIoTest, RefusesInvalidJson) {
  ExpectRefused(R"(2["x",])", "payload is not valid JSON");
  ExpectRefused(R"(2["x", tru])", "payload is not valid JSON");
  ExpectRefused(R"(0{"a")", "payload is not valid JSON");
}

TEST_F(SocketIoTest, RefusesWrongPayloadShapeForConnectAckAndConnectError) {
  ExpectRefused(R"(0["x"])", "payload must be a JSON object, got an array");
  ExpectRefused(R"(312{"a":1})", "payload must be a JSON array, got an object");
  ExpectRefused(R"(4"Not authorized")", "payload must be a JSON object, got a string");
  ExpectRefused("4", "payload missing");
}

TEST_F(SocketIoTest, RefusesPlaceholderBeyondAnnouncedAttachments) {
  ExpectRefused(R"(51-["x",{"_placeholder":true,"num":1}])",
                "placeholder num 1 but only 1 attachment(s) announced");
  ExpectRefused(R"(51-["x",{"nested":[{"_placeholder":true,"num":5}]}])", "placeholder num 5");
  ExpectRefused(R"(51-["x",{"_placeholder":true,"num":"0"}])", "binary placeholder must be");
  ExpectRefused(R"(51-["x",{"_placeholder":true}])", "binary placeholder must be");
}

TEST_F(SocketIoTest, RefusesOverlyDeepPayload) {
  const std::string deep = "2[\"x\"," + std::string(100, '[') + std::string(100, ']') + "]";
  ExpectRefused(deep, "not valid JSON");
}

// --- binary reassembly ---------------------------------------------------------------------

class BinaryReassemblerTest : public ::testing::Test {
 protected:
  BinaryReassembler reassembler_;
};

TEST_F(BinaryReassemblerTest, PassesPlainPacketsThrough) {
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddText(R"(2["hello"])");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((*result)->event, "hello");
  EXPECT_FALSE(reassembler_.awaiting_attachments());
}

TEST_F(BinaryReassemblerTest, CompletesBinaryEventAfterItsAttachments) {
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddText(
      R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->has_value());
  EXPECT_TRUE(reassembler_.awaiting_attachments());

  result = reassembler_.AddBinary(std::string("\x01\x02\x03", 3));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->has_value());

  result = reassembler_.AddBinary(std::string("\x04\x05\x06", 3));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->has_value());
  const Packet& packet = **result;
  EXPECT_EQ(packet.event, "message");
  EXPECT_THAT(packet.attachments,
              ElementsAre(std::string("\x01\x02\x03", 3), std::string("\x04\x05\x06", 3)));
  EXPECT_EQ(packet.attachments[*PlaceholderIndex(packet.args[1])], "\x04\x05\x06");
  EXPECT_FALSE(reassembler_.awaiting_attachments());
}

TEST_F(BinaryReassemblerTest, CompletesBinaryAck) {
  ASSERT_TRUE(reassembler_.AddText(R"(61-15[{"_placeholder":true,"num":0}])").ok());
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddBinary("\xff");
  ASSERT_TRUE(result.ok() && result->has_value());
  EXPECT_EQ((*result)->type, PacketType::kBinaryAck);
  EXPECT_EQ((*result)->ack_id, 15u);
  EXPECT_THAT((*result)->attachments, ElementsAre("\xff"));
}

TEST_F(BinaryReassemblerTest, BinaryEventWithZeroAttachmentsIsCompleteAtOnce) {
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddText(R"(50-["x"])");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->has_value());
}

TEST_F(BinaryReassemblerTest, RefusesAttachmentWithoutBinaryPacket) {
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddBinary("\x01");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("no BINARY_EVENT or BINARY_ACK"));
}

TEST_F(BinaryReassemblerTest, RefusesTextWhileAttachmentsAreMissingAndResets) {
  ASSERT_TRUE(reassembler_.AddText(R"(51-["x",{"_placeholder":true,"num":0}])").ok());
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddText(R"(2["y"])");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("1 binary attachment(s) of a BINARY_EVENT"));
  EXPECT_FALSE(reassembler_.awaiting_attachments());
}

TEST_F(BinaryReassemblerTest, ReportsDecodeErrors) {
  absl::StatusOr<std::optional<Packet>> result = reassembler_.AddText("2{}");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(reassembler_.awaiting_attachments());
}

}  // namespace
}  // namespace autosync::gateway::socketio
