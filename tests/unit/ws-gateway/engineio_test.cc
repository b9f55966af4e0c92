#include "ws-gateway/codec/engineio.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::gateway::engineio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EngineIoTest : public ::testing::Test {
 protected:
  static Packet Text(PacketType type, std::string data = "") {
    return Packet{type, std::move(data), false};
  }
};

TEST_F(EngineIoTest, EncodesEveryTextPacketTypeAsDigitThenData) {
  EXPECT_EQ(EncodePacket(Text(PacketType::kOpen, R"({"sid":"x"})")), R"(0{"sid":"x"})");
  EXPECT_EQ(EncodePacket(Text(PacketType::kClose)), "1");
  EXPECT_EQ(EncodePacket(Text(PacketType::kPing)), "2");
  EXPECT_EQ(EncodePacket(Text(PacketType::kPing, "probe")), "2probe");
  EXPECT_EQ(EncodePacket(Text(PacketType::kPong, "probe")), "3probe");
  EXPECT_EQ(EncodePacket(Text(PacketType::kMessage, "hello")), "4hello");
  EXPECT_EQ(EncodePacket(Text(PacketType::kUpgrade)), "5");
  EXPECT_EQ(EncodePacket(Text(PacketType::kNoop)), "6");
}

TEST_F(EngineIoTest, DecodesEveryTextPacketType) {
  const std::vector<std::pair<std::string, Packet>> cases = {
      {"0{\"sid\":\"x\"}", Text(PacketType::kOpen, "{\"sid\":\"x\"}")},
      {"1", Text(PacketType::kClose)},
      {"2", Text(PacketType::kPing)},
      {"2probe", Text(PacketType::kPing, "probe")},
      {"3probe", Text(PacketType::kPong, "probe")},
      {"4hello \xe2\x82\xac", Text(PacketType::kMessage, "hello \xe2\x82\xac")},
      {"5", Text(PacketType::kUpgrade)},
      {"6", Text(PacketType::kNoop)},
  };
  for (const auto& [wire, expected] : cases) {
    absl::StatusOr<Packet> packet = DecodePacket(wire);
    ASSERT_TRUE(packet.ok()) << wire << ": " << packet.status();
    EXPECT_EQ(*packet, expected) << wire;
  }
}

TEST_F(EngineIoTest, BinaryMessageIsRawOverWebSocketAndBase64OverPolling) {
  const Packet binary = BinaryMessage(std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(binary.type, PacketType::kMessage);
  EXPECT_TRUE(binary.binary);
  EXPECT_EQ(EncodePacket(binary), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(EncodePacket(binary, BinaryEncoding::kBase64), "bAQIDBA==");
}

TEST_F(EngineIoTest, DecodesBase64BinaryPacket) {
  absl::StatusOr<Packet> packet = DecodePacket("bAQIDBA==");
  ASSERT_TRUE(packet.ok()) << packet.status();
  EXPECT_EQ(*packet, BinaryMessage(std::string("\x01\x02\x03\x04", 4)));
  absl::StatusOr<Packet> empty = DecodePacket("b");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->binary);
  EXPECT_EQ(empty->data, "");
}

TEST_F(EngineIoTest, EncodeMessageWrapsUpperLayerPacket) {
  EXPECT_EQ(EncodeMessage(R"(2["hey","Jude"])"), R"(42["hey","Jude"])");
  EXPECT_EQ(EncodeMessage(""), "4");
}

TEST_F(EngineIoTest, EncodesPayloadJoinedByRecordSeparator) {
  const std::vector<Packet> packets = {Text(PacketType::kMessage, "hello"),
                                       BinaryMessage(std::string("\x01\x02\x03", 3)),
                                       Text(PacketType::kClose)};
  EXPECT_EQ(EncodePayload(packets),
            "4hello\x1e"
            "bAQID\x1e"
            "1");
  EXPECT_EQ(EncodePayload({Text(PacketType::kNoop)}), "6");
  EXPECT_EQ(EncodePayload({}), "");
}

TEST_F(EngineIoTest, JoinsPreEncodedPackets) {
  EXPECT_EQ(JoinEncodedPackets({R"(42["a"])", "2", R"(42["b"])"}),
            "42[\"a\"]\x1e"
            "2\x1e"
            "42[\"b\"]");
  EXPECT_EQ(JoinEncodedPackets({"3"}), "3");
}

TEST_F(EngineIoTest, DecodesPayloadOfSeveralPackets) {
  absl::StatusOr<std::vector<Packet>> packets = DecodePayload(
      "42[\"hello\"]\x1e"
      "42[\"world\"]\x1e"
      "bAQID\x1e"
      "3");
  ASSERT_TRUE(packets.ok()) << packets.status();
  EXPECT_THAT(*packets,
              ElementsAre(Text(PacketType::kMessage, R"(2["hello"])"),
                          Text(PacketType::kMessage, R"(2["world"])"),
                          BinaryMessage(std::string("\x01\x02\x03", 3)), Text(PacketType::kPong)));
}

TEST_F(EngineIoTest, PayloadRoundTrips) {
  const std::vector<Packet> packets = {Text(PacketType::kPing, "probe"),
                                       Text(PacketType::kMessage, "x\ny"),
                                       BinaryMessage(std::string("\0\xff", 2))};
  absl::StatusOr<std::vector<Packet>> decoded = DecodePayload(EncodePayload(packets));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, packets);
}

TEST_F(EngineIoTest, RefusesEmptyPacket) {
  absl::StatusOr<Packet> packet = DecodePacket("");
  EXPECT_EQ(packet.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(packet.status().message(), HasSubstr("empty Engine.IO packet"));
}

TEST_F(EngineIoTest, RefusesUnknownPacketType) {
  for (const char* wire : {"7", "9x", "abc", "{}", "-1"}) {
    absl::StatusOr<Packet> packet = DecodePacket(wire);
    EXPECT_EQ(packet.status().code(), absl::StatusCode::kInvalidArgument) << wire;
    EXPECT_THAT(packet.status().message(), HasSubstr("unknown Engine.IO packet type")) << wire;
  }
}

TEST_F(EngineIoTest, RefusesBadBase64) {
  for (const char* wire : {"b!!!", "bAQ ID", "bAQIDB", "bAQIDBA=", "bAQ==AQ==", "bA=QI"}) {
    absl::StatusOr<Packet> packet = DecodePacket(wire);
    EXPECT_EQ(packet.status().code(), absl::StatusCode::kInvalidArgument) << wire;
    EXPECT_THAT(packet.status().message(), HasSubstr("not valid base64")) << wire;
  }
}

TEST_F(EngineIoTest, RefusesPacketOverMaxPayload) {
  EXPECT_TRUE(DecodePacket("4hello", 6).ok());
  absl::StatusOr<Packet> packet = DecodePacket("4hello!", 6);
  EXPECT_EQ(packet.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(packet.status().message(), HasSubstr("over maxPayload (6 bytes)"));
}

TEST_F(EngineIoTest, RefusesPayloadOverMaxPayload) {
  const std::string body = "4" + std::string(100, 'x');
  EXPECT_TRUE(DecodePayload(body, 101).ok());
  absl::StatusOr<std::vector<Packet>> packets = DecodePayload(body, 100);
  EXPECT_EQ(packets.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(packets.status().message(), HasSubstr("payload of 101 bytes"));
}

TEST_F(EngineIoTest, RefusesEmptyPayload) {
  absl::StatusOr<std::vector<Packet>> packets = DecodePayload("");
  EXPECT_EQ(packets.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(packets.status().message(), HasSubstr("empty Engine.IO payload"));
}

TEST_F(EngineIoTest, PayloadErrorNamesTheBadPacket) {
  absl::StatusOr<std::vector<Packet>> bad_type = DecodePayload(
      "4a\x1e"
      "4b\x1e"
      "x");
  EXPECT_EQ(bad_type.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_type.status().message(), HasSubstr("packet 3 of payload: unknown"));

  absl::StatusOr<std::vector<Packet>> empty_segment = DecodePayload(
      "4a\x1e\x1e"
      "4b");
  EXPECT_THAT(empty_segment.status().message(), HasSubstr("packet 2 of payload: empty"));

  absl::StatusOr<std::vector<Packet>> trailing_separator = DecodePayload("4a\x1e");
  EXPECT_THAT(trailing_separator.status().message(), HasSubstr("packet 2 of payload: empty"));

  absl::StatusOr<std::vector<Packet>> bad_base64 = DecodePayload(
      "4a\x1e"
      "b***");
  EXPECT_THAT(bad_base64.status().message(), HasSubstr("packet 2 of payload: Engine.IO binary"));
}

TEST_F(EngineIoTest, EncodesOpenHandshake) {
  EXPECT_EQ(EncodeOpen("lv_VI97HAXpY6yYWAAAC", kDefaultPingInterval, kDefaultPingTimeout,
                       kDefaultMaxPayload, {"websocket"}),
            R"(0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],)"
            R"("pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
}

TEST_F(EngineIoTest, EncodesOpenForWebSocketOnlySessionWithoutUpgrades) {
  EXPECT_EQ(EncodeOpen("s\"1", absl::Milliseconds(300), absl::Seconds(0.2), 1000, {}),
            R"(0{"sid":"s\"1","upgrades":[],"pingInterval":300,"pingTimeout":200,)"
            R"("maxPayload":1000})");
}

TEST_F(EngineIoTest, UpgradeProbeAnswersProbeThenCompletesOnUpgrade) {
  UpgradeProbe probe;
  EXPECT_EQ(probe.state(), UpgradeProbe::State::kAwaitingProbe);
  absl::StatusOr<std::string_view> reply = probe.OnPacket(*DecodePacket(kProbePingPacket));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "3probe");
  EXPECT_EQ(probe.state(), UpgradeProbe::State::kAwaitingUpgrade);

  reply = probe.OnPacket(*DecodePacket(kUpgradePacket));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "");
  EXPECT_EQ(probe.state(), UpgradeProbe::State::kUpgraded);
}

TEST_F(EngineIoTest, UpgradeProbeAnswersARepeatedProbe) {
  UpgradeProbe probe;
  ASSERT_TRUE(probe.OnPacket(Text(PacketType::kPing, "probe")).ok());
  absl::StatusOr<std::string_view> reply = probe.OnPacket(Text(PacketType::kPing, "probe"));
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, "3probe");
  EXPECT_EQ(probe.state(), UpgradeProbe::State::kAwaitingUpgrade);
}

TEST_F(EngineIoTest, UpgradeProbeRefusesUpgradeBeforeProbe) {
  UpgradeProbe probe;
  absl::StatusOr<std::string_view> reply = probe.OnPacket(Text(PacketType::kUpgrade));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reply.status().message(), HasSubstr("unexpected Engine.IO upgrade packet"));
  EXPECT_EQ(probe.state(), UpgradeProbe::State::kAwaitingProbe);
}

TEST_F(EngineIoTest, UpgradeProbeRefusesOtherPacketsDuringUpgrade) {
  UpgradeProbe probe;
  EXPECT_FALSE(probe.OnPacket(Text(PacketType::kPing)).ok());  // a ping without "probe"
  ASSERT_TRUE(probe.OnPacket(Text(PacketType::kPing, "probe")).ok());
  absl::StatusOr<std::string_view> reply = probe.OnPacket(Text(PacketType::kMessage, "2[\"x\"]"));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reply.status().message(), HasSubstr("expected the \"5\" upgrade"));
}

TEST_F(EngineIoTest, UpgradeProbeRefusesPacketsAfterUpgrade) {
  UpgradeProbe probe;
  ASSERT_TRUE(probe.OnPacket(Text(PacketType::kPing, "probe")).ok());
  ASSERT_TRUE(probe.OnPacket(Text(PacketType::kUpgrade)).ok());
  EXPECT_EQ(probe.OnPacket(Text(PacketType::kUpgrade)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace autosync::gateway::engineio
