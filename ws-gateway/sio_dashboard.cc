#include "ws-gateway/sio_dashboard.h"

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "simdjson.h"
#include "ws-gateway/codec/engineio.h"
#include "ws-gateway/codec/socketio.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

// The `token` member of a CONNECT auth payload, if any.
std::string TokenFromAuth(absl::string_view json) {
  if (json.empty()) return "";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return "";
  std::string_view token;
  if (doc["token"].get_string().get(token) != simdjson::SUCCESS) return "";
  return std::string(token);
}

}  // namespace

void SioDashboard::OnSocketIo(const socketio::Packet& packet) {
  using socketio::PacketType;
  switch (packet.type) {
    case PacketType::kConnect:
      return OnConnect(packet);
    case PacketType::kDisconnect: {
      session_.SetConnected(false);
      {
        absl::MutexLock lock(&mu_);
        store_.clear();
      }
      session_.context().hub.Remove(session_.hub_id());
      return;
    }
    case PacketType::kEvent:
    case PacketType::kBinaryEvent:
      return OnEvent(packet);
    case PacketType::kAck:
    case PacketType::kBinaryAck:
      return;  // we never ask clients for acks
    default:
      EmitError(absl::StrCat("unexpected ", Av(socketio::PacketTypeName(packet.type)), " packet"));
  }
}

void SioDashboard::OnConnect(const socketio::Packet& packet) {
  if (packet.nsp != socketio::kMainNamespace) {
    session_.SendText(
        engineio::EncodeMessage(socketio::EncodeConnectError(packet.nsp, "Invalid namespace")));
    return;
  }
  std::string token = TokenFromAuth(packet.data);
  if (token.empty()) token = session_.handshake_token();
  const Authenticator& auth = session_.context().auth;
  absl::StatusOr<JwtClaims> claims = auth.Authenticate(token, absl::Now());
  if (!claims.ok()) {
    session_.SendText(engineio::EncodeMessage(
        socketio::EncodeConnectError(socketio::kMainNamespace, Sv(claims.status().message()))));
    return;
  }
  const std::string socket_sid = NewEioId();
  {
    absl::MutexLock lock(&mu_);
    client_key_ = auth.dev_mode() || claims->subject.empty()
                      ? absl::StrCat("sio:", session_.sid())
                      : absl::StrCat("sub:", claims->subject);
    claims_ = *std::move(claims);
  }
  // After the claims: an event that sees the connection sees who it is.
  session_.SetConnected(true);
  session_.SendText(
      engineio::EncodeMessage(socketio::EncodeConnect(socketio::kMainNamespace, socket_sid)));
}

void SioDashboard::OnEvent(const socketio::Packet& packet) {
  if (!session_.connected() || packet.nsp != socketio::kMainNamespace) return;
  // The replies may run later on the blocking pool: they keep the session (and so this) alive.
  std::shared_ptr<SioDashboard> self(session_.shared_from_this(), this);
  const std::optional<uint64_t> ack_id = packet.ack_id;
  HandleClientCommand(
      session_.context(), self, Av(packet.event), packet.args.empty() ? "null" : Av(packet.args[0]),
      {.refused =
           [self, ack_id](std::string message) {
             self->session_.context().metrics.protocol_errors().Increment();
             if (ack_id.has_value()) {
               self->Ack(ack_id,
                         absl::StrCat("{\"success\":false,\"error\":", JsonQuote(message), "}"));
             } else {
               self->EmitError(message);
             }
           },
       .selected =
           [self, ack_id](const std::string& store) {
             self->Ack(ack_id,
                       absl::StrCat("{\"success\":true,\"storeId\":", JsonQuote(store), "}"));
           },
       .triggered =
           [self, ack_id](const absl::Status& status, std::string result) {
             if (ack_id.has_value()) {
               self->Ack(ack_id, result);
             } else if (!status.ok()) {
               self->EmitError(status.message());
             }
           }});
}

CommandCaller SioDashboard::Caller() {
  absl::MutexLock lock(&mu_);
  return {.claims = claims_, .client_key = client_key_, .client_address = session_.remote()};
}

std::string SioDashboard::SelectedStore() {
  absl::MutexLock lock(&mu_);
  return store_;
}

void SioDashboard::SelectStore(const std::string& store) {
  {
    absl::MutexLock lock(&mu_);
    store_ = store;
  }
  session_.context().hub.Select(session_.hub_id(), session_.weak_from_this(), store);
}

void SioDashboard::Ack(std::optional<uint64_t> ack_id, absl::string_view json) {
  if (!ack_id.has_value()) return;
  session_.SendText(
      engineio::EncodeMessage(socketio::EncodeAck(socketio::kMainNamespace, *ack_id, Sv(json))));
}

void SioDashboard::EmitError(absl::string_view message) {
  std::string data = "{\"message\":";
  AppendJsonString(&data, Sv(message));
  data += "}";
  session_.SendText(socketio::EncodeEventFrame(socketio::kMainNamespace, "error", data));
}

}  // namespace autosync::gateway
