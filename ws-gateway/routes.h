// The gateway's HTTP routes as a function of the request and the gateway's collaborators
// (scheduler client, auth, limits, metrics): /health, /metrics, the /api/ routes of
// docs/DESIGN.md, static files under --web_root. Also the manual-trigger path the WebSocket
// sessions share. Defined in routes.cc (dispatch, reads, triggers, health, static files)
// and routes_admin.cc (store writes, the audit log).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"
#include "ws-gateway/auth.h"
#include "ws-gateway/gateway_metrics.h"
#include "ws-gateway/http_types.h"
#include "ws-gateway/rate_limit.h"
#include "ws-gateway/route_match.h"
#include "ws-gateway/scheduler_client.h"

namespace autosync::gateway {

struct RouterOptions {
  std::string web_root;          // static files; empty = none served
  bool bench_endpoints = false;  // POST /bench/broadcast (loopback callers only)
};

// Who a request is for, as the scheduler's audit trail records it (ScopedCaller): the token's
// `sub` ("dev" in dev mode, "anonymous" for a token without one) and the client's address, the
// TCP peer plus the X-Forwarded-For value when present, labelled: "peer=10.0.0.7
// x-forwarded-for=203.0.113.9".
std::string ActorOf(const JwtClaims& claims, bool dev_mode);
std::string ClientAddressOf(absl::string_view remote_address,
                            const std::vector<std::pair<std::string, std::string>>& headers);

// HTTP status for an upstream / validation error: 400 bad argument, 401, 403, 404, 409 run in
// flight, 429 limited, 503 upstream down or slow, 502 otherwise.
int HttpStatusFor(const absl::Status& status);

// What a trigger asks for beyond a plain sync.
struct TriggerOptions {
  bool force = false;         // a full re-fetch ("Re-sync everything")
  std::string backfill_from;  // a backfill's days (admin only); both empty otherwise
  std::string backfill_to;
};

class Router final {
 public:
  // Every reference must outlive the router.
  Router(SchedulerClient& scheduler, std::shared_ptr<prometheus::Registry> registry,
         GatewayMetrics& metrics, const Authenticator& auth, const OriginPolicy& origins,
         TriggerLimiter& limiter, RouterOptions options);

  // Thread-safe; may block on an upstream call bounded by its deadline.
  HttpResponse Handle(const HttpRequest& request);

  // A manual trigger on behalf of an authenticated client (HTTP or WebSocket): validates the
  // store id, checks the rate limits, calls TriggerSync. Blocking. The caller has authorized
  // it first (Authorize in access.h: the route's or event's role and the store).
  absl::StatusOr<autosync::v1::TriggerSyncResponse> Trigger(const std::string& store_id,
                                                            absl::string_view client_key,
                                                            autosync::v1::Trigger trigger,
                                                            const TriggerOptions& options = {});

  // POST /bench/broadcast body -> response body (set by the server when --bench_endpoints).
  void set_bench_handler(std::function<HttpResponse(const HttpRequest&)> handler) {
    bench_handler_ = std::move(handler);
  }

 private:
  HttpResponse Route(const HttpRequest& request, const RouteMatch& match);
  HttpResponse Health();
  // POST /api/stores (create) and PUT /api/stores/:id (replace a version).
  HttpResponse WriteStore(const HttpRequest& request, const RouteMatch& match,
                          const JwtClaims& claims);
  HttpResponse Static(absl::string_view path);
  // GET /api/audit?storeId=&action=&limit=&before=
  HttpResponse Audit(absl::string_view query);

  SchedulerClient& scheduler_;
  std::shared_ptr<prometheus::Registry> registry_;
  GatewayMetrics& metrics_;
  const Authenticator& auth_;
  const OriginPolicy& origins_;
  TriggerLimiter& limiter_;
  RouterOptions options_;
  std::function<HttpResponse(const HttpRequest&)> bench_handler_;
};

}  // namespace autosync::gateway
