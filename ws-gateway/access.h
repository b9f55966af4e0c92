// Who may do what at the gateway: one table mapping every HTTP route (RouteId) and every client
// event of the WebSocket protocols (`/ws` commands and Socket.IO events, SocketEvent) to the
// role it needs, and Authorize(), the one check every route and event calls. The table is two
// switches without `default`, so a RouteId or SocketEvent left out is a compile error
// (-Werror=switch). docs/DESIGN.md "Roles" is this table in prose.
#pragma once

#include <array>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ws-gateway/jwt.h"
#include "ws-gateway/route_match.h"

namespace autosync::gateway {

// The client events of both WebSocket protocols (the same names on `/ws` and Socket.IO).
enum class SocketEvent {
  kSelectStore,        // selectStore: watch a store's progress and status
  kTriggerManualSync,  // triggerManualSync: start a sync of the given or selected store
                       // (last: a new event goes after it and into kAllSocketEvents)
};

// Every RouteId and SocketEvent in declaration order, for tests that must walk them all. Kept
// complete at compile time (access.cc static_asserts: entry i is enumerator i, and the last
// is RouteId::kNotFound / SocketEvent::kTriggerManualSync, the last enumerators).
inline constexpr std::array kAllRoutes = {
    RouteId::kHealth,        RouteId::kMetrics,         RouteId::kSyncStatus,
    RouteId::kTriggerSync,   RouteId::kStores,          RouteId::kCreateStore,
    RouteId::kStore,         RouteId::kReplaceStore,    RouteId::kDeleteStore,
    RouteId::kPauseStore,    RouteId::kResumeStore,     RouteId::kResyncStore,
    RouteId::kBackfillStore, RouteId::kPreviewSchedule, RouteId::kMe,
    RouteId::kStoreLtv,      RouteId::kStoreRuns,       RouteId::kStoreQuarantine,
    RouteId::kAudit,         RouteId::kBenchBroadcast,  RouteId::kStatic,
    RouteId::kNotFound,
};
inline constexpr std::array kAllSocketEvents = {SocketEvent::kSelectStore,
                                                SocketEvent::kTriggerManualSync};

// The role a route needs; nullopt for the routes that take no token (/health, /metrics' 404,
// static files, the loopback-only bench endpoint, unknown paths).
std::optional<Role> NeededRole(RouteId id);
// The role a client event needs (the connection itself needs a valid token of any role).
Role NeededRole(SocketEvent event);

absl::string_view SocketEventName(SocketEvent event);

// The one authorization check: the claims' role must reach `needed`, and a non-empty `store_id`
// must be granted by the `stores` claim. PERMISSION_DENIED otherwise, with a message a client
// may see: "role viewer may not use <what>: role operator required" or "token does not grant
// store <id>". `what` names the route or event ("POST /api/stores", "triggerManualSync").
absl::Status Authorize(const JwtClaims& claims, Role needed, absl::string_view what,
                       absl::string_view store_id = {});
absl::Status Authorize(const JwtClaims& claims, SocketEvent event, absl::string_view store_id = {});

}  // namespace autosync::gateway
