// Fuzzes the gateway's event JSON (ws-gateway/event_json.h) with protobuf messages decoded from
// the input: a SyncStatus or SyncProgress, as the scheduler streams them, plus a store id of any
// bytes. Invariants: every data object is valid JSON (an object, enums as lower-case words or
// numbers); the frames EncodeForClients shares with every client parse back, on both framings,
// to the same event name and data.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "autosync/v1/scheduler.pb.h"
#include "autosync/v1/sync_worker.pb.h"
#include "ws-gateway/codec/engineio.h"
#include "ws-gateway/codec/socketio.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/event_json.h"
#include "ws-gateway/sv.h"

namespace {

namespace gw = autosync::gateway;

void Fail(const char* what, std::string_view json) {
  std::fprintf(stderr, "event_json invariant violated: %s\njson: %.*s\n", what,
               static_cast<int>(json.size()), json.data());
  std::abort();
}

// `json` is one valid JSON object; when `enum_key` is given and a member it is a lower-case word or
// a number (an enum value this build does not know).
void CheckObject(const std::string& json, std::string_view enum_key) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) Fail("not valid JSON", json);
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) Fail("not a JSON object", json);
  simdjson::dom::element value;
  if (!enum_key.empty() && object.at_key(enum_key).get(value) == simdjson::SUCCESS) {
    std::string_view word;
    if (value.get_string().get(word) == simdjson::SUCCESS) {
      for (const char c : word) {
        if (!(c >= 'a' && c <= 'z')) Fail("enum word not lower-case", json);
      }
    } else if (!value.is_number()) {
      Fail("enum neither word nor number", json);
    }
  }
}

void CheckFrames(std::string_view name, const std::string& data_json) {
  const gw::EncodedEvent event = gw::EncodeForClients(gw::Av(name), data_json);
  absl::StatusOr<gw::WsMessage> ws = gw::ParseWsMessage(*event.ws, event.ws->size());
  if (!ws.ok() || ws->event != name || ws->data != data_json)
    Fail("/ws frame round trip", *event.ws);
  absl::StatusOr<gw::engineio::Packet> eio = gw::engineio::DecodePacket(*event.sio);
  if (!eio.ok() || eio->type != gw::engineio::PacketType::kMessage) Fail("EIO frame", *event.sio);
  absl::StatusOr<gw::socketio::Packet> sio = gw::socketio::Decode(eio->data);
  if (!sio.ok() || sio->event != name || sio->args.size() != 1 || sio->args[0] != data_json) {
    Fail("Socket.IO frame round trip", *event.sio);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const bool status_event = in.ConsumeBool();
  const std::string store_id = in.ConsumeRandomLengthString(80);
  const std::string bytes = in.ConsumeRemainingBytesAsString();

  if (status_event) {
    autosync::v1::SyncStatus status;
    if (!status.ParseFromString(bytes)) return 0;
    const std::string json = gw::StatusEventData(store_id, status);
    CheckObject(json, "");
    CheckObject(gw::ProtoToJson(status), "");
    CheckObject(gw::SuccessJson(status, "\"extra\":1"), "");
    CheckFrames(gw::Sv(gw::kStatusEvent), json);
  } else {
    autosync::v1::SyncProgress progress;
    if (!progress.ParseFromString(bytes)) return 0;
    const std::string json = gw::ProgressEventData(progress);
    CheckObject(json, "stage");
    CheckObject(json, "trigger");
    CheckFrames(gw::Sv(gw::kProgressEvent), json);
  }
  return 0;
}
