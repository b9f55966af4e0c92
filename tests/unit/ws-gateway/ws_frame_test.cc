#include "ws-gateway/codec/ws_frame.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::gateway::wsframe {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// A client frame: masked with `key`, FIN as given, the length in its shortest form unless
// `long_form` forces the 8-byte one.
std::string ClientFrame(uint8_t opcode, const std::string& payload, bool fin = true,
                        uint32_t key = 0x11223344, int rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(n >> (56 - 8 * i)));
  }
  const uint8_t k[4] = {static_cast<uint8_t>(key >> 24), static_cast<uint8_t>(key >> 16),
                        static_cast<uint8_t>(key >> 8), static_cast<uint8_t>(key)};
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(k[i]));
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(payload[i] ^ k[i & 3]));
  return out;
}

struct Collected {
  std::vector<std::pair<int, std::string>> messages;
  std::optional<FrameError> error;
};

// Feeds `bytes` in pieces of `chunk` bytes (0 = all at once).
Collected FeedAll(Reader& reader, std::string bytes, size_t chunk = 0,
                  bool stop_after_first = false) {
  Collected got;
  if (chunk == 0) chunk = bytes.size();
  for (size_t at = 0; at < bytes.size() && !got.error; at += chunk) {
    std::string piece = bytes.substr(at, chunk);
    got.error = reader.Feed(piece.data(), piece.size(), [&](Opcode op, absl::string_view payload) {
      got.messages.emplace_back(op, std::string(payload));
      return !stop_after_first;
    });
  }
  return got;
}

TEST(WsFrameTest, HeaderUsesTheShortestLengthForm) {
  uint8_t h[kMaxHeaderSize];
  ASSERT_EQ(EncodeHeader(kText, 0, h), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 0);
  ASSERT_EQ(EncodeHeader(kText, 125, h), 2u);
  EXPECT_EQ(h[1], 125);
  ASSERT_EQ(EncodeHeader(kBinary, 126, h), 4u);
  EXPECT_EQ(h[0], 0x82);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 126);
  ASSERT_EQ(EncodeHeader(kClose, 65535, h), 4u);
  EXPECT_EQ(h[0], 0x88);
  ASSERT_EQ(EncodeHeader(kText, 65536, h), 10u);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 1);  // 0x00000000'00010000
  EXPECT_EQ(h[8], 0);
  EXPECT_EQ(h[9], 0);
}

TEST(WsFrameTest, ClosePayloadIsCodeThenReasonCutAtACharacter) {
  EXPECT_EQ(ClosePayload(1008, "slow"), std::string("\x03\xf0slow", 6));
  // 122 ASCII bytes then a 2-byte character straddling the 123-byte limit: the character goes.
  const std::string reason = std::string(122, 'a') + "\xc3\xa9" + "tail";
  const std::string payload = ClosePayload(1000, reason);
  EXPECT_EQ(payload.size(), 2u + 122u);
  EXPECT_LE(ClosePayload(1000, std::string(500, 'x')).size(), kMaxControlPayload);
}

TEST(WsFrameTest, ReadsMaskedMessagesWholeOrByteByByte) {
  const std::string stream =
      ClientFrame(kText, "hello") + ClientFrame(kBinary, std::string("\0\x01\xff", 3)) +
      ClientFrame(kText, std::string(300, 'x')) + ClientFrame(kText, std::string(70000, 'y'));
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}}) {
    Reader reader(1'000'000);
    Collected got = FeedAll(reader, stream, chunk);
    ASSERT_FALSE(got.error) << chunk;
    ASSERT_EQ(got.messages.size(), 4u) << chunk;
    EXPECT_EQ(got.messages[0], std::make_pair(int{kText}, std::string("hello")));
    EXPECT_EQ(got.messages[1], std::make_pair(int{kBinary}, std::string("\0\x01\xff", 3)));
    EXPECT_EQ(got.messages[2].second, std::string(300, 'x'));
    EXPECT_EQ(got.messages[3].second, std::string(70000, 'y'));
    EXPECT_EQ(reader.buffered(), 0u) << "nothing held between whole frames";
  }
}

TEST(WsFrameTest, JoinsFragmentsWithControlFramesBetween) {
  const std::string stream = ClientFrame(kText, "he", false) + ClientFrame(kPing, "p1") +
                             ClientFrame(kContinuation, "ll", false) +
                             ClientFrame(kContinuation, "o", true);
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{3}}) {
    Reader reader(100);
    Collected got = FeedAll(reader, stream, chunk);
    ASSERT_FALSE(got.error);
    EXPECT_THAT(got.messages, ElementsAre(Pair(int{kPing}, "p1"), Pair(int{kText}, "hello")));
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(WsFrameTest, HoldsOnlyTheIncompleteFrame) {
  Reader reader(1000);
  const std::string frame = ClientFrame(kText, std::string(200, 'z'));
  std::string first = frame.substr(0, 50);
  EXPECT_FALSE(
      reader.Feed(first.data(), first.size(), [](Opcode, absl::string_view) { return true; }));
  EXPECT_EQ(reader.buffered(), 50u);
  std::string rest = frame.substr(50);
  int seen = 0;
  EXPECT_FALSE(reader.Feed(rest.data(), rest.size(), [&](Opcode, absl::string_view p) {
    EXPECT_EQ(p, std::string(200, 'z'));
    return ++seen > 0;
  }));
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(WsFrameTest, RefusesMessagesOverTheLimitAtTheHeader) {
  Reader reader(100);
  // Only the header of a 1 MB frame: refused before any payload arrives.
  std::string frame = ClientFrame(kBinary, std::string(1'000'000, 'a')).substr(0, 14);
  Collected got = FeedAll(reader, frame);
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->code, 1009);
  EXPECT_EQ(reader.buffered(), 0u);

  // Fragments that add up past the limit.
  Reader fragments(100);
  got = FeedAll(fragments, ClientFrame(kText, std::string(60, 'a'), false) +
                               ClientFrame(kContinuation, std::string(41, 'b'), true));
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->code, 1009);

  // Exactly at the limit is fine.
  Reader exact(100);
  got = FeedAll(exact, ClientFrame(kText, std::string(60, 'a'), false) +
                           ClientFrame(kContinuation, std::string(40, 'b'), true));
  EXPECT_FALSE(got.error);
  ASSERT_EQ(got.messages.size(), 1u);
}

TEST(WsFrameTest, RefusesProtocolViolations) {
  struct Case {
    const char* what;
    std::string bytes;
    uint16_t code;
  };
  std::string unmasked = ClientFrame(kText, "hi");
  unmasked[1] = static_cast<char>(unmasked[1] & 0x7F);
  std::string non_minimal("\x81\xfe\x00\x05\x00\x00\x00\x00hello", 13);
  const std::vector<Case> cases = {
      {"unmasked", unmasked, 1002},
      {"rsv bits", ClientFrame(kText, "hi", true, 1, 4), 1002},
      {"reserved data opcode", ClientFrame(0x3, "hi"), 1002},
      {"reserved control opcode", ClientFrame(0xB, "hi"), 1002},
      {"fragmented ping", ClientFrame(kPing, "hi", false), 1002},
      {"long ping", ClientFrame(kPing, std::string(126, 'p')), 1002},
      {"continuation first", ClientFrame(kContinuation, "hi"), 1002},
      {"text inside text", ClientFrame(kText, "a", false) + ClientFrame(kText, "b"), 1002},
      {"non-minimal length", non_minimal, 1002},
      {"bad utf-8", ClientFrame(kText, "\xc3\x28"), 1007},
      {"bad utf-8 across fragments",
       ClientFrame(kText, "\xe2\x82", false) + ClientFrame(kContinuation, "x"), 1007},
  };
  for (const Case& c : cases) {
    Reader reader(1000);
    Collected got = FeedAll(reader, c.bytes);
    ASSERT_TRUE(got.error) << c.what;
    EXPECT_EQ(got.error->code, c.code) << c.what;
    // Nothing more is read after a violation.
    std::string more = ClientFrame(kText, "after");
    EXPECT_FALSE(reader.Feed(more.data(), more.size(), [&](Opcode, absl::string_view) {
      ADD_FAILURE() << c.what << ": read after an error";
      return true;
    }));
  }
}

TEST(WsFrameTest, StopsWhenTheCallbackSaysSo) {
  Reader reader(1000);
  Collected got = FeedAll(reader, ClientFrame(kClose, "") + ClientFrame(kText, "later"), 0, true);
  EXPECT_FALSE(got.error);
  EXPECT_THAT(got.messages, ElementsAre(Pair(int{kClose}, "")));
}

TEST(WsFrameTest, ParsesClosePayloads) {
  uint16_t code = 0;
  EXPECT_FALSE(ParseClose("", &code));
  EXPECT_EQ(code, 1005);
  EXPECT_FALSE(ParseClose(std::string("\x03\xe8", 2), &code));
  EXPECT_EQ(code, 1000);
  EXPECT_FALSE(ParseClose(std::string("\x0f\xa0ok", 4), &code));  // 4000, application code
  EXPECT_EQ(code, 4000);
  EXPECT_EQ(ParseClose("x", &code)->code, 1002);
  EXPECT_EQ(ParseClose(std::string("\x03\xed", 2), &code)->code, 1002);  // 1005 on the wire
  EXPECT_EQ(ParseClose(std::string("\x03\xe7", 2), &code)->code, 1002);  // 999
  EXPECT_EQ(ParseClose(std::string("\x07\xd0", 2), &code)->code, 1002);  // 2000
  EXPECT_EQ(ParseClose(std::string("\x03\xe8\xff", 3), &code)->code, 1007);
}

}  // namespace
}  // namespace autosync::gateway::wsframe
