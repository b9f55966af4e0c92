#include "ws-gateway/client_commands.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "simdjson.h"
#include "ws-gateway/access.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/scheduler_client.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

void Trigger(ClientContext& context, std::shared_ptr<CommandClient> client, std::string store_id,
             CommandReplies replies) {
  context.run_blocking([&context, client = std::move(client), store_id = std::move(store_id),
                        replies = std::move(replies)] {
    const CommandCaller caller = client->Caller();
    const ScopedCaller scoped({.actor = ActorOf(caller.claims, context.auth.dev_mode()),
                               .client_address = caller.client_address});
    // A refusal answers in the trigger's own shape (code 403).
    absl::StatusOr<autosync::v1::TriggerSyncResponse> result;
    if (absl::Status s = Authorize(caller.claims, SocketEvent::kTriggerManualSync, store_id);
        s.ok()) {
      result = context.router.Trigger(store_id, caller.client_key, autosync::v1::TRIGGER_MANUAL);
    } else {
      result = s;
    }
    replies.triggered(result.status(), TriggerResultJson(store_id, result));
  });
}

}  // namespace

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

void HandleClientCommand(ClientContext& context, std::shared_ptr<CommandClient> client,
                         absl::string_view event, absl::string_view arg_json,
                         CommandReplies replies) {
  if (event == "selectStore") {
    absl::StatusOr<std::string> store = ParseStoreArgument(arg_json);
    if (!store.ok()) {
      return replies.refused(absl::StrCat("selectStore: ", store.status().message()));
    }
    if (absl::Status s = Authorize(client->Caller().claims, SocketEvent::kSelectStore, *store);
        !s.ok()) {
      return replies.refused(absl::StrCat("selectStore: ", s.message()));
    }
    client->SelectStore(*store);
    return replies.selected(*store);
  }
  if (event == "triggerManualSync") {
    std::string store_id;
    if (arg_json == "null") {
      store_id = client->SelectedStore();
    } else {
      absl::StatusOr<std::string> store = ParseStoreArgument(arg_json);
      if (!store.ok()) {
        return replies.refused(absl::StrCat("triggerManualSync: ", store.status().message()));
      }
      store_id = *std::move(store);
    }
    if (store_id.empty()) return replies.refused("triggerManualSync: no store given or selected");
    return Trigger(context, std::move(client), std::move(store_id), std::move(replies));
  }
  replies.refused(absl::StrCat("unknown event ", JsonQuote(Sv(event)),
                               " (expected selectStore or triggerManualSync)"));
}

std::string TriggerResultJson(absl::string_view store_id,
                              const absl::StatusOr<autosync::v1::TriggerSyncResponse>& result) {
  const std::string store = JsonQuote(Sv(store_id));
  if (!result.ok()) {
    return absl::StrCat("{\"success\":false,\"storeId\":", store,
                        ",\"code\":", HttpStatusFor(result.status()),
                        ",\"error\":", JsonQuote(Sv(result.status().message())), "}");
  }
  const char* started = result->started() ? "true" : "false";
  return absl::StrCat(
      "{\"success\":", started, ",\"storeId\":", store, ",\"runId\":", JsonQuote(result->run_id()),
      ",\"started\":", started, ",\"message\":",
      JsonQuote(result->started()
                    ? absl::StrCat("Manual sync triggered for store: ", store_id)
                    : absl::StrCat("A sync is already running for store: ", store_id)),
      "}");
}

}  // namespace autosync::gateway
