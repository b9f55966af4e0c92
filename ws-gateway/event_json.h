// JSON of the gateway's HTTP answers and WebSocket events: the protobuf JSON mapping
// (lowerCamelCase, every primitive field printed) of the scheduler's messages, with the Stage
// and Trigger enums written as the lower-case words the dashboard uses ("orders", "manual").
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "autosync/v1/scheduler.pb.h"
#include "google/protobuf/message.h"

namespace autosync::gateway {

// The JSON object of `message`.
std::string ProtoToJson(const google::protobuf::Message& message);

// `{"success":true,<members of message's JSON>,<extra>}`: `extra` is "" or `"k":v,...`.
std::string SuccessJson(const google::protobuf::Message& message, absl::string_view extra);

// Event names and data of WatchStore events.
inline constexpr absl::string_view kProgressEvent = "autoSyncProgress";
inline constexpr absl::string_view kStatusEvent = "syncStatus";

// syncStatus data: the status object plus `storeId`.
std::string StatusEventData(absl::string_view store_id, const autosync::v1::SyncStatus& status);
// autoSyncProgress data: {storeId, runId, stage, message, progress, counts, ...}; a QUEUED event
// ("stage":"queued") also carries `queuePosition` (1 = next) and `estimatedWaitSeconds` (int64,
// so a string), other stages never do. `retryable` is never sent.
std::string ProgressEventData(const autosync::v1::SyncProgress& progress);

// One event encoded once per framing; the bytes are shared by every recipient.
struct EncodedEvent {
  std::shared_ptr<const std::string> ws;   // {"event":…,"data":…}
  std::shared_ptr<const std::string> sio;  // 42["event",data]
};
EncodedEvent EncodeForClients(absl::string_view name, absl::string_view data_json);

// "2024-01-15T10:30:00.000Z" for now.
std::string NowIso8601();

}  // namespace autosync::gateway
