#include "ws-gateway/bench.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "simdjson.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/event_json.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace {

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HttpResponse BenchBroadcast(Hub& hub, const HttpRequest& request) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(request.body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return JsonError(400, "body must be a JSON object");
  }
  std::string_view store;
  if (doc["store"].get_string().get(store) != simdjson::SUCCESS) {
    return JsonError(400, "store is required");
  }
  if (absl::Status s = common::ValidateStoreId(absl::string_view(store.data(), store.size()));
      !s.ok()) {
    return JsonError(400, s.message());
  }
  std::string_view event = Sv(kProgressEvent);
  if (doc["event"].get_string().get(event) != simdjson::SUCCESS) event = Sv(kProgressEvent);
  std::string_view run_id = "bench";
  if (doc["runId"].get_string().get(run_id) != simdjson::SUCCESS) run_id = "bench";
  int64_t count = 1, interval_ms = 0, payload_bytes = 0;
  if (doc["count"].get_int64().get(count) != simdjson::SUCCESS) count = 1;
  if (doc["intervalMs"].get_int64().get(interval_ms) != simdjson::SUCCESS) interval_ms = 0;
  if (doc["payloadBytes"].get_int64().get(payload_bytes) != simdjson::SUCCESS) {
    payload_bytes = 0;
  }
  if (count < 1 || count > 1'000'000) return JsonError(400, "count must be 1..1000000");
  if (interval_ms < 0 || interval_ms > 10'000) return JsonError(400, "intervalMs must be 0..10000");
  if (payload_bytes < 0 || payload_bytes > 1'000'000) {
    return JsonError(400, "payloadBytes must be 0..1000000");
  }
  const std::string store_id(store);
  const std::string pad(static_cast<size_t>(payload_bytes), 'x');
  const std::string prefix = absl::StrCat("{\"storeId\":", JsonQuote(store_id),
                                          ",\"runId\":", JsonQuote(run_id), ",\"seq\":");
  size_t recipients = 0;
  const int64_t start_us = SteadyMicros();
  for (int64_t seq = 0; seq < count; ++seq) {
    if (seq > 0 && interval_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    }
    const std::string data =
        absl::StrCat(prefix, seq, ",\"sentAtUs\":", SteadyMicros(), ",\"pad\":\"", pad, "\"}");
    recipients = hub.Broadcast(store_id, EncodeForClients(Av(event), data));
  }
  const int64_t end_us = SteadyMicros();
  HttpResponse res;
  res.body = absl::StrCat("{\"emitted\":", count, ",\"recipients\":", recipients,
                          ",\"startUs\":", start_us, ",\"endUs\":", end_us, "}");
  return res;
}

}  // namespace autosync::gateway
