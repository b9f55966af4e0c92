// HTTP route matching as a pure function of method and path (no I/O), plus query-string and
// header helpers shared by the router and the WebSocket upgrade path.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace autosync::gateway {

enum class RouteId {
  kHealth,
  kMetrics,
  kSyncStatus,       // GET  /api/sync/status/:storeId
  kTriggerSync,      // POST /api/test/trigger-sync/:storeId
  kStores,           // GET  /api/stores
  kCreateStore,      // POST /api/stores
  kStore,            // GET  /api/stores/:storeId
  kReplaceStore,     // PUT  /api/stores/:storeId
  kDeleteStore,      // DELETE /api/stores/:storeId
  kPauseStore,       // POST /api/stores/:storeId/pause
  kResumeStore,      // POST /api/stores/:storeId/resume
  kResyncStore,      // POST /api/stores/:storeId/resync
  kBackfillStore,    // POST /api/stores/:storeId/backfill
  kPreviewSchedule,  // POST /api/schedules/preview
  kMe,               // GET  /api/me
  kStoreLtv,         // GET  /api/stores/:storeId/ltv
  kStoreRuns,        // GET  /api/stores/:storeId/runs
  kStoreQuarantine,  // GET  /api/stores/:storeId/quarantine
  kAudit,            // GET  /api/audit
  kBenchBroadcast,   // POST /bench/broadcast (only with --bench_endpoints)
  kStatic,           // GET anything else outside /api/: a file under --web_root
  kNotFound,         // last: access.h kAllRoutes ends with it
};

struct RouteMatch {
  RouteId id = RouteId::kNotFound;
  // The raw :storeId path segment (not yet validated), for routes that have one.
  std::string store_id;
  // Set when the path is known but the method is not allowed: "GET, HEAD" / "POST" /
  // "GET, HEAD, PUT, DELETE".
  std::string allowed_methods;
  // Low-cardinality label for metrics: the route pattern ("/api/stores/:storeId/ltv").
  absl::string_view label = "unmatched";
};

// Matches `path` (without query). An OPTIONS request matches like the route it asks about
// (CORS preflight) and never sets allowed_methods.
RouteMatch MatchRoute(absl::string_view method, absl::string_view path);

// The path and query parts of a request target.
absl::string_view PathOf(absl::string_view target);
absl::string_view QueryOf(absl::string_view target);

// The percent-decoded value of the first `name` parameter of a query string ("a=1&b=2"), with
// '+' read as a space. nullopt when absent or badly encoded.
std::optional<std::string> QueryParam(absl::string_view query, absl::string_view name);

// The value of a header (names lower-cased by the server), or nullopt.
std::optional<absl::string_view> HeaderValue(
    const std::vector<std::pair<std::string, std::string>>& headers, absl::string_view name);

// The token of an `Authorization: Bearer <token>` header value, or nullopt.
std::optional<std::string> BearerToken(absl::string_view authorization);

}  // namespace autosync::gateway
