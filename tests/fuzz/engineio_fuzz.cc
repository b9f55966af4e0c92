// Fuzzes the Engine.IO v4 codec (ws-gateway/engineio.h): single packets, long-polling payloads
// split on \x1e, the maxPayload limit and the probe/upgrade state machine. Invariants: a decoded
// packet or payload encodes back to text that decodes to the same packets; the size limit is
// exact; the upgrade sequence only ever moves forward.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ws-gateway/codec/engineio.h"

namespace {

namespace eio = autosync::gateway::engineio;

void Fail(const char* what) {
  std::fprintf(stderr, "engineio invariant violated: %s\n", what);
  std::abort();
}

void CheckPacket(const eio::Packet& packet) {
  // Single-frame round trip: text packets as text, binary ones both raw and base64.
  if (packet.binary) {
    if (packet.type != eio::PacketType::kMessage) Fail("binary packet of a non-message type");
    if (eio::BinaryMessage(eio::EncodePacket(packet, eio::BinaryEncoding::kRaw)) != packet) {
      Fail("raw binary round trip");
    }
  }
  const std::string text = eio::EncodePacket(packet, eio::BinaryEncoding::kBase64);
  absl::StatusOr<eio::Packet> again = eio::DecodePacket(text, text.size());
  if (!again.ok()) Fail("encoded packet does not decode");
  if (*again != packet) Fail("packet round trip changed the packet");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t max_payload = in.ConsumeIntegralInRange<size_t>(0, 4096);
  const std::string body = in.ConsumeRemainingBytesAsString();

  // One WebSocket text frame.
  absl::StatusOr<eio::Packet> packet = eio::DecodePacket(body, max_payload);
  if (body.size() > max_payload) {
    if (packet.status().code() != absl::StatusCode::kResourceExhausted) Fail("frame size limit");
  } else if (packet.ok()) {
    CheckPacket(*packet);
  } else if (packet.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("frame error is not INVALID_ARGUMENT");
  }

  // A long-polling body.
  absl::StatusOr<std::vector<eio::Packet>> packets = eio::DecodePayload(body, max_payload);
  if (body.size() > max_payload) {
    if (packets.status().code() != absl::StatusCode::kResourceExhausted) Fail("payload limit");
  } else if (packets.ok()) {
    if (packets->empty()) Fail("OK payload without packets");
    for (const eio::Packet& p : *packets) {
      if (!p.binary && p.data.find(eio::kRecordSeparator) != std::string::npos) {
        Fail("record separator inside a decoded packet");
      }
    }
    const std::string encoded = eio::EncodePayload(*packets);
    absl::StatusOr<std::vector<eio::Packet>> again = eio::DecodePayload(encoded, encoded.size());
    if (!again.ok()) Fail("encoded payload does not decode");
    if (*again != *packets) Fail("payload round trip changed the packets");
    // Text-only payloads re-join to the very same bytes.
    std::vector<std::string> texts;
    bool any_binary = false;
    for (const eio::Packet& p : *packets) {
      any_binary |= p.binary;
      texts.push_back(eio::EncodePacket(p));
    }
    if (!any_binary) {
      std::vector<std::string_view> views(texts.begin(), texts.end());
      if (eio::JoinEncodedPackets(views) != body) Fail("text payload does not re-join to itself");
    }

    // The packets as they would arrive on an upgrading websocket.
    eio::UpgradeProbe probe;
    for (const eio::Packet& p : *packets) {
      const eio::UpgradeProbe::State before = probe.state();
      absl::StatusOr<std::string_view> reply = probe.OnPacket(p);
      if (!reply.ok()) {
        if (reply.status().code() != absl::StatusCode::kFailedPrecondition)
          Fail("probe error code");
        if (probe.state() != before) Fail("probe state moved on an error");
        break;
      }
      if (probe.state() < before) Fail("probe state went backwards");
      if (probe.state() == eio::UpgradeProbe::State::kAwaitingUpgrade &&
          *reply != eio::kProbePongPacket) {
        Fail("probe not answered with 3probe");
      }
    }
  } else if (packets.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("payload error is not INVALID_ARGUMENT");
  }
  return 0;
}
