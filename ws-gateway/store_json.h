// The store resource of the HTTP store-management routes (docs/STORES-HTTP.md): the gRPC Store
// as JSON with a schedule and a staleness per data type, and the request bodies of those routes,
// parsed strictly (unknown members, wrong types and secrets refused, each naming its member).
// The values themselves are validated by the scheduler, whose error texts pass through; their
// proto field names map to the JSON member they came from (JsonFieldFor). Pure logic.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "autosync/v1/scheduler.pb.h"

namespace autosync::gateway {

// Bodies larger than this are refused (413) before they are parsed.
inline constexpr size_t kMaxStoreBodyBytes = 64 * 1024;

// The store as the routes answer it.
std::string StoreToJson(const autosync::v1::Store& store);

struct StoreBody {
  autosync::v1::Store store;
  int64_t version = 0;  // the `version` member; 0 when absent
  bool has_store_id = false;
};

// A POST /api/stores or PUT /api/stores/:id body. Absent members take their defaults (`enabled`
// true). INVALID_ARGUMENT "member: problem" for a body that is not a JSON object, an unknown or
// repeated member, a member of the wrong type, or a member that looks like a secret.
absl::StatusOr<StoreBody> ParseStoreBody(absl::string_view body);

// {"note"} of /pause (the body may be empty).
absl::StatusOr<std::string> ParsePauseBody(absl::string_view body);
// {"from","to"} of /backfill.
absl::StatusOr<std::pair<std::string, std::string>> ParseBackfillBody(absl::string_view body);
// {"schedule","timezone","count"} of /api/schedules/preview.
absl::StatusOr<autosync::v1::PreviewScheduleRequest> ParsePreviewBody(absl::string_view body);
// An empty body or {} (/resume, /resync).
absl::Status ParseEmptyBody(absl::string_view body);

// The JSON member a scheduler validation message is about ("ads_schedule: …" ->
// "schedules.ads", "schedule: …" -> "schedules.orders"); empty when it names none we know.
std::string JsonFieldFor(absl::string_view message);

}  // namespace autosync::gateway
