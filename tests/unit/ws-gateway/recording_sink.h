// A WsSink for the gateway's unit tests: records every frame sent (and whether it was binary) and
// the close. Not thread-safe: the tests drive sessions from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ws-gateway/client_context.h"

namespace autosync::gateway {

class RecordingSink final : public WsSink {
 public:
  void Send(std::shared_ptr<const std::string> frame, bool binary) override {
    sent.push_back(*frame);
    binary_flags.push_back(binary);
  }
  void Close(uint16_t code, std::string reason) override { closed = {code, reason}; }
  std::vector<std::string> sent;
  std::vector<bool> binary_flags;
  std::optional<std::pair<uint16_t, std::string>> closed;
};

}  // namespace autosync::gateway
