#include "ws-gateway/eio_conformance.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "ws-gateway/codec/engineio.h"
#include "ws-gateway/codec/socketio.h"

namespace autosync::gateway {
namespace {

// The gap between a CONNECT answer and the `auth` event after it.
constexpr absl::Duration kAuthDelay = absl::Milliseconds(20);

}  // namespace

void SocketIoEcho::OnSocketIo(const socketio::Packet& packet) {
  using socketio::PacketType;
  const bool known_nsp = packet.nsp == socketio::kMainNamespace || packet.nsp == "/custom";
  bool connected = false;
  {
    absl::MutexLock lock(&mu_);
    connected = namespaces_.contains(packet.nsp);
  }
  switch (packet.type) {
    case PacketType::kConnect: {
      if (!known_nsp) {
        session_.SendText(
            engineio::EncodeMessage(socketio::EncodeConnectError(packet.nsp, "Invalid namespace")));
        return;
      }
      {
        absl::MutexLock lock(&mu_);
        namespaces_.insert(packet.nsp);
      }
      session_.SetConnected(true);
      session_.SendText(engineio::EncodeMessage(socketio::EncodeConnect(packet.nsp, NewEioId())));
      // The suite reads each reply with a one-shot listener, and its `ws` client emits every
      // frame of one TCP read synchronously: frames that arrive together lose all but the
      // first. The reference server's write-callback pacing spaces the `auth` event from the
      // CONNECT answer; we space it with a timer, in this application only.
      std::string auth = engineio::EncodeMessage(socketio::EncodeEvent(
          packet.nsp, "auth", packet.data.empty() ? "{}" : std::string_view(packet.data)));
      session_.context().timers.After(
          kAuthDelay, [weak = session_.weak_from_this(), auth = std::move(auth)]() mutable {
            if (auto self = weak.lock()) self->SendText(std::move(auth));
          });
      return;
    }
    case PacketType::kDisconnect: {
      absl::MutexLock lock(&mu_);
      namespaces_.erase(packet.nsp);
      return;
    }
    case PacketType::kEvent:
    case PacketType::kBinaryEvent: {
      if (!connected) return;
      const bool with_ack = packet.event == "message-with-ack";
      if (packet.event != "message" && !with_ack) return;
      if (with_ack && !packet.ack_id.has_value()) return;
      const std::string args = absl::StrJoin(packet.args, ",");
      socketio::Packet reply;
      reply.nsp = packet.nsp;
      reply.attachment_count = packet.attachment_count;
      reply.attachments = packet.attachments;
      const bool binary = packet.type == PacketType::kBinaryEvent;
      if (with_ack) {
        reply.type = binary ? PacketType::kBinaryAck : PacketType::kAck;
        reply.ack_id = packet.ack_id;
        reply.data = absl::StrCat("[", args, "]");
      } else {
        reply.type = binary ? PacketType::kBinaryEvent : PacketType::kEvent;
        reply.data = absl::StrCat("[\"message-back\"", args.empty() ? "" : ",", args, "]");
      }
      session_.SendSocketIo(reply);
      return;
    }
    default:
      return;  // acks and errors from the client ask nothing of the server
  }
}

void EngineIoEcho::OnMessage(const engineio::Packet& message) {
  if (message.binary) {
    session_.Send(std::make_shared<const std::string>(message.data), true);
  } else {
    session_.SendText(engineio::EncodeMessage(message.data));
  }
}

}  // namespace autosync::gateway
