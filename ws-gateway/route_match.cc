#include "ws-gateway/route_match.h"

#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/percent.h"

namespace autosync::gateway {
namespace {

constexpr absl::string_view kRead = "GET, HEAD";
constexpr absl::string_view kWrite = "POST";

bool IsRead(absl::string_view method) { return method == "GET" || method == "HEAD"; }

RouteMatch Make(RouteId id, absl::string_view label, absl::string_view method,
                absl::string_view allowed, std::string store_id = "") {
  RouteMatch match;
  match.id = id;
  match.label = label;
  match.store_id = std::move(store_id);
  const bool ok = method == "OPTIONS" || (allowed == kRead ? IsRead(method) : method == allowed);
  if (!ok) match.allowed_methods = std::string(allowed);
  return match;
}

struct MethodRoute {
  absl::string_view method;  // "GET" also answers HEAD
  RouteId id;
};

// A path served by several methods, each its own route.
RouteMatch Pick(absl::string_view method, absl::string_view label,
                std::initializer_list<MethodRoute> routes, std::string store_id = "") {
  RouteMatch match;
  match.label = label;
  match.store_id = std::move(store_id);
  for (const MethodRoute& r : routes) {
    if (method == r.method || (r.method == "GET" && method == "HEAD")) {
      match.id = r.id;
      return match;
    }
  }
  match.id = routes.begin()->id;
  if (method == "OPTIONS") return match;
  for (const MethodRoute& r : routes) {
    if (!match.allowed_methods.empty()) match.allowed_methods += ", ";
    match.allowed_methods += r.method == "GET" ? std::string(kRead) : std::string(r.method);
  }
  return match;
}

}  // namespace

RouteMatch MatchRoute(absl::string_view method, absl::string_view path) {
  if (path == "/health") return Make(RouteId::kHealth, "/health", method, kRead);
  if (path == "/metrics") return Make(RouteId::kMetrics, "/metrics", method, kRead);
  if (path == "/bench/broadcast") {
    return Make(RouteId::kBenchBroadcast, "/bench/broadcast", method, kWrite);
  }
  if (absl::StartsWith(path, "/api/") || path == "/api") {
    const std::vector<absl::string_view> parts = absl::StrSplit(path.substr(1), '/');  // "api", ...
    if (parts.size() == 4 && parts[1] == "sync" && parts[2] == "status" && !parts[3].empty()) {
      return Make(RouteId::kSyncStatus, "/api/sync/status/:storeId", method, kRead,
                  std::string(parts[3]));
    }
    if (parts.size() == 4 && parts[1] == "test" && parts[2] == "trigger-sync" &&
        !parts[3].empty()) {
      return Make(RouteId::kTriggerSync, "/api/test/trigger-sync/:storeId", method, kWrite,
                  std::string(parts[3]));
    }
    if (parts.size() == 2 && parts[1] == "stores") {
      return Pick(method, "/api/stores",
                  {{"GET", RouteId::kStores}, {"POST", RouteId::kCreateStore}});
    }
    if (parts.size() == 2 && parts[1] == "me") return Make(RouteId::kMe, "/api/me", method, kRead);
    if (parts.size() == 2 && parts[1] == "audit") {
      return Make(RouteId::kAudit, "/api/audit", method, kRead);
    }
    if (parts.size() == 3 && parts[1] == "schedules" && parts[2] == "preview") {
      return Make(RouteId::kPreviewSchedule, "/api/schedules/preview", method, kWrite);
    }
    if (parts.size() == 3 && parts[1] == "stores" && !parts[2].empty()) {
      return Pick(method, "/api/stores/:storeId",
                  {{"GET", RouteId::kStore},
                   {"PUT", RouteId::kReplaceStore},
                   {"DELETE", RouteId::kDeleteStore}},
                  std::string(parts[2]));
    }
    if (parts.size() == 4 && parts[1] == "stores" && !parts[2].empty()) {
      static constexpr std::pair<absl::string_view, RouteId> kActions[] = {
          {"pause", RouteId::kPauseStore},
          {"resume", RouteId::kResumeStore},
          {"resync", RouteId::kResyncStore},
          {"backfill", RouteId::kBackfillStore}};
      static constexpr absl::string_view kLabels[] = {
          "/api/stores/:storeId/pause", "/api/stores/:storeId/resume",
          "/api/stores/:storeId/resync", "/api/stores/:storeId/backfill"};
      for (size_t i = 0; i < 4; ++i) {
        if (parts[3] == kActions[i].first) {
          return Make(kActions[i].second, kLabels[i], method, kWrite, std::string(parts[2]));
        }
      }
      if (parts[3] == "ltv") {
        return Make(RouteId::kStoreLtv, "/api/stores/:storeId/ltv", method, kRead,
                    std::string(parts[2]));
      }
      if (parts[3] == "runs") {
        return Make(RouteId::kStoreRuns, "/api/stores/:storeId/runs", method, kRead,
                    std::string(parts[2]));
      }
      if (parts[3] == "quarantine") {
        return Make(RouteId::kStoreQuarantine, "/api/stores/:storeId/quarantine", method, kRead,
                    std::string(parts[2]));
      }
    }
    return RouteMatch{};
  }
  if (IsRead(method) && absl::StartsWith(path, "/")) {
    RouteMatch match;
    match.id = RouteId::kStatic;
    match.label = "static";
    return match;
  }
  return RouteMatch{};
}

absl::string_view PathOf(absl::string_view target) {
  const size_t q = target.find('?');
  return q == absl::string_view::npos ? target : target.substr(0, q);
}

absl::string_view QueryOf(absl::string_view target) {
  const size_t q = target.find('?');
  return q == absl::string_view::npos ? absl::string_view() : target.substr(q + 1);
}

std::optional<std::string> QueryParam(absl::string_view query, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    const size_t eq = pair.find('=');
    const absl::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    const absl::string_view raw = eq == absl::string_view::npos ? "" : pair.substr(eq + 1);
    absl::StatusOr<std::string> value = common::PercentDecode(raw, common::PlusMeans::kSpace);
    if (!value.ok()) return std::nullopt;
    return *std::move(value);
  }
  return std::nullopt;
}

std::optional<absl::string_view> HeaderValue(
    const std::vector<std::pair<std::string, std::string>>& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return absl::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string> BearerToken(absl::string_view authorization) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return std::nullopt;
  }
  const absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(7));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace autosync::gateway
