// Fuzzes the Socket.IO v5 codec (ws-gateway/socketio.h) and the binary-attachment reassembler.
// Input: the first line is one packet for Decode(); the rest is a sequence of messages for a
// BinaryReassembler, split on \x1f, each starting with 't' (text) or anything else (binary).
// Invariants: a decoded packet re-encodes (Encode, and EncodeEvent/EncodeAck from its parts) to
// text that decodes to the same packet; limits hold on every OK packet; the reassembler returns
// a packet only with all of its attachments.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_join.h"
#include "ws-gateway/codec/socketio.h"

namespace {

namespace sio = autosync::gateway::socketio;

void Fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "socketio invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool SamePacket(const sio::Packet& a, const sio::Packet& b) {
  return a.type == b.type && a.nsp == b.nsp && a.ack_id == b.ack_id &&
         a.attachment_count == b.attachment_count && a.data == b.data && a.event == b.event &&
         a.args == b.args;
}

bool IsBinary(sio::PacketType t) {
  return t == sio::PacketType::kBinaryEvent || t == sio::PacketType::kBinaryAck;
}

void CheckDecoded(const sio::Packet& p, std::string_view text) {
  if (p.nsp.empty() || p.nsp.front() != '/') Fail("namespace without leading '/'", text);
  if (p.nsp.size() > sio::kMaxNamespaceBytes) Fail("namespace over the limit", text);
  if (p.attachment_count > sio::kMaxAttachments) Fail("attachments over the limit", text);
  if (!IsBinary(p.type) && p.attachment_count != 0) Fail("attachments on a text type", text);
  if (p.ack_id.has_value() && *p.ack_id > sio::kMaxAckId) Fail("ack id over the limit", text);
  const bool event = p.type == sio::PacketType::kEvent || p.type == sio::PacketType::kBinaryEvent;
  const bool ack = p.type == sio::PacketType::kAck || p.type == sio::PacketType::kBinaryAck;
  if (event && (p.event.empty() && p.data.empty())) Fail("event without payload", text);
  if (event && sio::IsReservedEventName(p.event)) Fail("reserved event name accepted", text);
  if (ack && !p.ack_id.has_value()) Fail("ack without id", text);

  const std::string encoded = sio::Encode(p);
  absl::StatusOr<sio::Packet> again = sio::Decode(encoded);
  if (!again.ok()) Fail("Encode(Decode(x)) does not decode", text);
  if (!SamePacket(*again, p)) Fail("Encode/Decode round trip changed the packet", text);

  // The server-side encoders, fed with the decoded parts, describe the same packet.
  if (p.type == sio::PacketType::kEvent) {
    const std::string args = absl::StrJoin(p.args, ",");
    const std::string built = sio::EncodeEvent(p.nsp, p.event, args, p.ack_id);
    absl::StatusOr<sio::Packet> rebuilt = sio::Decode(built);
    if (!rebuilt.ok()) Fail("EncodeEvent of decoded parts does not decode", text);
    if (rebuilt->event != p.event || rebuilt->args != p.args || rebuilt->ack_id != p.ack_id ||
        rebuilt->nsp != p.nsp) {
      Fail("EncodeEvent of decoded parts differs", text);
    }
    const std::string frame = sio::EncodeEventFrame(p.nsp, p.event, args, p.ack_id);
    if (frame != "4" + built) Fail("EncodeEventFrame is not 4 + EncodeEvent", text);
  }
  if (p.type == sio::PacketType::kAck) {
    const std::string built = sio::EncodeAck(p.nsp, *p.ack_id, absl::StrJoin(p.args, ","));
    absl::StatusOr<sio::Packet> rebuilt = sio::Decode(built);
    if (!rebuilt.ok()) Fail("EncodeAck of decoded parts does not decode", text);
    if (rebuilt->args != p.args || rebuilt->ack_id != p.ack_id) Fail("EncodeAck differs", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view first = input.substr(0, newline);

  absl::StatusOr<sio::Packet> packet = sio::Decode(first);
  if (packet.ok()) {
    CheckDecoded(*packet, first);
  } else if (packet.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("Decode error is not INVALID_ARGUMENT", first);
  }

  // The server's own encoders must always produce decodable packets from arbitrary text.
  const std::string text(first);
  if (!sio::Decode(sio::EncodeConnectError("/", text)).ok()) Fail("EncodeConnectError", first);
  if (!sio::Decode(sio::EncodeConnect("/", text)).ok()) Fail("EncodeConnect", first);
  if (!sio::IsReservedEventName(text) && !text.empty()) {
    absl::StatusOr<sio::Packet> event = sio::Decode(sio::EncodeEvent("/", text, "1,null"));
    if (!event.ok() || event->args.size() != 2) Fail("EncodeEvent of any name", first);
  }
  (void)sio::PlaceholderIndex(first);

  if (newline == std::string_view::npos) return 0;
  sio::BinaryReassembler reassembler;
  std::string_view rest = input.substr(newline + 1);
  while (true) {
    const size_t sep = rest.find('\x1f');
    const std::string_view message = rest.substr(0, sep);
    if (!message.empty()) {
      const bool text_message = message.front() == 't';
      const bool was_awaiting = reassembler.awaiting_attachments();
      absl::StatusOr<std::optional<sio::Packet>> out =
          text_message ? reassembler.AddText(message.substr(1)) : reassembler.AddBinary(message);
      if (!out.ok()) {
        if (reassembler.awaiting_attachments())
          Fail("reassembler not reset after an error", message);
        if (text_message && !was_awaiting &&
            out.status().code() != absl::StatusCode::kInvalidArgument) {
          Fail("AddText error code", message);
        }
      } else if (out->has_value()) {
        const sio::Packet& complete = **out;
        if (complete.attachments.size() != complete.attachment_count) {
          Fail("packet returned without all attachments", message);
        }
        if (reassembler.awaiting_attachments())
          Fail("still awaiting after a complete packet", message);
      } else if (!reassembler.awaiting_attachments()) {
        Fail("nothing returned but nothing awaited", message);
      }
    }
    if (sep == std::string_view::npos) break;
    rest = rest.substr(sep + 1);
  }
  return 0;
}
