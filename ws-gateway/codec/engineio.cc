#include "ws-gateway/codec/engineio.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ws-gateway/codec/ws_message.h"

namespace autosync::gateway::engineio {
namespace {

// This Abseil build has its own string_view type (not std::string_view); StrCat and friends
// need it spelled out.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr char kBinaryPrefix = 'b';

char TypeDigit(PacketType type) { return static_cast<char>('0' + static_cast<int>(type)); }

// absl::Base64Unescape skips whitespace and tolerates odd padding; the protocol sends plain
// RFC 4648 base64, so anything else is refused before decoding.
bool IsStrictBase64(std::string_view text) {
  size_t padding = 0;
  for (const char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!alphabet || padding > 0) return false;  // padding only at the end
  }
  return padding <= 2 && (padding == 0 || text.size() % 4 == 0);
}

void AppendPacket(std::string* out, const Packet& packet, BinaryEncoding binary_encoding) {
  if (packet.binary && packet.type == PacketType::kMessage) {
    if (binary_encoding == BinaryEncoding::kRaw) {
      out->append(packet.data);
    } else {
      out->push_back(kBinaryPrefix);
      out->append(absl::Base64Escape(packet.data));
    }
    return;
  }
  out->push_back(TypeDigit(packet.type));
  out->append(packet.data);
}

absl::Status TooLarge(std::string_view what, size_t size, size_t max_payload) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "Engine.IO ", Av(what), " of ", size, " bytes is over maxPayload (", max_payload, " bytes)"));
}

}  // namespace

std::string_view PacketTypeName(PacketType type) {
  switch (type) {
    case PacketType::kOpen:
      return "open";
    case PacketType::kClose:
      return "close";
    case PacketType::kPing:
      return "ping";
    case PacketType::kPong:
      return "pong";
    case PacketType::kMessage:
      return "message";
    case PacketType::kUpgrade:
      return "upgrade";
    case PacketType::kNoop:
      return "noop";
  }
  return "unknown";
}

std::string EncodePacket(const Packet& packet, BinaryEncoding binary_encoding) {
  std::string out;
  out.reserve(packet.data.size() + 1);
  AppendPacket(&out, packet, binary_encoding);
  return out;
}

std::string EncodeMessage(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(TypeDigit(PacketType::kMessage));
  out.append(data);
  return out;
}

absl::StatusOr<Packet> DecodePacket(std::string_view text, size_t max_payload) {
  if (text.size() > max_payload) return TooLarge("packet", text.size(), max_payload);
  if (text.empty()) return absl::InvalidArgumentError("empty Engine.IO packet");
  const char first = text.front();
  if (first == kBinaryPrefix) {
    const std::string_view encoded = text.substr(1);
    Packet packet{PacketType::kMessage, {}, true};
    if (!IsStrictBase64(encoded) || !absl::Base64Unescape(Av(encoded), &packet.data)) {
      return absl::InvalidArgumentError("Engine.IO binary packet is not valid base64");
    }
    return packet;
  }
  if (first < '0' || first > '6') {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown Engine.IO packet type ", JsonQuote(text.substr(0, 1)), " (expected 0-6 or 'b')"));
  }
  return Packet{static_cast<PacketType>(first - '0'), std::string(text.substr(1)), false};
}

Packet BinaryMessage(std::string_view bytes) {
  return Packet{PacketType::kMessage, std::string(bytes), true};
}

std::string EncodePayload(absl::Span<const Packet> packets) {
  size_t size = packets.size();
  for (const Packet& packet : packets) {
    size += packet.binary ? (packet.data.size() + 2) / 3 * 4 + 1 : packet.data.size() + 1;
  }
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < packets.size(); ++i) {
    if (i > 0) out.push_back(kRecordSeparator);
    AppendPacket(&out, packets[i], BinaryEncoding::kBase64);
  }
  return out;
}

std::string JoinEncodedPackets(absl::Span<const std::string_view> encoded_packets) {
  size_t size = encoded_packets.size();
  for (const std::string_view packet : encoded_packets) size += packet.size();
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < encoded_packets.size(); ++i) {
    if (i > 0) out.push_back(kRecordSeparator);
    out.append(encoded_packets[i]);
  }
  return out;
}

absl::StatusOr<std::vector<Packet>> DecodePayload(std::string_view body, size_t max_payload) {
  if (body.size() > max_payload) return TooLarge("payload", body.size(), max_payload);
  if (body.empty()) return absl::InvalidArgumentError("empty Engine.IO payload");
  std::vector<Packet> packets;
  size_t start = 0;
  for (size_t index = 1;; ++index) {
    size_t end = body.find(kRecordSeparator, start);
    if (end == std::string_view::npos) end = body.size();
    absl::StatusOr<Packet> packet = DecodePacket(body.substr(start, end - start), max_payload);
    if (!packet.ok()) {
      return absl::Status(
          packet.status().code(),
          absl::StrCat("packet ", index, " of payload: ", packet.status().message()));
    }
    packets.push_back(*std::move(packet));
    if (end == body.size()) break;
    start = end + 1;
  }
  return packets;
}

std::string EncodeOpen(std::string_view sid, absl::Duration ping_interval,
                       absl::Duration ping_timeout, size_t max_payload,
                       absl::Span<const std::string_view> upgrades) {
  std::string out = "0{\"sid\":";
  AppendJsonString(&out, sid);
  out.append(",\"upgrades\":[");
  for (size_t i = 0; i < upgrades.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(&out, upgrades[i]);
  }
  absl::StrAppend(&out, "],\"pingInterval\":", absl::ToInt64Milliseconds(ping_interval),
                  ",\"pingTimeout\":", absl::ToInt64Milliseconds(ping_timeout),
                  ",\"maxPayload\":", max_payload, "}");
  return out;
}

absl::StatusOr<std::string_view> UpgradeProbe::OnPacket(const Packet& packet) {
  const bool probe_ping =
      packet.type == PacketType::kPing && !packet.binary && packet.data == "probe";
  switch (state_) {
    case State::kAwaitingProbe:
      if (probe_ping) {
        state_ = State::kAwaitingUpgrade;
        return kProbePongPacket;
      }
      break;
    case State::kAwaitingUpgrade:
      // A repeated probe is answered again: harmless, and a slow client may resend it.
      if (probe_ping) return kProbePongPacket;
      if (packet.type == PacketType::kUpgrade && !packet.binary) {
        state_ = State::kUpgraded;
        return std::string_view();
      }
      break;
    case State::kUpgraded:
      return absl::FailedPreconditionError("Engine.IO upgrade already completed");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "unexpected Engine.IO ", Av(packet.binary ? "binary message" : PacketTypeName(packet.type)),
      " packet during upgrade (expected ",
      state_ == State::kAwaitingProbe ? "the \"2probe\" ping" : "the \"5\" upgrade", ")"));
}

}  // namespace autosync::gateway::engineio
