// Fuzzes the RFC 6455 client-frame reader (ws-gateway/codec/ws_frame.h), the rawest client input
// the gateway reads. Input: byte 0 picks the message size limit, byte 1 the size of the reads
// the stream arrives in, the rest is the byte stream. Invariants:
// - the messages and the error do not depend on how the stream is split into reads;
// - a message is never a continuation, a text message is valid UTF-8, a control payload is at
//   most 125 bytes, a data message at most the limit, and together they are no larger than the
//   input; nothing is held (buffered) beyond the input, and nothing after an error;
// - once a Feed reports an error, later Feeds read nothing;
// - re-encoding each message as one masked frame (EncodeHeader) and reading that stream gives
//   the same messages and no error;
// - a close payload ParseClose accepts round-trips through ClosePayload.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ws-gateway/codec/ws_frame.h"

namespace {

namespace wsframe = autosync::gateway::wsframe;

struct Message {
  wsframe::Opcode opcode;
  std::string payload;
  bool operator==(const Message& other) const {
    return opcode == other.opcode && payload == other.payload;
  }
};

struct Outcome {
  std::vector<Message> messages;
  std::optional<uint16_t> error_code;
  size_t max_buffered = 0;
  size_t buffered_after_error = 0;
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "ws_frame invariant violated: %s\n", what);
  std::abort();
}

// Reads `stream` in reads of `chunk` bytes (all at once when 0).
Outcome Read(std::string stream, size_t max_message, size_t chunk) {
  Outcome out;
  wsframe::Reader reader(max_message);
  auto on_message = [&out](wsframe::Opcode opcode, absl::string_view payload) {
    out.messages.push_back({opcode, std::string(payload.data(), payload.size())});
    return true;
  };
  const size_t step = chunk == 0 ? stream.size() : chunk;
  for (size_t at = 0; at < stream.size(); at += step) {
    const size_t n = std::min(step, stream.size() - at);
    std::optional<wsframe::FrameError> error = reader.Feed(stream.data() + at, n, on_message);
    out.max_buffered = std::max(out.max_buffered, reader.buffered());
    if (error.has_value()) {
      if (out.error_code.has_value()) Fail("a second error after the first");
      if (error->code != 1002 && error->code != 1007 && error->code != 1009) {
        Fail("an error code other than 1002, 1007, 1009");
      }
      out.error_code = error->code;
      out.buffered_after_error = reader.buffered();
      // Nothing more is read after a violation.
      const size_t before = out.messages.size();
      std::string rest = stream.substr(at + n);
      if (!rest.empty() && reader.Feed(rest.data(), rest.size(), on_message).has_value()) {
        Fail("Feed reported an error after a stop");
      }
      if (out.messages.size() != before) Fail("a message read after an error");
      break;
    }
  }
  return out;
}

// `payload` as one final masked client frame.
void AppendMaskedFrame(std::string* stream, const Message& m, uint8_t key_seed) {
  uint8_t header[wsframe::kMaxHeaderSize];
  const size_t size = wsframe::EncodeHeader(m.opcode, m.payload.size(), header);
  if (size != (m.payload.size() < 126 ? 2u : m.payload.size() <= 0xFFFF ? 4u : 10u)) {
    Fail("EncodeHeader size does not match the payload length");
  }
  if (header[0] != (0x80 | m.opcode)) Fail("EncodeHeader first byte is not FIN + opcode");
  header[1] |= 0x80;  // masked, as clients send
  stream->append(reinterpret_cast<const char*>(header), size);
  const uint8_t key[4] = {key_seed, static_cast<uint8_t>(key_seed * 7 + 1), 0x5A,
                          static_cast<uint8_t>(~key_seed)};
  stream->append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < m.payload.size(); ++i) {
    stream->push_back(static_cast<char>(m.payload[i] ^ static_cast<char>(key[i & 3])));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static constexpr size_t kLimits[] = {0, 1, 16, 125, 126, 300, 4096, 65536, 1 << 20};
  const size_t max_message = kLimits[data[0] % (sizeof(kLimits) / sizeof(kLimits[0]))];
  const size_t chunk = data[1] % 17;  // 0 = one read
  const std::string stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Read(stream, max_message, 0);
  const Outcome split = Read(stream, max_message, chunk == 0 ? 1 : chunk);
  if (!(whole.messages == split.messages)) Fail("messages depend on how the stream is split");
  if (whole.error_code != split.error_code) Fail("the error depends on how the stream is split");

  size_t total = 0;
  for (const Message& m : whole.messages) {
    total += m.payload.size();
    switch (m.opcode) {
      case wsframe::kText: {
        uint16_t ignored = 0;
        // ParseClose's reason check is the reader's UTF-8 check: reuse it on a fake close.
        std::string as_close = "\x03\xe8" + m.payload;
        if (wsframe::ParseClose(as_close, &ignored).has_value()) Fail("text is not UTF-8");
        [[fallthrough]];
      }
      case wsframe::kBinary:
        if (m.payload.size() > max_message) Fail("a message over the limit");
        break;
      case wsframe::kClose:
      case wsframe::kPing:
      case wsframe::kPong:
        if (m.payload.size() > wsframe::kMaxControlPayload) Fail("a control payload over 125");
        break;
      default:
        Fail("a continuation or reserved opcode delivered as a message");
    }
    if (m.opcode == wsframe::kClose) {
      uint16_t code = 0;
      if (!wsframe::ParseClose(m.payload, &code).has_value() && !m.payload.empty()) {
        if (code < 1000 || code > 4999) Fail("ParseClose accepted a code out of range");
        const std::string again = wsframe::ClosePayload(code, m.payload.substr(2));
        if (again != m.payload) Fail("ClosePayload(ParseClose(p)) != p");
      }
    }
  }
  if (total > stream.size()) Fail("more payload delivered than bytes read");
  for (const Outcome* o : {&whole, &split}) {
    if (o->max_buffered > stream.size()) Fail("buffered more than the input");
    if (o->error_code.has_value() && o->buffered_after_error != 0) {
      Fail("bytes still buffered after an error");
    }
  }

  // Re-encoded, the messages read back the same, with no error.
  std::string encoded;
  for (size_t i = 0; i < whole.messages.size(); ++i) {
    AppendMaskedFrame(&encoded, whole.messages[i], static_cast<uint8_t>(i + data[1]));
  }
  const Outcome again = Read(encoded, max_message, chunk);
  if (again.error_code.has_value()) Fail("re-encoded messages were refused");
  if (!(again.messages == whole.messages)) Fail("re-encoded messages read back differently");
  return 0;
}
