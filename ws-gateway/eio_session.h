// Engine.IO v4 server sessions carrying Socket.IO v5 for the gateway: the handshake, HTTP
// long-polling (held GETs, POSTed payloads), the websocket transport (direct, or by upgrade from
// polling with the probe sequence), heartbeats (server ping, client pong within pingTimeout),
// the connect timeout, and the Socket.IO side: CONNECT with an `auth` token (44 on refusal),
// selectStore / triggerManualSync with acks, and the hub's events. No Beast here: the WebSocket
// is a WsSink and HTTP answers are HttpResponse values.
//
// What rides on the sessions is an EioProfile: the gateway's Socket.IO application, or (with
// --protocol_conformance) the servers the official engine.io-protocol / socket.io-protocol test
// suites expect — a raw Engine.IO echo, and a Socket.IO echo on the namespaces `/` and `/custom`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/codec/engineio.h"
#include "ws-gateway/codec/socketio.h"
#include "ws-gateway/http_types.h"

namespace autosync::gateway {

using Responder = std::function<void(HttpResponse)>;

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

// One Engine.IO session. Thread-safe; owned by the EioServer's table and by its transports.
class EioSession final : public HubClient, public std::enable_shared_from_this<EioSession> {
 public:
  EioSession(ClientContext& context, EioProfile profile, std::string sid,
             std::string handshake_token, std::string remote,
             std::function<void(const std::string&)> on_closed);
  ~EioSession() override;

  const std::string& sid() const { return sid_; }
  // The OPEN packet; `upgrades` lists "websocket" for polling sessions.
  std::string OpenPacket(bool offer_upgrade) const;
  // Arms the heartbeat and the connect timeout.
  void Start();

  // Long-polling: a GET is answered at once when packets are queued, else held until some are
  // (a ping comes every pingInterval); a held GET returns its non-zero id. A POST carries
  // client packets.
  uint64_t HandleGet(Responder respond);
  HttpResponse HandlePost(absl::string_view body);
  // The connection of held GET `poll_id` went away before it was answered: the client is gone
  // (the reference server closes the session too). A no-op once that GET was answered.
  void AbortPoll(uint64_t poll_id);

  // The handler of a WebSocket for this session: `upgrade` = probe first, then take over from
  // polling; otherwise the session is websocket-only and the OPEN packet is sent on open.
  // Null when the session cannot take a websocket (already upgraded or upgrading, or closed).
  std::shared_ptr<WsHandler> MakeWsHandler(bool upgrade);

  void Close(absl::string_view reason);
  void Deliver(const EncodedEvent& event) override;

 private:
  friend class EioWsHandler;
  enum class Transport { kPolling, kUpgrading, kWebSocket };

  // One queued Engine.IO packet: its text encoding, or the raw bytes of a binary message
  // (a binary WebSocket frame, or `b<base64>` in a polling payload).
  struct Outgoing {
    std::shared_ptr<const std::string> bytes;
    bool binary = false;
  };

  // Packets from either transport. Returns false when the session closed because of it.
  bool OnPacket(const engineio::Packet& packet);
  void OnSocketIo(const socketio::Packet& packet);
  void OnEvent(const socketio::Packet& packet);
  // kSocketIoConformance's answers to a decoded Socket.IO packet.
  void OnConformanceSocketIo(const socketio::Packet& packet);
  // Sends a Socket.IO packet and, for the binary types, its attachments after it.
  void SendSocketIo(const socketio::Packet& packet);
  void Ack(std::optional<uint64_t> ack_id, absl::string_view json);
  void EmitError(absl::string_view message);
  void Trigger(const std::string& store_id, std::optional<uint64_t> ack_id);

  // Queues one Engine.IO packet (its text, or a binary message's bytes) for the client.
  void Send(std::shared_ptr<const std::string> packet, bool binary = false);
  void SendText(std::string packet) {
    Send(std::make_shared<const std::string>(std::move(packet)));
  }
  // The queued packets as one polling payload; empties the queue.
  std::string TakePayloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True once the client has let pingInterval + pingTimeout pass without a pong, whether or not
  // the timer thread has noticed yet.
  bool PongOverdueLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes the session when PongOverdueLocked; true if it did (or it was already closed).
  bool CloseIfDead();

  void BeginUpgrade();
  void EndPollIfStillUpgrading(uint64_t poll_id);
  void AttachWebSocket(std::weak_ptr<WsSink> sink, bool flush_queue);
  void SchedulePing();
  void SendPing();

  // What Deliver reads for every event a broadcast hands to this session comes first, so it
  // shares a cache line or two with the object's start (and the control block in front of it):
  // at 10k clients the broadcast loop misses the cache on each session, and every extra line
  // touched per recipient showed in the profile.
  absl::Mutex mu_;
  Transport transport_ ABSL_GUARDED_BY(mu_) = Transport::kPolling;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  std::weak_ptr<WsSink> ws_ ABSL_GUARDED_BY(mu_);

  ClientContext& context_;
  const EioProfile profile_;
  const std::string sid_;
  const std::string handshake_token_;
  const std::string remote_;
  std::function<void(const std::string&)> on_closed_;
  const uint64_t hub_id_;

  // A vector, not a deque: libstdc++'s deque allocates ~600 bytes up front, per session, and
  // a websocket session never queues here.
  std::vector<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  Responder pending_get_ ABSL_GUARDED_BY(mu_);
  uint64_t pending_get_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_get_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool awaiting_pong_ ABSL_GUARDED_BY(mu_) = false;
  // When the next ping is due (set each time one is scheduled): a client that has not ponged by
  // ping_due_ + pingTimeout is gone. Deadlines count from when the ping was due, not from when
  // the timer thread got round to sending it, so a session dies on time even under load.
  absl::Time ping_due_ ABSL_GUARDED_BY(mu_);
  bool ever_connected_ ABSL_GUARDED_BY(mu_) = false;
  JwtClaims claims_ ABSL_GUARDED_BY(mu_);
  std::string client_key_ ABSL_GUARDED_BY(mu_);
  std::string store_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<socketio::BinaryReassembler> reassembler_ ABSL_GUARDED_BY(mu_);  // see OnPacket
  // kSocketIoConformance: the namespaces the client has connected to.
  absl::flat_hash_set<std::string> namespaces_ ABSL_GUARDED_BY(mu_);
};

// The table of sessions behind `/socket.io/`. Thread-safe.
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
  const EioProfile profile_;
  const size_t max_sessions_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<EioSession>> sessions_ ABSL_GUARDED_BY(mu_);
};

// Engine.IO's JSON error answer: 400 {"code":N,"message":"…"}.
HttpResponse EngineIoError(int code, absl::string_view message, int status = 400);

}  // namespace autosync::gateway
