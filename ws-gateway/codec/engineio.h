// Engine.IO protocol v4 codec (the transport under Socket.IO 4.x): single packets for WebSocket
// frames, `\x1e`-separated payloads for HTTP long-polling, the OPEN handshake, and the server side
// of the polling -> websocket probe/upgrade sequence. Pure logic: no I/O, no clocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace autosync::gateway::engineio {

inline constexpr int kProtocolVersion = 4;  // the `EIO=4` query parameter

enum class PacketType : uint8_t {
  kOpen = 0,
  kClose = 1,
  kPing = 2,
  kPong = 3,
  kMessage = 4,
  kUpgrade = 5,
  kNoop = 6,
};

// Separates packets in a long-polling payload (ASCII "record separator").
inline constexpr char kRecordSeparator = '\x1e';

// Handshake defaults of the reference server; maxPayload bounds one polling body or one frame.
inline constexpr absl::Duration kDefaultPingInterval = absl::Milliseconds(25000);
inline constexpr absl::Duration kDefaultPingTimeout = absl::Milliseconds(20000);
inline constexpr size_t kDefaultMaxPayload = 1'000'000;

// Fixed packets, ready to send as text.
inline constexpr std::string_view kPingPacket = "2";
inline constexpr std::string_view kPongPacket = "3";
inline constexpr std::string_view kClosePacket = "1";
inline constexpr std::string_view kNoopPacket = "6";
inline constexpr std::string_view kUpgradePacket = "5";
inline constexpr std::string_view kProbePingPacket = "2probe";
inline constexpr std::string_view kProbePongPacket = "3probe";

// One Engine.IO packet. `binary` is only meaningful for kMessage: `data` then holds raw bytes that
// travel as a binary WebSocket frame, or base64 with a `b` prefix inside a polling payload.
struct Packet {
  PacketType type = PacketType::kMessage;
  std::string data;
  bool binary = false;

  friend bool operator==(const Packet&, const Packet&) = default;
};

// "open", "close", "ping", ... for logs and error messages.
std::string_view PacketTypeName(PacketType type);

// How a binary message is written by EncodePacket.
enum class BinaryEncoding {
  kRaw,     // the bytes themselves; the caller sends them as a binary WebSocket frame
  kBase64,  // `b<base64>`, for long-polling bodies (text)
};

// Encodes one packet: `<type digit><data>` for text packets; for a binary message, the raw bytes
// or `b<base64>` per `binary_encoding`.
std::string EncodePacket(const Packet& packet,
                         BinaryEncoding binary_encoding = BinaryEncoding::kRaw);

// `4<data>`: wraps an already encoded upper-layer (Socket.IO) packet into a message packet.
std::string EncodeMessage(std::string_view data);

// Decodes one text packet (a WebSocket text frame, or one segment of a polling payload):
// `<type digit><data>`, or `b<base64>` for a binary message. InvalidArgument for an empty packet,
// an unknown type, or bad base64; ResourceExhausted when `text` is larger than `max_payload`.
absl::StatusOr<Packet> DecodePacket(std::string_view text, size_t max_payload = kDefaultMaxPayload);

// A binary WebSocket frame: always a message whose data is the frame's bytes (protocol v4 has no
// type byte in binary frames).
Packet BinaryMessage(std::string_view bytes);

// Encodes packets as one long-polling payload: each packet encoded as text (binary as
// `b<base64>`), joined with kRecordSeparator.
std::string EncodePayload(absl::Span<const Packet> packets);

// Joins packets that are already encoded as text (for example shared broadcast frames queued for
// a polling client) into one payload, in one allocation.
std::string JoinEncodedPackets(absl::Span<const std::string_view> encoded_packets);

// Decodes a long-polling request body. ResourceExhausted when the body is larger than
// `max_payload`; InvalidArgument when the body is empty or any packet is bad (the message names
// the packet's position). All or nothing: no packet is returned when one is bad.
absl::StatusOr<std::vector<Packet>> DecodePayload(std::string_view body,
                                                  size_t max_payload = kDefaultMaxPayload);

// The OPEN packet that starts a session, type digit included:
// `0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`.
// Intervals are written in whole milliseconds. `upgrades` is empty on a websocket-only session.
std::string EncodeOpen(std::string_view sid, absl::Duration ping_interval,
                       absl::Duration ping_timeout, size_t max_payload,
                       absl::Span<const std::string_view> upgrades);

// The server side of the upgrade from long-polling to websocket, fed with the packets that arrive
// on the new websocket: the client sends `2probe` (answer `3probe`; from then on the session
// should answer pending polls with a noop `6` so the client can pause polling), then `5`
// (the websocket now carries the session; flush the polling buffer to it). Not thread-safe: one
// instance per upgrading websocket, used on that connection's strand.
class UpgradeProbe final {
 public:
  enum class State { kAwaitingProbe, kAwaitingUpgrade, kUpgraded };

  // Returns the packet text to send back on the websocket (empty when nothing is to be sent).
  // FailedPrecondition when the client strays from the sequence: close the websocket, keep the
  // polling session.
  absl::StatusOr<std::string_view> OnPacket(const Packet& packet);

  State state() const { return state_; }

 private:
  State state_ = State::kAwaitingProbe;
};

}  // namespace autosync::gateway::engineio
