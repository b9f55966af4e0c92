#include "ws-gateway/access.h"

#include "absl/strings/str_cat.h"

namespace autosync::gateway {

namespace {
template <typename Enum, size_t N>
constexpr bool InDeclarationOrder(const std::array<Enum, N>& all) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(all[i]) != i) return false;
  }
  return true;
}
}  // namespace

// A new enumerator goes before the sentinel (kNotFound) or after kTriggerManualSync: either
// way one of these fails until the list has it.
static_assert(InDeclarationOrder(kAllRoutes) &&
              static_cast<size_t>(RouteId::kNotFound) + 1 == kAllRoutes.size());
static_assert(InDeclarationOrder(kAllSocketEvents) &&
              static_cast<size_t>(SocketEvent::kTriggerManualSync) + 1 == kAllSocketEvents.size());

std::optional<Role> NeededRole(RouteId id) {
  switch (id) {
    case RouteId::kHealth:
    case RouteId::kMetrics:
    case RouteId::kBenchBroadcast:
    case RouteId::kStatic:
    case RouteId::kNotFound:
      return std::nullopt;
    case RouteId::kSyncStatus:
    case RouteId::kStores:
    case RouteId::kStore:
    case RouteId::kPreviewSchedule:
    case RouteId::kMe:
    case RouteId::kStoreLtv:
    case RouteId::kStoreRuns:
    case RouteId::kStoreQuarantine:
      return Role::kViewer;
    case RouteId::kTriggerSync:
    case RouteId::kPauseStore:
    case RouteId::kResumeStore:
    case RouteId::kResyncStore:
      return Role::kOperator;
    case RouteId::kCreateStore:
    case RouteId::kReplaceStore:
    case RouteId::kDeleteStore:
    case RouteId::kBackfillStore:
    case RouteId::kAudit:
      return Role::kAdmin;
  }
  return Role::kAdmin;  // not reached: every RouteId is listed above
}

Role NeededRole(SocketEvent event) {
  switch (event) {
    case SocketEvent::kSelectStore:
      return Role::kViewer;
    case SocketEvent::kTriggerManualSync:
      return Role::kOperator;
  }
  return Role::kAdmin;  // not reached
}

absl::string_view SocketEventName(SocketEvent event) {
  switch (event) {
    case SocketEvent::kSelectStore:
      return "selectStore";
    case SocketEvent::kTriggerManualSync:
      return "triggerManualSync";
  }
  return "?";
}

absl::Status Authorize(const JwtClaims& claims, Role needed, absl::string_view what,
                       absl::string_view store_id) {
  if (!claims.Can(needed)) {
    return absl::PermissionDeniedError(absl::StrCat("role ", RoleName(claims.role), " may not use ",
                                                    what, ": role ", RoleName(needed),
                                                    " required"));
  }
  if (!store_id.empty() && !claims.AllowsStore(store_id)) {
    return absl::PermissionDeniedError(absl::StrCat("token does not grant store ", store_id));
  }
  return absl::OkStatus();
}

absl::Status Authorize(const JwtClaims& claims, SocketEvent event, absl::string_view store_id) {
  return Authorize(claims, NeededRole(event), SocketEventName(event), store_id);
}

}  // namespace autosync::gateway
