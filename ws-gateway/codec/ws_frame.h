// RFC 6455 framing for the server side of the gateway's WebSockets, after Beast has done the
// HTTP upgrade: the header of an unmasked server frame (so one broadcast payload is written to
// every client as is, behind a few header bytes) and an incremental reader of client frames
// (masked, maybe fragmented, control frames in between, a message size limit). No sockets here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace autosync::gateway::wsframe {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// A server frame header is at most 10 bytes (2 + 8-byte length; servers never mask).
inline constexpr size_t kMaxHeaderSize = 10;
// A control frame's payload limit; a close frame's reason gets what the code leaves.
inline constexpr size_t kMaxControlPayload = 125;

// Writes the header of a final (FIN) unmasked frame into `out`; returns its size (2, 4 or 10).
size_t EncodeHeader(Opcode opcode, uint64_t payload_size, uint8_t* out);

// A close frame's payload: the code, big-endian, then `reason` cut to fit 125 bytes (at a UTF-8
// character boundary).
std::string ClosePayload(uint16_t code, absl::string_view reason);

// Why a client's frames end the connection: the close code to answer with and a short reason.
struct FrameError {
  uint16_t code;  // 1002 protocol error, 1007 invalid UTF-8, 1009 too big
  absl::string_view reason;
};

// Reads a client's byte stream into messages. Holds memory only while a frame or a fragmented
// message is incomplete, so an idle connection costs nothing here.
class Reader {
 public:
  // Called for each whole text or binary message, and each ping, pong and close frame, in order.
  // `payload` is unmasked and valid until the callback returns. Returning false stops reading:
  // the rest of the input is ignored, now and later.
  using OnMessage = absl::FunctionRef<bool(Opcode opcode, absl::string_view payload)>;

  explicit Reader(size_t max_message) : max_message_(max_message) {}

  // Consumes `size` bytes at `data`, which it may modify (payloads are unmasked in place).
  // Returns the first violation of the protocol (nothing more is read after one).
  std::optional<FrameError> Feed(char* data, size_t size, OnMessage on_message);

  // Bytes held between calls (an incomplete frame and message fragments).
  size_t buffered() const { return partial_.size() + message_.size(); }

 private:
  // Parses whole frames at the front of [data, data+size); returns how many bytes it consumed,
  // or sets `*error` / `stopped_`.
  size_t ParseFrames(char* data, size_t size, OnMessage on_message,
                     std::optional<FrameError>* error);
  std::optional<FrameError> Deliver(Opcode opcode, absl::string_view payload, OnMessage on_message);

  const size_t max_message_;
  std::string partial_;  // an incomplete frame, from its first byte
  std::string message_;  // the fragments so far of an unfinished message
  Opcode message_opcode_ = kText;
  bool in_message_ = false;
  bool stopped_ = false;
};

// The close code of a close frame's payload (1005 "no status" when it is empty), or a
// FrameError when the payload is malformed (1 byte, a code not allowed on the wire, bad UTF-8).
std::optional<FrameError> ParseClose(absl::string_view payload, uint16_t* code);

}  // namespace autosync::gateway::wsframe
