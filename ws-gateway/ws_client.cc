#include "ws-gateway/ws_client.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "simdjson.h"
#include "ws-gateway/access.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {

PlainWsClient::PlainWsClient(ClientContext& context, JwtClaims claims, std::string client_key,
                             std::string client_address)
    : context_(context),
      claims_(std::move(claims)),
      client_key_(std::move(client_key)),
      client_address_(std::move(client_address)),
      hub_id_(context.hub.NewClientId()) {}

void PlainWsClient::OnOpen(std::weak_ptr<WsSink> sink) {
  absl::MutexLock lock(&mu_);
  sink_ = std::move(sink);
}

void PlainWsClient::SendEvent(absl::string_view name, absl::string_view data_json) {
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_.lock();
  }
  if (sink) sink->Send(std::make_shared<const std::string>(EncodeWsEvent(Sv(name), Sv(data_json))));
}

void PlainWsClient::ProtocolError(absl::string_view message) {
  context_.metrics.protocol_errors().Increment();
  std::string data = "{\"message\":";
  AppendJsonString(&data, Sv(message));
  data += "}";
  SendEvent("error", data);
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    if (++errors_ <= context_.limits.max_protocol_errors) return;
    sink = sink_.lock();
  }
  if (sink) sink->Close(kClosePolicy, "too many bad frames");
}

void PlainWsClient::OnText(absl::string_view text) {
  absl::StatusOr<WsMessage> message = ParseWsMessage(Sv(text), context_.limits.max_payload);
  if (!message.ok()) return ProtocolError(message.status().message());
  auto self = shared_from_this();
  HandleClientCommand(
      context_, self, Av(message->event), Av(message->data),
      {.refused = [self](std::string error) { self->ProtocolError(error); },
       .selected = [](const std::string&) {},
       .triggered = [self](const absl::Status&,
                           std::string result) { self->SendEvent("triggerResult", result); }});
}

CommandCaller PlainWsClient::Caller() {
  return {.claims = claims_, .client_key = client_key_, .client_address = client_address_};
}

std::string PlainWsClient::SelectedStore() {
  absl::MutexLock lock(&mu_);
  return store_;
}

void PlainWsClient::SelectStore(const std::string& store) {
  {
    absl::MutexLock lock(&mu_);
    store_ = store;
  }
  context_.hub.Select(hub_id_, weak_from_this(), store);
}

void PlainWsClient::OnBinary(absl::string_view) {
  context_.metrics.protocol_errors().Increment();
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_.lock();
  }
  if (sink) sink->Close(kCloseUnsupported, "binary frames are not supported; send JSON text");
}

void PlainWsClient::OnClosed() { context_.hub.Remove(hub_id_); }

void PlainWsClient::Deliver(const EncodedEvent& event) {
  std::shared_ptr<WsSink> sink;
  {
    absl::MutexLock lock(&mu_);
    sink = sink_.lock();
  }
  if (!sink) return;
  context_.metrics.messages_sent(Framing::kPlainWs).Increment();
  sink->Send(event.ws);
}

}  // namespace autosync::gateway
