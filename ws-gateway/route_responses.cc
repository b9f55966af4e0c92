#include "ws-gateway/route_responses.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/event_json.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/store_json.h"

namespace autosync::gateway {
namespace v1 = autosync::v1;

HttpResponse JsonOk(std::string body) {
  HttpResponse res;
  res.body = std::move(body);
  return res;
}

HttpResponse ErrorFor(const absl::Status& status) {
  return JsonError(HttpStatusFor(status), status.message());
}

std::string TimestampMember() { return absl::StrCat("\"timestamp\":\"", NowIso8601(), "\""); }

HttpResponse StoreError(const absl::Status& status, const v1::Store* current) {
  HttpResponse res = JsonError(HttpStatusFor(status), status.message());
  if (status.code() == absl::StatusCode::kOutOfRange &&
      absl::StartsWith(status.message(), "body: is larger")) {
    res = JsonError(413, status.message());
  }
  const std::string field =
      status.code() == absl::StatusCode::kInvalidArgument ? JsonFieldFor(status.message()) : "";
  if (field.empty() && current == nullptr) return res;
  res.body.pop_back();  // the closing brace
  if (!field.empty()) {
    res.body += ",\"field\":";
    AppendJsonString(&res.body, field);
  }
  if (current != nullptr) absl::StrAppend(&res.body, ",\"store\":", StoreToJson(*current));
  res.body += "}";
  return res;
}

HttpResponse StoreOk(const v1::Store& store, int status) {
  HttpResponse res;
  res.status = status;
  res.body =
      absl::StrCat("{\"success\":true,\"store\":", StoreToJson(store), ",", TimestampMember(), "}");
  return res;
}

}  // namespace autosync::gateway
