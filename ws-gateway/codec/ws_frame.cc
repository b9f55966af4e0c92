#include "ws-gateway/codec/ws_frame.h"

#include <cstring>

#include "simdjson.h"

namespace autosync::gateway::wsframe {
namespace {

constexpr FrameError kProtocol(absl::string_view reason) { return FrameError{1002, reason}; }

bool IsControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

// Unmasks `size` bytes in place with the 4-byte `key`, eight bytes at a time where it can.
void Unmask(char* data, size_t size, const uint8_t key[4]) {
  uint8_t key8[8];
  for (int i = 0; i < 8; ++i) key8[i] = key[i & 3];
  uint64_t wide_key;
  std::memcpy(&wide_key, key8, 8);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, data + i, 8);
    chunk ^= wide_key;
    std::memcpy(data + i, &chunk, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 3]);
}

bool ValidUtf8(absl::string_view text) { return simdjson::validate_utf8(text.data(), text.size()); }

}  // namespace

size_t EncodeHeader(Opcode opcode, uint64_t payload_size, uint8_t* out) {
  out[0] = static_cast<uint8_t>(0x80 | opcode);
  if (payload_size < 126) {
    out[1] = static_cast<uint8_t>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_size >> 8);
    out[3] = static_cast<uint8_t>(payload_size);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payload_size >> (56 - 8 * i));
  return 10;
}

std::string ClosePayload(uint16_t code, absl::string_view reason) {
  constexpr size_t kMaxReason = kMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    size_t cut = kMaxReason;
    // Never split a UTF-8 sequence: back up over continuation bytes.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.data(), reason.size());
  return payload;
}

std::optional<FrameError> ParseClose(absl::string_view payload, uint16_t* code) {
  if (payload.empty()) {
    *code = 1005;
    return std::nullopt;
  }
  if (payload.size() == 1) return kProtocol("close frame of one byte");
  const uint16_t value = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                               static_cast<uint8_t>(payload[1]));
  // RFC 6455 7.4: 1004-1006 and 1015 are never sent; below 1000 and 1016-2999 are unassigned.
  const bool allowed = (value >= 1000 && value <= 1003) || (value >= 1007 && value <= 1014) ||
                       (value >= 3000 && value <= 4999);
  if (!allowed) return kProtocol("close code not allowed");
  if (!ValidUtf8(payload.substr(2))) return FrameError{1007, "close reason is not UTF-8"};
  *code = value;
  return std::nullopt;
}

std::optional<FrameError> Reader::Feed(char* data, size_t size, OnMessage on_message) {
  if (stopped_ || size == 0) return std::nullopt;
  std::optional<FrameError> error;
  if (partial_.empty()) {
    const size_t used = ParseFrames(data, size, on_message, &error);
    if (!error && !stopped_ && used < size) partial_.assign(data + used, size - used);
  } else {
    // Rare: a frame split across reads. Join it with what follows and parse from the copy.
    partial_.append(data, size);
    const size_t used = ParseFrames(partial_.data(), partial_.size(), on_message, &error);
    partial_.erase(0, used);
  }
  if (error || stopped_ || partial_.empty()) std::string().swap(partial_);
  if (error) stopped_ = true;  // the stream cannot be resynchronised after a bad frame
  if (error || stopped_) std::string().swap(message_);
  return error;
}

size_t Reader::ParseFrames(char* data, size_t size, OnMessage on_message,
                           std::optional<FrameError>* error) {
  size_t at = 0;
  while (!stopped_ && size - at >= 2) {
    const auto* p = reinterpret_cast<const uint8_t*>(data + at);
    const size_t avail = size - at;
    const bool fin = (p[0] & 0x80) != 0;
    const uint8_t opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0) return *error = kProtocol("reserved bits set"), at;
    if ((p[1] & 0x80) == 0) return *error = kProtocol("client frame not masked"), at;
    uint64_t length = p[1] & 0x7F;
    size_t header = 2;
    if (length == 126) {
      if (avail < 4) break;
      length = (uint64_t{p[2]} << 8) | p[3];
      if (length < 126) return *error = kProtocol("length not minimally encoded"), at;
      header = 4;
    } else if (length == 127) {
      if (avail < 10) break;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      if ((length >> 63) != 0) return *error = kProtocol("frame length over 2^63"), at;
      if (length <= 0xFFFF) return *error = kProtocol("length not minimally encoded"), at;
      header = 10;
    }
    if (IsControl(opcode)) {
      if (opcode != kClose && opcode != kPing && opcode != kPong) {
        return *error = kProtocol("reserved opcode"), at;
      }
      if (!fin) return *error = kProtocol("fragmented control frame"), at;
      if (length > kMaxControlPayload) return *error = kProtocol("control frame too long"), at;
    } else if (opcode == kContinuation) {
      if (!in_message_) return *error = kProtocol("continuation without a message"), at;
    } else if (opcode == kText || opcode == kBinary) {
      if (in_message_) return *error = kProtocol("new message inside a fragmented one"), at;
    } else {
      return *error = kProtocol("reserved opcode"), at;
    }
    // Checked before the payload arrives, so an oversized message is never buffered.
    if (!IsControl(opcode) && length > max_message_ - (in_message_ ? message_.size() : 0)) {
      return *error = FrameError{1009, "message too big"}, at;
    }
    header += 4;  // the mask key
    if (avail < header || avail - header < length) break;
    uint8_t key[4];
    std::memcpy(key, p + header - 4, 4);
    char* payload = data + at + header;
    const size_t n = static_cast<size_t>(length);
    Unmask(payload, n, key);
    at += header + n;
    const absl::string_view bytes(payload, n);
    if (IsControl(opcode)) {
      *error = Deliver(static_cast<Opcode>(opcode), bytes, on_message);
    } else if (fin && !in_message_) {
      *error = Deliver(static_cast<Opcode>(opcode), bytes, on_message);
    } else {
      if (!in_message_) {
        in_message_ = true;
        message_opcode_ = static_cast<Opcode>(opcode);
      }
      message_.append(bytes.data(), bytes.size());
      if (fin) {
        in_message_ = false;
        std::string whole;
        whole.swap(message_);  // leaves nothing held once the message is out
        *error = Deliver(message_opcode_, whole, on_message);
      }
    }
    if (*error) return at;
  }
  return at;
}

std::optional<FrameError> Reader::Deliver(Opcode opcode, absl::string_view payload,
                                          OnMessage on_message) {
  if (opcode == kText && !ValidUtf8(payload)) return FrameError{1007, "text is not UTF-8"};
  if (!on_message(opcode, payload)) stopped_ = true;
  return std::nullopt;
}

}  // namespace autosync::gateway::wsframe
