// Engine.IO v4 server sessions carrying Socket.IO v5 for the gateway: the handshake, HTTP
// long-polling (held GETs, POSTed payloads), the websocket transport (direct, or by upgrade from
// polling with the probe sequence), heartbeats (server ping, client pong within pingTimeout),
// the connect timeout, and the Socket.IO side: CONNECT with an `auth` token (44 on refusal),
// selectStore / triggerManualSync with acks, and the hub's events. No Beast here: the WebSocket
// is a WsSink and HTTP answers are HttpResponse values.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/engineio.h"
#include "ws-gateway/http_types.h"
#include "ws-gateway/socketio.h"

namespace autosync::gateway {

using Responder = std::function<void(HttpResponse)>;

// One Engine.IO session. Thread-safe; owned by the EioServer's table and by its transports.
class EioSession final : public HubClient, public std::enable_shared_from_this<EioSession> {
 public:
  EioSession(ClientContext& context, std::string sid, std::string handshake_token,
             std::string remote, std::function<void(const std::string&)> on_closed);
  ~EioSession() override;

  const std::string& sid() const { return sid_; }
  // The OPEN packet; `upgrades` lists "websocket" for polling sessions.
  std::string OpenPacket(bool offer_upgrade) const;
  // Arms the heartbeat and the connect timeout.
  void Start();

  // Long-polling: a GET is answered at once when packets are queued, else held until some are
  // (a ping comes every pingInterval). A POST carries client packets.
  void HandleGet(Responder respond);
  HttpResponse HandlePost(absl::string_view body);

  // The handler of a WebSocket for this session: `upgrade` = probe first, then take over from
  // polling; otherwise the session is websocket-only and the OPEN packet is sent on open.
  std::shared_ptr<WsHandler> MakeWsHandler(bool upgrade);

  void Close(absl::string_view reason);
  void Deliver(const EncodedEvent& event) override;

 private:
  friend class EioWsHandler;
  enum class Transport { kPolling, kUpgrading, kWebSocket };

  // Packets from either transport. Returns false when the session closed because of it.
  bool OnPacket(const engineio::Packet& packet);
  void OnSocketIo(const socketio::Packet& packet);
  void OnEvent(const socketio::Packet& packet);
  void Ack(std::optional<uint64_t> ack_id, absl::string_view json);
  void EmitError(absl::string_view message);
  void Trigger(const std::string& store_id, std::optional<uint64_t> ack_id);

  // Queues one Engine.IO packet text for the client.
  void Send(std::shared_ptr<const std::string> packet);
  void SendText(std::string packet) { Send(std::make_shared<const std::string>(std::move(packet))); }

  void BeginUpgrade();
  void AttachWebSocket(std::weak_ptr<WsSink> sink, bool flush_queue);
  void SchedulePing();
  void SendPing();
  void CheckPong(uint64_t seq);

  ClientContext& context_;
  const std::string sid_;
  const std::string handshake_token_;
  const std::string remote_;
  std::function<void(const std::string&)> on_closed_;
  const uint64_t hub_id_;

  absl::Mutex mu_;
  Transport transport_ ABSL_GUARDED_BY(mu_) = Transport::kPolling;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::shared_ptr<const std::string>> queue_ ABSL_GUARDED_BY(mu_);
  Responder pending_get_ ABSL_GUARDED_BY(mu_);
  std::weak_ptr<WsSink> ws_ ABSL_GUARDED_BY(mu_);
  uint64_t ping_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool awaiting_pong_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool ever_connected_ ABSL_GUARDED_BY(mu_) = false;
  JwtClaims claims_ ABSL_GUARDED_BY(mu_);
  std::string client_key_ ABSL_GUARDED_BY(mu_);
  std::string store_ ABSL_GUARDED_BY(mu_);
  int errors_ ABSL_GUARDED_BY(mu_) = 0;
  socketio::BinaryReassembler reassembler_ ABSL_GUARDED_BY(mu_);
};

// The table of sessions behind `/socket.io/`. Thread-safe.
class EioServer final {
 public:
  explicit EioServer(ClientContext& context, size_t max_sessions = 100000);

  // A non-upgrade HTTP request under /socket.io/: handshake, poll or post. Never blocks;
  // `respond` is called exactly once, maybe later (a held poll).
  void HandleHttp(const HttpRequest& request, Responder respond);

  // A WebSocket upgrade under /socket.io/ (origin and size checks done by the caller): the
  // handler for the new connection, or an Engine.IO error answer.
  absl::StatusOr<std::shared_ptr<WsHandler>> HandleUpgrade(const HttpRequest& request,
                                                           HttpResponse* refusal);

  size_t session_count();
  void CloseAll(absl::string_view reason);

 private:
  std::shared_ptr<EioSession> NewSession(const HttpRequest& request);
  std::shared_ptr<EioSession> Find(const std::string& sid);

  ClientContext& context_;
  const size_t max_sessions_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<EioSession>> sessions_ ABSL_GUARDED_BY(mu_);
};

// Engine.IO's JSON error answer: 400 {"code":N,"message":"…"}.
HttpResponse EngineIoError(int code, absl::string_view message, int status = 400);

}  // namespace autosync::gateway
