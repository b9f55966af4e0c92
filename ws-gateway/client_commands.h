// The client commands both framings accept — `selectStore` and `triggerManualSync` — parsed,
// authorized and carried out in one place. The `/ws` client (ws_client.h) and the Socket.IO
// dashboard application (sio_dashboard.h) differ only in how they answer: `/ws` sends `error` and
// `triggerResult` events, Socket.IO acks the command (or emits `error` when it asked no ack).
//
// Thread-safety: HandleClientCommand may be called from any thread; a trigger runs on the
// context's blocking pool and answers from there. Lifetime: the CommandClient is kept alive (by
// its shared_ptr) until the command has answered.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "autosync/v1/scheduler.pb.h"
#include "ws-gateway/client_context.h"
#include "ws-gateway/jwt.h"

namespace autosync::gateway {

// The store id of a `selectStore` / `triggerManualSync` argument: a JSON string, or an object
// with a string `storeId`. InvalidArgument otherwise, or when the id is malformed.
absl::StatusOr<std::string> ParseStoreArgument(absl::string_view json);

// Who sends a command, as of the moment it runs.
struct CommandCaller {
  JwtClaims claims;
  std::string client_key;      // the rate-limit key of the client
  std::string client_address;  // what the audit trail records (ClientAddressOf in routes.h)
};

// The client a command acts on. Implementations are thread-safe.
class CommandClient {
 public:
  virtual ~CommandClient() = default;
  virtual CommandCaller Caller() = 0;
  // The store of the last successful selectStore; empty when none.
  virtual std::string SelectedStore() = 0;
  // Records `store` as selected and subscribes the client to its events at the hub.
  virtual void SelectStore(const std::string& store) = 0;
};

// How one command is answered; exactly one of the three is called, `triggered` maybe later and
// from the blocking pool.
struct CommandReplies {
  // The command was refused (bad argument, store not allowed, unknown event): `message` says
  // why, prefixed with the command ("selectStore: …").
  std::function<void(std::string message)> refused;
  // selectStore succeeded (the store is already selected and subscribed).
  std::function<void(const std::string& store)> selected;
  // triggerManualSync's outcome: `status` is the trigger's (OK when the scheduler answered,
  // started or not) and `result_json` the TriggerResultJson object.
  std::function<void(const absl::Status& status, std::string result_json)> triggered;
};

// Runs client command `event` with argument `arg_json` ("null" when none was given).
void HandleClientCommand(ClientContext& context, std::shared_ptr<CommandClient> client,
                         absl::string_view event, absl::string_view arg_json,
                         CommandReplies replies);

// The answer to a trigger for `store_id`: {"success","storeId","runId","started","message"} when
// the scheduler answered, {"success":false,"storeId","code","error"} when not (code: the HTTP
// status of the error, 403 for a store outside the token).
std::string TriggerResultJson(absl::string_view store_id,
                              const absl::StatusOr<autosync::v1::TriggerSyncResponse>& result);

}  // namespace autosync::gateway
