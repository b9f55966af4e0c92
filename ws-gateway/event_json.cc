#include "ws-gateway/event_json.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ws-gateway/codec/socketio.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

// Rewrites `"<key>":"<PREFIX>NAME"` to `"<key>":"name"`. The printer's output is compact and a
// quote inside a string value is always escaped, so the pattern only matches real members.
void LowerEnum(std::string& json, absl::string_view key, absl::string_view prefix) {
  const std::string pattern = absl::StrCat("\"", key, "\":\"", prefix);
  size_t pos = 0;
  while ((pos = json.find(pattern, pos)) != std::string::npos) {
    const size_t start = pos + key.size() + 4;  // first char of the value, the prefix
    const size_t end = json.find('"', start);
    if (end == std::string::npos) return;
    std::string word =
        absl::AsciiStrToLower(json.substr(start + prefix.size(), end - start - prefix.size()));
    if (word == "unspecified") word.clear();
    json.replace(start, end - start, word);
    pos = start;
  }
}

// Removes the member `"<key>":<value>` of compact JSON, and the comma joining it to a neighbour.
// For top-level members whose value is a number, a bool or a string without escapes (an int64 as
// the printer writes it). As in LowerEnum, the pattern only matches a real member: a quote inside
// a string value is always escaped, so `<key>":` cannot occur inside one.
void RemoveMember(std::string& json, absl::string_view key) {
  const std::string pattern = absl::StrCat("\"", key, "\":");
  const size_t pos = json.find(pattern);
  if (pos == std::string::npos) return;
  size_t end = pos + pattern.size();
  if (end < json.size() && json[end] == '"') {
    end = json.find('"', end + 1);
    if (end == std::string::npos) return;
    ++end;
  } else {
    while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
  }
  size_t begin = pos;
  if (begin > 0 && json[begin - 1] == ',') {
    --begin;
  } else if (end < json.size() && json[end] == ',') {
    ++end;
  }
  json.erase(begin, end - begin);
}

// The members of a JSON object's text, without the braces ("" for "{}").
absl::string_view Members(absl::string_view object) {
  if (object.size() < 2) return "";
  return object.substr(1, object.size() - 2);
}

}  // namespace

std::string ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  LowerEnum(json, "stage", "STAGE_");
  LowerEnum(json, "trigger", "TRIGGER_");
  return json;
}

std::string SuccessJson(const google::protobuf::Message& message, absl::string_view extra) {
  const std::string json = ProtoToJson(message);
  const absl::string_view members = Members(json);
  std::string out = "{\"success\":true";
  if (!members.empty()) absl::StrAppend(&out, ",", members);
  if (!extra.empty()) absl::StrAppend(&out, ",", extra);
  out += "}";
  return out;
}

std::string StatusEventData(absl::string_view store_id, const autosync::v1::SyncStatus& status) {
  const std::string json = ProtoToJson(status);
  const absl::string_view members = Members(json);
  std::string out = "{\"storeId\":";
  AppendJsonString(&out, Sv(store_id));
  if (!members.empty()) absl::StrAppend(&out, ",", members);
  out += "}";
  return out;
}

std::string ProgressEventData(const autosync::v1::SyncProgress& progress) {
  std::string json = ProtoToJson(progress);
  // Every stage but QUEUED keeps the Node prototype's shape: where a run stands in the queue
  // means nothing once it runs, and `retryable` (the scheduler's own retry decision) is not part
  // of the browser events.
  if (progress.stage() != autosync::v1::STAGE_QUEUED) {
    RemoveMember(json, "queuePosition");
    RemoveMember(json, "estimatedWaitSeconds");
  }
  RemoveMember(json, "retryable");
  // `dataTypes` (which types the run syncs) is on STARTING and QUEUED events only.
  if (progress.data_types().empty()) RemoveMember(json, "dataTypes");
  return json;
}

EncodedEvent EncodeForClients(absl::string_view name, absl::string_view data_json) {
  EncodedEvent event;
  event.ws = std::make_shared<const std::string>(EncodeWsEvent(Sv(name), Sv(data_json)));
  event.sio = std::make_shared<const std::string>(
      socketio::EncodeEventFrame(socketio::kMainNamespace, Sv(name), Sv(data_json)));
  return event;
}

std::string NowIso8601() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace autosync::gateway
