// The applications --protocol_conformance serves, for the official test suites (EioProfile):
//
// - SocketIoEcho, the socket.io-protocol suite's server: CONNECT to `/` or `/custom` answers the
//   CONNECT and then emits `auth` with the CONNECT payload; `message` is emitted back as
//   `message-back` and `message-with-ack` is acked, both with the same arguments (binary
//   attachments included).
// - EngineIoEcho, the engine.io-protocol suite's server: every message (text or binary) is sent
//   back. No Socket.IO, so no connect timeout.
//
// Neither subscribes to the hub. Thread-safety: thread-safe. Lifetime: owned by its EioSession.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "ws-gateway/eio_session.h"

namespace autosync::gateway {

class SocketIoEcho final : public EioApplication {
 public:
  explicit SocketIoEcho(EioSession& session) : session_(session) {}
  bool speaks_socketio() const override { return true; }
  void OnSocketIo(const socketio::Packet& packet) override;

 private:
  EioSession& session_;
  absl::Mutex mu_;
  // The namespaces the client has connected to.
  absl::flat_hash_set<std::string> namespaces_ ABSL_GUARDED_BY(mu_);
};

class EngineIoEcho final : public EioApplication {
 public:
  explicit EngineIoEcho(EioSession& session) : session_(session) {}
  bool speaks_socketio() const override { return false; }
  void OnMessage(const engineio::Packet& message) override;

 private:
  EioSession& session_;
};

}  // namespace autosync::gateway
