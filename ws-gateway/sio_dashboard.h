// The gateway's Socket.IO application, the one the dashboard talks to: CONNECT to the main
// namespace with an `auth` token (the handshake's token otherwise; CONNECT_ERROR on refusal),
// the client commands selectStore / triggerManualSync with acks (client_commands.h), and the
// hub's events once a store is selected (delivered by the session, EioSession::Deliver).
//
// Thread-safety: thread-safe (its own lock; never called under the session's). Lifetime: owned
// by its EioSession, which outlives it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ws-gateway/client_commands.h"
#include "ws-gateway/eio_session.h"
#include "ws-gateway/jwt.h"

namespace autosync::gateway {

class SioDashboard final : public EioApplication, public CommandClient {
 public:
  explicit SioDashboard(EioSession& session) : session_(session) {}

  bool speaks_socketio() const override { return true; }
  void OnSocketIo(const socketio::Packet& packet) override;

  CommandCaller Caller() override;
  std::string SelectedStore() override;
  void SelectStore(const std::string& store) override;

 private:
  void OnConnect(const socketio::Packet& packet);
  void OnEvent(const socketio::Packet& packet);
  void Ack(std::optional<uint64_t> ack_id, absl::string_view json);
  void EmitError(absl::string_view message);

  EioSession& session_;
  absl::Mutex mu_;
  JwtClaims claims_ ABSL_GUARDED_BY(mu_);
  std::string client_key_ ABSL_GUARDED_BY(mu_);
  std::string store_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::gateway
