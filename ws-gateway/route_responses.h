// The JSON answers the route files share (routes.cc, routes_admin.cc): internal to the
// gateway's routes. Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "autosync/v1/scheduler.pb.h"
#include "ws-gateway/http_types.h"

namespace autosync::gateway {

// 200 with a JSON body.
HttpResponse JsonOk(std::string body);
// JsonError with the status's HTTP code (HttpStatusFor) and message.
HttpResponse ErrorFor(const absl::Status& status);
// `"timestamp":"<now, ISO 8601>"`, the member every success answer ends with.
std::string TimestampMember();
// An error answer for a store route: the status and message, the JSON member it names
// (`field`) and, for a conflict, the store as it is now.
HttpResponse StoreError(const absl::Status& status, const autosync::v1::Store* current = nullptr);
// {"success":true,"store":…,"timestamp":…} with `status`.
HttpResponse StoreOk(const autosync::v1::Store& store, int status = 200);

}  // namespace autosync::gateway
