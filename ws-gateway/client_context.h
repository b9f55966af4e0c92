// What every client session needs from the gateway (hub, router, auth, limits, metrics, timers,
// the blocking pool), and the Beast-free view of a WebSocket connection that sessions talk to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ws-gateway/auth.h"
#include "ws-gateway/gateway_metrics.h"
#include "ws-gateway/hub.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/timers.h"

namespace autosync::gateway {

struct SessionLimits {
  absl::Duration ping_interval = absl::Milliseconds(25000);
  absl::Duration ping_timeout = absl::Milliseconds(20000);
  size_t max_payload = 1'000'000;
  absl::Duration connect_timeout = absl::Milliseconds(45000);
  size_t send_queue_max = 512;   // frames queued per client before it counts as too slow
  int max_protocol_errors = 20;  // bad frames tolerated before the connection is closed
};

struct ClientContext {
  Hub& hub;
  Router& router;
  const Authenticator& auth;
  GatewayMetrics& metrics;
  Timers& timers;
  // Runs blocking work (upstream calls) off the io threads.
  std::function<void(std::function<void()>)> run_blocking;
  SessionLimits limits;
};

// A WebSocket connection as sessions see it. Thread-safe; calls only queue work on the
// connection's strand. Send is bounded: past SessionLimits::send_queue_max queued frames the
// connection closes itself with 1008 "slow consumer".
class WsSink {
 public:
  virtual ~WsSink() = default;
  virtual void Send(std::shared_ptr<const std::string> frame, bool binary = false) = 0;
  // Sends a close frame with `code` and `reason` after the frame being written, drops the rest.
  virtual void Close(uint16_t code, std::string reason) = 0;
};

// Receives a WebSocket connection's events, on the connection's strand, one at a time.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void OnOpen(std::weak_ptr<WsSink> sink) = 0;  // after the handshake
  virtual void OnText(absl::string_view text) = 0;
  virtual void OnBinary(absl::string_view bytes) = 0;
  virtual void OnClosed() = 0;  // once, when the connection is gone
};

// A WebSocket accepted only to be closed at once (kClosePolicy) with a reason: a refused `/ws`
// upgrade (browsers cannot read the HTTP status of a failed upgrade, but they do see a close
// code and reason), or a second websocket for an Engine.IO session that has one (the reference
// server completes that handshake and then closes).
class RefusingWsHandler final : public WsHandler {
 public:
  explicit RefusingWsHandler(std::string reason) : reason_(std::move(reason)) {}
  void OnOpen(std::weak_ptr<WsSink> sink) override;
  void OnText(absl::string_view) override {}
  void OnBinary(absl::string_view) override {}
  void OnClosed() override {}

 private:
  const std::string reason_;
};

// WebSocket close codes we use.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseUnsupported = 1003;
inline constexpr uint16_t kClosePolicy = 1008;
inline constexpr uint16_t kCloseTooBig = 1009;

inline void RefusingWsHandler::OnOpen(std::weak_ptr<WsSink> sink) {
  if (auto s = sink.lock()) s->Close(kClosePolicy, reason_);
}

}  // namespace autosync::gateway
