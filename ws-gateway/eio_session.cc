#include "ws-gateway/eio_session.h"

#include <array>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/jwt.h"
#include "ws-gateway/route_match.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

constexpr absl::string_view kClientClosed = "client closed";
// How long a poll that arrives during an upgrade is held before it gets a noop.
constexpr absl::Duration kUpgradingPollHold = absl::Milliseconds(100);

// The answer to an accepted polling POST, as the reference server sends it.
HttpResponse PostAccepted() {
  static const HttpResponse* const kOk = [] {
    auto* res = new HttpResponse;
    res->content_type = "text/html";
    res->body = std::string(2, 'o');
    res->body[1] = 'k';
    return res;
  }();
  return *kOk;
}

}  // namespace

std::string NewEioId() {
  thread_local absl::BitGen gen;
  std::array<char, 15> bytes;
  for (char& b : bytes) b = static_cast<char>(absl::Uniform<uint8_t>(gen));
  return Base64UrlEncode(absl::string_view(bytes.data(), bytes.size()));
}

HttpResponse PollingBody(std::string body) {
  HttpResponse res;
  res.content_type = "text/plain; charset=UTF-8";
  res.body = std::move(body);
  return res;
}

HttpResponse EngineIoError(int code, absl::string_view message, int status) {
  HttpResponse res;
  res.status = status;
  res.body = absl::StrCat("{\"code\":", code, ",\"message\":", JsonQuote(Sv(message)), "}");
  return res;
}

// The WebSocket side of a session: the probe sequence on an upgrade, then packets in.
class EioWsHandler final : public WsHandler {
 public:
  EioWsHandler(std::shared_ptr<EioSession> session, bool upgrade)
      : session_(std::move(session)), upgrade_(upgrade) {}

  void OnOpen(std::weak_ptr<WsSink> sink) override {
    sink_ = sink;
    if (!upgrade_) {
      attached_ = true;
      if (auto s = sink.lock()) {
        s->Send(std::make_shared<const std::string>(session_->OpenPacket(false)));
      }
      session_->AttachWebSocket(sink, true);
    }
  }

  void OnText(absl::string_view text) override {
    absl::StatusOr<engineio::Packet> packet =
        engineio::DecodePacket(Sv(text), session_->context_.limits.max_payload);
    if (!packet.ok()) return Fail(packet.status().message());
    Handle(*packet);
  }

  void OnBinary(absl::string_view bytes) override { Handle(engineio::BinaryMessage(Sv(bytes))); }

  void OnClosed() override {
    if (attached_) session_->Close("transport close");
  }

 private:
  void Handle(const engineio::Packet& packet) {
    if (attached_) {
      session_->OnPacket(packet);
      return;
    }
    absl::StatusOr<std::string_view> reply = probe_.OnPacket(packet);
    if (!reply.ok()) return Fail(reply.status().message());
    auto sink = sink_.lock();
    if (!reply->empty() && sink) sink->Send(std::make_shared<const std::string>(*reply));
    if (probe_.state() == engineio::UpgradeProbe::State::kAwaitingUpgrade) {
      session_->BeginUpgrade();
    } else if (probe_.state() == engineio::UpgradeProbe::State::kUpgraded) {
      attached_ = true;
      session_->AttachWebSocket(sink_, true);
    }
  }

  void Fail(absl::string_view message) {
    session_->context_.metrics.protocol_errors().Increment();
    if (auto sink = sink_.lock()) sink->Close(kClosePolicy, std::string(message.substr(0, 120)));
    if (attached_) session_->Close(message);
  }

  std::shared_ptr<EioSession> session_;
  const bool upgrade_;
  bool attached_ = false;
  std::weak_ptr<WsSink> sink_;
  engineio::UpgradeProbe probe_;
};

EioSession::EioSession(ClientContext& context, const EioApplicationFactory& application,
                       std::string sid, std::string handshake_token, std::string remote,
                       std::function<void(const std::string&)> on_closed)
    : context_(context),
      sid_(std::move(sid)),
      handshake_token_(std::move(handshake_token)),
      remote_(std::move(remote)),
      on_closed_(std::move(on_closed)),
      hub_id_(context.hub.NewClientId()),
      application_(application(*this)) {
  context_.metrics.connections(Framing::kSocketIo).Increment();
}

EioSession::~EioSession() { context_.metrics.connections(Framing::kSocketIo).Decrement(); }

std::string EioSession::OpenPacket(bool offer_upgrade) const {
  std::vector<std::string_view> upgrades;
  if (offer_upgrade) upgrades.push_back("websocket");
  return engineio::EncodeOpen(sid_, context_.limits.ping_interval, context_.limits.ping_timeout,
                              context_.limits.max_payload, upgrades);
}

void EioSession::Start() {
  SchedulePing();
  // Raw Engine.IO has no Socket.IO CONNECT to wait for.
  if (!application_->speaks_socketio()) return;
  std::weak_ptr<EioSession> weak = weak_from_this();
  context_.timers.After(context_.limits.connect_timeout, [weak] {
    auto self = weak.lock();
    if (!self) return;
    bool timed_out = false;
    {
      absl::MutexLock lock(&self->mu_);
      timed_out = !self->ever_connected_;
    }
    if (timed_out) self->Close("no Socket.IO CONNECT within the connect timeout");
  });
}

void EioSession::SchedulePing() {
  {
    absl::MutexLock lock(&mu_);
    ping_due_ = context_.timers.Now() + context_.limits.ping_interval;
  }
  std::weak_ptr<EioSession> weak = weak_from_this();
  context_.timers.After(context_.limits.ping_interval, [weak] {
    if (auto self = weak.lock()) self->SendPing();
  });
}

void EioSession::SendPing() {
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    awaiting_pong_ = true;
    // Counted from when the ping was due, so a late timer thread does not extend the deadline.
    wait = std::max(absl::ZeroDuration(),
                    ping_due_ + context_.limits.ping_timeout - context_.timers.Now());
  }
  SendText(std::string(engineio::kPingPacket));
  // A pong meanwhile moves ping_due_ on, so the deadline check finds nothing overdue.
  std::weak_ptr<EioSession> weak = weak_from_this();
  context_.timers.After(wait, [weak] {
    if (auto self = weak.lock()) self->CloseIfDead();
  });
}

bool EioSession::PongOverdueLocked() {
  // Before the ping is sent no pong can be owed yet, but once ping_due_ + pingTimeout has passed
  // the client has had its whole allowance either way.
  return context_.timers.Now() >= ping_due_ + context_.limits.ping_timeout;
}

bool EioSession::CloseIfDead() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !PongOverdueLocked()) return false;
  }
  Close("ping timeout");
  return true;
}

std::string EioSession::TakePayloadLocked() {
  std::vector<std::string> encoded;  // binary messages as `b<base64>`
  encoded.reserve(queue_.size());    // never reallocates: the views below stay valid
  std::vector<std::string_view> views;
  views.reserve(queue_.size());
  for (const Outgoing& p : queue_) {
    if (!p.binary) {
      views.emplace_back(*p.bytes);
      continue;
    }
    encoded.push_back(engineio::EncodePacket({.data = *p.bytes, .binary = true},
                                             engineio::BinaryEncoding::kBase64));
    views.emplace_back(encoded.back());
  }
  std::string body = engineio::JoinEncodedPackets(views);
  queue_.clear();
  return body;
}

void EioSession::Send(std::shared_ptr<const std::string> packet, bool binary) {
  Responder respond;
  std::string body;
  bool overflow = false;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (transport_ == Transport::kWebSocket) {
      if (auto sink = ws_.lock()) sink->Send(std::move(packet), binary);
      return;
    }
    if (queue_.size() >= context_.limits.send_queue_max) {
      overflow = true;
    } else {
      queue_.push_back({.bytes = std::move(packet), .binary = binary});
      if (pending_get_ && transport_ == Transport::kPolling) {
        body = TakePayloadLocked();
        respond = std::move(pending_get_);
        pending_get_ = nullptr;
      }
    }
  }
  if (overflow) {
    context_.metrics.slow_consumer_disconnects().Increment();
    Close("slow consumer: send queue full");
    return;
  }
  if (respond) respond(PollingBody(std::move(body)));
}

uint64_t EioSession::HandleGet(Responder respond) {
  if (CloseIfDead()) {
    respond(EngineIoError(1, "Session ID unknown"));
    return 0;
  }
  std::string body;
  bool answer_now = false;
  bool overlap = false;
  bool upgraded = false;
  bool upgrading = false;
  uint64_t held = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      answer_now = true;
      body = std::string(engineio::kClosePacket);
    } else if (transport_ == Transport::kWebSocket) {
      upgraded = true;  // the session lives on the websocket now, as the reference server says
    } else if (pending_get_) {
      overlap = true;
    } else if (!queue_.empty()) {
      body = TakePayloadLocked();
      answer_now = true;
    } else {
      pending_get_ = std::move(respond);
      held = pending_get_id_ = ++last_get_id_;
      upgrading = transport_ == Transport::kUpgrading;
    }
  }
  if (upgrading) EndPollIfStillUpgrading(held);
  if (upgraded) {
    respond(EngineIoError(3, "Bad request: session was upgraded"));
    return 0;
  }
  if (overlap) {
    respond(EngineIoError(3, "Bad request: overlapping polls"));
    Close("overlapping polls");
    return 0;
  }
  if (answer_now) respond(PollingBody(std::move(body)));
  return held;
}

void EioSession::EndPollIfStillUpgrading(uint64_t poll_id) {
  // During an upgrade a held poll ends with a noop (so the client can pause polling and send
  // `5`) only after kUpgradingPollHold, as the reference server's upgrade check does; if the
  // websocket takes over first, the poll is refused instead. A poll racing the client's `5`
  // is so answered for the transport the session ends up on.
  context_.timers.After(kUpgradingPollHold, [weak = weak_from_this(), poll_id] {
    auto self = weak.lock();
    if (!self) return;
    Responder respond;
    {
      absl::MutexLock lock(&self->mu_);
      if (self->pending_get_id_ != poll_id || !self->pending_get_ ||
          self->transport_ != Transport::kUpgrading) {
        return;
      }
      respond = std::move(self->pending_get_);
      self->pending_get_ = nullptr;
    }
    respond(PollingBody(std::string(engineio::kNoopPacket)));
  });
}

void EioSession::AbortPoll(uint64_t poll_id) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || !pending_get_ || pending_get_id_ != poll_id) return;
    // Nobody is left to read the answer.
    pending_get_ = nullptr;
  }
  Close("poll request aborted");
}

HttpResponse EioSession::HandlePost(absl::string_view body) {
  if (CloseIfDead()) return EngineIoError(1, "Session ID unknown");
  absl::StatusOr<std::vector<engineio::Packet>> packets =
      engineio::DecodePayload(Sv(body), context_.limits.max_payload);
  if (!packets.ok()) {
    context_.metrics.protocol_errors().Increment();
    const bool too_big = packets.status().code() == absl::StatusCode::kResourceExhausted;
    Close(packets.status().message());
    return too_big ? EngineIoError(3, "payload too large", 413)
                   : EngineIoError(3, packets.status().message());
  }
  for (const engineio::Packet& packet : *packets) {
    if (!OnPacket(packet)) break;
  }
  return PostAccepted();
}

std::shared_ptr<WsHandler> EioSession::MakeWsHandler(bool upgrade) {
  if (upgrade) {
    if (CloseIfDead()) return nullptr;
    absl::MutexLock lock(&mu_);
    // One upgrade per session: a second websocket for a session that has (or is getting) one
    // is refused, as the reference server does.
    if (transport_ != Transport::kPolling) return nullptr;
  }
  return std::make_shared<EioWsHandler>(shared_from_this(), upgrade);
}

void EioSession::BeginUpgrade() {
  uint64_t held = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || transport_ != Transport::kPolling) return;
    transport_ = Transport::kUpgrading;
    if (pending_get_) held = pending_get_id_;
  }
  if (held != 0) EndPollIfStillUpgrading(held);
}

void EioSession::AttachWebSocket(std::weak_ptr<WsSink> sink, bool flush_queue) {
  Responder respond;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    transport_ = Transport::kWebSocket;
    ws_ = sink;
    auto s = sink.lock();
    if (flush_queue && s) {
      for (auto& p : queue_) s->Send(std::move(p.bytes), p.binary);
    }
    queue_.clear();
    respond = std::move(pending_get_);
    pending_get_ = nullptr;
  }
  // A poll still held here lost the race with the client's `5` (EndPollIfStillUpgrading).
  if (respond) respond(EngineIoError(3, "Bad request: session was upgraded"));
}

void EioSession::Close(absl::string_view reason) {
  Responder respond;
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    connected_ = false;
    queue_.clear();
    respond = std::move(pending_get_);
    pending_get_ = nullptr;
    sink = ws_.lock();
  }
  common::LogDebug("socket.io session closed", {{"sid", sid_}, {"reason", reason}});
  context_.hub.Remove(hub_id_);
  // A poll held when the client itself closes ends with a noop (it already knows); any other
  // close tells the client with a close packet.
  const bool by_client = reason == kClientClosed;
  if (respond) {
    respond(PollingBody(std::string(by_client ? engineio::kNoopPacket : engineio::kClosePacket)));
  }
  if (sink) sink->Close(kCloseNormal, std::string(reason.substr(0, 120)));
  if (on_closed_) on_closed_(sid_);
}

void EioSession::Deliver(const EncodedEvent& event) {
  // Runs once per recipient of every broadcast event, so it takes the session lock once (not
  // once for `connected_` and again in Send), and on the websocket transport hands the frame to
  // the connection outside the lock. Order holds: AttachWebSocket moved the polling queue to the
  // connection, under this lock, before `transport_` said kWebSocket. A frame that races a
  // Close() on another thread may now reach the connection after its close and be dropped there
  // (rather than go out just before the close frame): either is an outcome of that race.
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    if (!connected_ || closed_) return;
    if (transport_ == Transport::kWebSocket) {
      sink = ws_.lock();
      if (!sink) return;
    }
  }
  context_.metrics.messages_sent(Framing::kSocketIo).Increment();
  if (sink) {
    sink->Send(event.sio, false);
    return;
  }
  Send(event.sio);  // polling: queued for the next GET
}

bool EioSession::OnPacket(const engineio::Packet& packet) {
  using engineio::PacketType;
  switch (packet.type) {
    case PacketType::kPong: {
      bool schedule = false;
      {
        absl::MutexLock lock(&mu_);
        if (awaiting_pong_) {
          awaiting_pong_ = false;
          schedule = true;
        }
      }
      if (schedule) SchedulePing();
      return true;
    }
    case PacketType::kPing:
      SendText(absl::StrCat(Av(engineio::kPongPacket), packet.data));
      return true;
    case PacketType::kClose:
      Close(kClientClosed);
      return false;
    case PacketType::kNoop:
    case PacketType::kUpgrade:
      return true;
    case PacketType::kOpen:
      Close("unexpected open packet from client");
      return false;
    case PacketType::kMessage:
      break;
  }
  if (!application_->speaks_socketio()) {
    application_->OnMessage(packet);
    return true;
  }
  absl::StatusOr<std::optional<socketio::Packet>> decoded;
  {
    absl::MutexLock lock(&mu_);
    // The reassembler exists only while a binary packet waits for its attachments: an idle
    // session does not carry its ~200 bytes.
    if (!reassembler_) reassembler_ = std::make_unique<socketio::BinaryReassembler>();
    decoded =
        packet.binary ? reassembler_->AddBinary(packet.data) : reassembler_->AddText(packet.data);
    if (!reassembler_->awaiting_attachments()) reassembler_.reset();
  }
  if (!decoded.ok()) {
    // A packet that is not Socket.IO at all means the peer is not a Socket.IO client (or is
    // broken): the reference server closes the connection, and so do we, with the reason in the
    // close frame and the log. Well-formed packets we do not serve (unknown events, bad
    // arguments) get an `error` event instead and the connection stays.
    context_.metrics.protocol_errors().Increment();
    {
      absl::MutexLock lock(&mu_);
      reassembler_.reset();
    }
    Close(absl::StrCat("invalid Socket.IO packet: ", decoded.status().message()));
    return false;
  }
  if (decoded->has_value()) application_->OnSocketIo(**decoded);
  return true;
}

void EioSession::SendSocketIo(const socketio::Packet& packet) {
  SendText(engineio::EncodeMessage(socketio::Encode(packet)));
  for (const std::string& attachment : packet.attachments) {
    Send(std::make_shared<const std::string>(attachment), true);
  }
}

bool EioSession::connected() {
  absl::MutexLock lock(&mu_);
  return connected_;
}

void EioSession::SetConnected(bool connected) {
  absl::MutexLock lock(&mu_);
  connected_ = connected;
  if (connected) ever_connected_ = true;
}

}  // namespace autosync::gateway
