// A blocking WebSocket client for gateway tests (Beast). Every step (connect, handshake, write,
// read) has a time limit, so a gateway that does not answer fails the test instead of hanging it;
// after a step times out the connection is closed and every later call fails.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace autosync::testing {

class WsTestClient final {
 public:
  struct Options {
    std::vector<std::pair<std::string, std::string>> headers = {};
    int receive_buffer_bytes = 0;                // SO_RCVBUF before connecting; 0 = default
    absl::Duration timeout = absl::Seconds(10);  // for the connect and for the handshake
  };
  // Connects to ws://127.0.0.1:<port><target>.
  static absl::StatusOr<std::unique_ptr<WsTestClient>> Connect(int port, const std::string& target,
                                                               const Options& options);
  static absl::StatusOr<std::unique_ptr<WsTestClient>> Connect(int port,
                                                               const std::string& target) {
    return Connect(port, target, Options{});
  }
  ~WsTestClient();

  absl::Status SendText(const std::string& text);
  absl::Status SendBinary(const std::string& bytes);
  // The next message; DEADLINE_EXCEEDED after `timeout`; when the server closed the connection,
  // UNAVAILABLE with "closed <code>: <reason>".
  absl::StatusOr<std::string> Read(absl::Duration timeout = absl::Seconds(10));
  // Reads until a message containing `needle` arrives (others are skipped), or fails.
  absl::StatusOr<std::string> ReadUntil(const std::string& needle,
                                        absl::Duration timeout = absl::Seconds(10));

 private:
  struct Impl;
  absl::Status Send(const std::string& bytes, bool text);
  explicit WsTestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::testing
