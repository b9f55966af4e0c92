#include "ws-gateway/ws_client.h"

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "simdjson.h"
#include "ws-gateway/access.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {

absl::StatusOr<std::string> ParseStoreArgument(absl::string_view json) {
  if (json.size() > 4096) return absl::InvalidArgumentError("store argument too large");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("store argument is not valid JSON");
  }
  std::string_view id;
  if (doc.is_string()) {
    id = doc.get_string().value_unsafe();
  } else if (doc.is_object()) {
    if (doc["storeId"].get_string().get(id) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("expected {\"storeId\": \"<id>\"}");
    }
  } else {
    return absl::InvalidArgumentError("expected a store id string or {\"storeId\": \"<id>\"}");
  }
  if (absl::Status s = common::ValidateStoreId(absl::string_view(id.data(), id.size())); !s.ok()) {
    return s;
  }
  return std::string(id);
}

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
  if (message->event == "selectStore") {
    absl::StatusOr<std::string> store = ParseStoreArgument(message->data);
    if (!store.ok()) return ProtocolError(absl::StrCat("selectStore: ", store.status().message()));
    if (absl::Status s = Authorize(claims_, SocketEvent::kSelectStore, *store); !s.ok()) {
      return ProtocolError(absl::StrCat("selectStore: ", s.message()));
    }
    {
      absl::MutexLock lock(&mu_);
      store_ = *store;
    }
    context_.hub.Select(hub_id_, weak_from_this(), *store);
    return;
  }
  if (message->event == "triggerManualSync") {
    std::string store_id;
    if (message->data == "null") {
      absl::MutexLock lock(&mu_);
      store_id = store_;  // the selected store
    } else {
      absl::StatusOr<std::string> store = ParseStoreArgument(message->data);
      if (!store.ok()) {
        return ProtocolError(absl::StrCat("triggerManualSync: ", store.status().message()));
      }
      store_id = *store;
    }
    if (store_id.empty()) return ProtocolError("triggerManualSync: no store given or selected");
    return Trigger(store_id);
  }
  ProtocolError(absl::StrCat("unknown event ", JsonQuote(message->event),
                             " (expected selectStore or triggerManualSync)"));
}

void PlainWsClient::Trigger(const std::string& store_id) {
  context_.run_blocking([self = shared_from_this(), store_id] {
    const ScopedCaller caller({.actor = ActorOf(self->claims_, self->context_.auth.dev_mode()),
                               .client_address = self->client_address_});
    // A refusal answers in the trigger's own shape (triggerResult, code 403).
    absl::StatusOr<autosync::v1::TriggerSyncResponse> result;
    if (absl::Status s = Authorize(self->claims_, SocketEvent::kTriggerManualSync, store_id);
        s.ok()) {
      result =
          self->context_.router.Trigger(store_id, self->client_key_, autosync::v1::TRIGGER_MANUAL);
    } else {
      result = s;
    }
    std::string data = "{\"success\":";
    if (result.ok()) {
      absl::StrAppend(
          &data, result->started() ? "true" : "false", ",\"storeId\":", JsonQuote(store_id),
          ",\"runId\":", JsonQuote(result->run_id()),
          ",\"started\":", result->started() ? "true" : "false", ",\"message\":",
          JsonQuote(result->started()
                        ? absl::StrCat("Manual sync triggered for store: ", store_id)
                        : absl::StrCat("A sync is already running for store: ", store_id)),
          "}");
    } else {
      absl::StrAppend(&data, "false,\"storeId\":", JsonQuote(store_id),
                      ",\"code\":", HttpStatusFor(result.status()),
                      ",\"error\":", JsonQuote(Sv(result.status().message())), "}");
    }
    self->SendEvent("triggerResult", data);
  });
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
