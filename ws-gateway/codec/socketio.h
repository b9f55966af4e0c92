// Socket.IO protocol v5 codec (socket.io 4.x, default parser): packets
// `<type>[<#attachments>-][<namespace>,][<ack id>][<JSON payload>]`, carried inside Engine.IO
// message packets, and the reassembly of binary attachments. Pure logic: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace autosync::gateway::socketio {

enum class PacketType : uint8_t {
  kConnect = 0,
  kDisconnect = 1,
  kEvent = 2,
  kAck = 3,
  kConnectError = 4,
  kBinaryEvent = 5,
  kBinaryAck = 6,
};

inline constexpr std::string_view kMainNamespace = "/";

// Limits applied when decoding client packets.
inline constexpr size_t kMaxAttachments = 16;
inline constexpr size_t kMaxNamespaceBytes = 128;
// Ack ids are JavaScript numbers on the client: larger ids could not round-trip.
inline constexpr uint64_t kMaxAckId = (uint64_t{1} << 53) - 1;

// One Socket.IO packet.
struct Packet {
  PacketType type = PacketType::kEvent;
  std::string nsp = std::string(kMainNamespace);
  std::optional<uint64_t> ack_id;
  // Attachments announced by a BINARY_EVENT / BINARY_ACK header (`<n>-`).
  size_t attachment_count = 0;
  // The raw JSON payload text exactly as sent; empty when the packet has none.
  std::string data;

  // Filled by Decode, ignored by Encode:
  // EVENT / BINARY_EVENT: the (unescaped) event name, and the raw JSON text of each argument
  // after it. ACK / BINARY_ACK: `args` holds the raw JSON text of each array element.
  std::string event;
  std::vector<std::string> args;
  // Filled by BinaryReassembler: attachment bytes, indexed by placeholder `num`.
  std::vector<std::string> attachments;
};

std::string_view PacketTypeName(PacketType type);

// Event names the protocol reserves; a client may not emit them.
bool IsReservedEventName(std::string_view name);

// Decodes one Socket.IO packet (the data of an Engine.IO text message). Every error is
// InvalidArgument and says what was wrong: empty packet, unknown type, bad attachment count, bad
// namespace, bad ack id (or one on a type that cannot carry one), missing or invalid JSON payload
// (trailing garbage included), a payload of the wrong shape for the type (CONNECT: object;
// DISCONNECT: none; EVENT: non-empty array whose first element is a string and not a reserved
// name; ACK: array with an ack id; CONNECT_ERROR: object), or a binary placeholder whose `num`
// is not below the announced attachment count.
absl::StatusOr<Packet> Decode(std::string_view text);

// Encodes any packet from type, attachment_count (binary types only), nsp, ack_id and data.
std::string Encode(const Packet& packet);

// The encoders below take trusted input: `nsp` starts with '/', names are escaped here, JSON
// text is copied verbatim and must be valid. Each returns one string in one allocation.
// `json_args` is zero or more JSON values separated by commas, as they appear inside the
// payload array: "" -> `["name"]`, `{"storeId":"x"}` -> `["name",{"storeId":"x"}]`,
// `1,"2"` -> `["name",1,"2"]`.

// `2[<nsp>,][<ack id>]["<name>",<json_args>]`.
std::string EncodeEvent(std::string_view nsp, std::string_view name, std::string_view json_args,
                        std::optional<uint64_t> ack_id = std::nullopt);

// The same event as a complete Engine.IO message frame (`42…`), ready for a WebSocket text frame
// or a polling payload. Encode once per broadcast and share the bytes with every recipient.
std::string EncodeEventFrame(std::string_view nsp, std::string_view name,
                             std::string_view json_args,
                             std::optional<uint64_t> ack_id = std::nullopt);

// `3[<nsp>,]<ack id>[<json_args>]`.
std::string EncodeAck(std::string_view nsp, uint64_t ack_id, std::string_view json_args);

// The server's reply to CONNECT: `0[<nsp>,]{"sid":"<sid>"}`.
std::string EncodeConnect(std::string_view nsp, std::string_view sid);

// `4[<nsp>,]{"message":"<message>"}`.
std::string EncodeConnectError(std::string_view nsp, std::string_view message);

// `1[<nsp>,]`.
std::string EncodeDisconnect(std::string_view nsp);

// If `raw_json` is a binary placeholder `{"_placeholder":true,"num":N}`, returns N.
std::optional<size_t> PlaceholderIndex(std::string_view raw_json);

// Rebuilds BINARY_EVENT / BINARY_ACK packets from the text packet and the binary Engine.IO
// messages that follow it (one per announced attachment). Feed it every Engine.IO message of one
// connection in order. Not thread-safe: one per connection, used on that connection's strand.
// After an error the reassembler is reset; the caller should close the connection.
class BinaryReassembler final {
 public:
  // A text message: decoded; returns the packet when complete, nullopt while its attachments are
  // awaited. FailedPrecondition when attachments of an earlier packet are still missing.
  absl::StatusOr<std::optional<Packet>> AddText(std::string_view text);

  // A binary message: the next attachment; returns the packet once the last one arrived.
  // FailedPrecondition when no packet awaits an attachment.
  absl::StatusOr<std::optional<Packet>> AddBinary(std::string_view bytes);

  // True while a binary packet waits for attachments.
  bool awaiting_attachments() const { return pending_.has_value(); }

  void Reset() { pending_.reset(); }

 private:
  std::optional<Packet> pending_;
};

}  // namespace autosync::gateway::socketio
