// The Engine.IO servers of the gateway: the table of sessions behind `/socket.io/` (and, with
// --protocol_conformance, `/engine.io/`), which answers handshakes, routes polls and posts to
// their session and hands WebSocket upgrades to it. Which application the sessions carry is the
// server's EioProfile. Thread-safety: EioServer is thread-safe. Lifetime: the ClientContext
// outlives the server; sessions leave the table when they close.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/eio_session.h"
#include "ws-gateway/http_types.h"

namespace autosync::gateway {

enum class EioProfile {
  // Socket.IO on the main namespace: selectStore / triggerManualSync and the hub's events.
  kGateway,
  // The socket.io-protocol test suite's server: CONNECT to `/` or `/custom` answers the CONNECT
  // and then emits `auth` with the CONNECT payload; `message` is emitted back as `message-back`
  // and `message-with-ack` is acked, both with the same arguments (binary attachments included).
  kSocketIoConformance,
  // The engine.io-protocol test suite's server: every message (text or binary) is sent back.
  // No Socket.IO, so no connect timeout.
  kRawEcho,
};

// The application of `profile`'s sessions.
EioApplicationFactory ApplicationFor(EioProfile profile);

// The table of sessions behind `/socket.io/` (or, for the conformance echo, `/engine.io/`).
// Thread-safe.
class EioServer final {
 public:
  explicit EioServer(ClientContext& context, EioProfile profile = EioProfile::kGateway,
                     size_t max_sessions = 100000);

  // A non-upgrade HTTP request under this server's path: handshake, poll or post. Never blocks;
  // `respond` is called exactly once, maybe later: for a held poll the return value is its
  // non-zero id (for AbortPoll), else 0.
  uint64_t HandleHttp(const HttpRequest& request, Responder respond);
  // The connection that sent held poll `poll_id` of session `sid` closed.
  void AbortPoll(const std::string& sid, uint64_t poll_id);

  // A WebSocket upgrade under this server's path (origin and size checks done by the caller):
  // the handler for the new connection, or an Engine.IO error answer. A second websocket for a
  // session that has one is accepted and closed at once with a reason.
  absl::StatusOr<std::shared_ptr<WsHandler>> HandleUpgrade(const HttpRequest& request,
                                                           HttpResponse* refusal);

  size_t session_count();
  void CloseAll(absl::string_view reason);

 private:
  std::shared_ptr<EioSession> NewSession(const HttpRequest& request);
  std::shared_ptr<EioSession> Find(const std::string& sid);

  ClientContext& context_;
  const EioApplicationFactory application_;
  const size_t max_sessions_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<EioSession>> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::gateway
