// Fuzzes the bodies of the gateway's store-management routes (ws-gateway/store_json.h): the store
// JSON of POST/PUT /api/stores, and the pause, backfill and schedule-preview bodies. Invariants:
// no crash, leak or hang on any input; an accepted store written back by StoreToJson parses
// again to the same store (no member lost or changed on the way, the ads schedule filled in as
// the answer shows it); every refusal is INVALID_ARGUMENT or OUT_OF_RANGE (size) and reads
// "member: problem"; the field a message names is never longer than the message.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "ws-gateway/store_json.h"

namespace {

namespace gw = autosync::gateway;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "store_json invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

void CheckRefusal(const absl::Status& s, absl::string_view input) {
  if (s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kOutOfRange) {
    Fail("a refusal with an unexpected code", input);
  }
  // "member: problem" (a member's own name may hold ':' too).
  const absl::string_view message = s.message();
  if (message.find(": ") == absl::string_view::npos) Fail("a refusal names no member", input);
  if (gw::JsonFieldFor(message).size() > message.size()) Fail("field longer than message", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gw::StoreBody> body = gw::ParseStoreBody(input);
  if (!body.ok()) {
    CheckRefusal(body.status(), input);
  } else {
    autosync::v1::Store want = body->store;
    if (want.ads_schedule().empty()) want.set_ads_schedule(want.schedule());
    const std::string json = gw::StoreToJson(body->store);
    absl::StatusOr<gw::StoreBody> again = gw::ParseStoreBody(json);
    if (!again.ok()) Fail("StoreToJson wrote a body ParseStoreBody refuses", json);
    autosync::v1::Store got = again->store;
    got.clear_version();
    want.clear_version();
    if (got.SerializeAsString() != want.SerializeAsString()) {
      Fail("a store changed on its way through StoreToJson", input);
    }
  }
  if (absl::StatusOr<std::string> note = gw::ParsePauseBody(input); !note.ok()) {
    CheckRefusal(note.status(), input);
  }
  if (auto range = gw::ParseBackfillBody(input); !range.ok()) CheckRefusal(range.status(), input);
  if (auto preview = gw::ParsePreviewBody(input); !preview.ok()) {
    CheckRefusal(preview.status(), input);
  } else if (preview->count() < 0 || preview->count() > 100) {
    Fail("a preview count out of range was accepted", input);
  }
  if (absl::Status s = gw::ParseEmptyBody(input); !s.ok()) CheckRefusal(s, input);
  return 0;
}
