// Engine.IO v4 server sessions for the gateway: the handshake, HTTP long-polling (held GETs,
// POSTed payloads), the websocket transport (direct, or by upgrade from polling with the probe
// sequence), heartbeats (server ping, client pong within pingTimeout), the connect timeout, and
// the decoding of Socket.IO packets (binary attachments reassembled). No Beast here: the
// WebSocket is a WsSink and HTTP answers are HttpResponse values.
//
// The table of sessions is the EioServer (eio_server.h). What rides on a session is an
// EioApplication, chosen by the server's EioProfile: the gateway's
// Socket.IO dashboard application (sio_dashboard.h), or (with --protocol_conformance) the servers
// the official engine.io-protocol / socket.io-protocol test suites expect (eio_conformance.h). The
// transport hands the application decoded packets; the application answers through the session.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/codec/engineio.h"
#include "ws-gateway/codec/socketio.h"
#include "ws-gateway/http_types.h"

namespace autosync::gateway {

using Responder = std::function<void(HttpResponse)>;

// What an Engine.IO session carries. Called by the session's transport, one packet at a time per
// transport (a polling POST and the websocket may overlap only during an upgrade), never under
// the session's lock; implementations guard their own state. Lifetime: owned by its session,
// which it may keep a reference to.
class EioApplication {
 public:
  virtual ~EioApplication() = default;
  // True when messages are Socket.IO packets (decoded for OnSocketIo; a client that does not
  // CONNECT within the connect timeout is closed); false when each message goes to OnMessage
  // as it came (no Socket.IO, no connect timeout).
  virtual bool speaks_socketio() const = 0;
  // An Engine.IO message (text, or binary with `binary` set), when !speaks_socketio().
  virtual void OnMessage(const engineio::Packet& /*message*/) {}
  // A whole Socket.IO packet (attachments included), when speaks_socketio().
  virtual void OnSocketIo(const socketio::Packet& /*packet*/) {}
};

class EioSession;
// Makes the application of a new session (which is not started yet).
using EioApplicationFactory = std::function<std::unique_ptr<EioApplication>(EioSession&)>;

// A random id for a session or a Socket.IO socket (20 URL-safe base64 characters).
std::string NewEioId();

// One Engine.IO session. Thread-safe; owned by the EioServer's table and by its transports.
class EioSession final : public HubClient, public std::enable_shared_from_this<EioSession> {
 public:
  EioSession(ClientContext& context, const EioApplicationFactory& application, std::string sid,
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

  // For the application.
  ClientContext& context() const { return context_; }
  // The token given at the handshake (query or header), and the client's address.
  const std::string& handshake_token() const { return handshake_token_; }
  const std::string& remote() const { return remote_; }
  // This session's id at the hub.
  uint64_t hub_id() const { return hub_id_; }
  // Whether the client has a Socket.IO connection: hub events are delivered only while it has,
  // and the connect timeout is met once it had one.
  bool connected();
  void SetConnected(bool connected);
  // Queues one Engine.IO packet (its text, or a binary message's bytes) for the client.
  void Send(std::shared_ptr<const std::string> packet, bool binary = false);
  void SendText(std::string packet) {
    Send(std::make_shared<const std::string>(std::move(packet)));
  }
  // Sends a Socket.IO packet and, for the binary types, its attachments after it.
  void SendSocketIo(const socketio::Packet& packet);

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
  std::unique_ptr<socketio::BinaryReassembler> reassembler_ ABSL_GUARDED_BY(mu_);  // see OnPacket
  // Set in the constructor, then const (made after the fields above, which it may not use).
  std::unique_ptr<EioApplication> application_;
};

// Engine.IO's JSON error answer: 400 {"code":N,"message":"…"}.
HttpResponse EngineIoError(int code, absl::string_view message, int status = 400);
// A polling answer: 200 text/plain carrying `body` (encoded packets).
HttpResponse PollingBody(std::string body);

}  // namespace autosync::gateway
