#include "ws-gateway/routes.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ws-gateway/access.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/event_json.h"
#include "ws-gateway/route_responses.h"
#include "ws-gateway/store_json.h"

namespace autosync::gateway {
namespace v1 = autosync::v1;

namespace {

absl::string_view ContentTypeFor(absl::string_view path) {
  const size_t dot = path.rfind('.');
  const absl::string_view ext = dot == absl::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// Page sizes from the query: absent -> 0 (the scheduler's default); a bad one is refused.
absl::StatusOr<int> PageSize(absl::string_view query) {
  const std::optional<std::string> raw = QueryParam(query, "pageSize");
  if (!raw.has_value()) return 0;
  int value = 0;
  if (!absl::SimpleAtoi(*raw, &value) || value < 0 || value > 1000) {
    return absl::InvalidArgumentError("pageSize must be an integer between 0 and 1000");
  }
  return value;
}

// The stores a token limited to some stores may see, in one response without a page token:
// the scheduler's pages are walked (largest pages, bounded) and filtered, stopping as soon as
// every store the token names has been seen.
absl::StatusOr<v1::ListStoresResponse> GrantedStores(SchedulerClient& scheduler,
                                                     const JwtClaims& claims) {
  constexpr int kPageSize = 1000;
  constexpr int kMaxPages = 100;
  const std::set<std::string> wanted(claims.stores.begin(), claims.stores.end());
  v1::ListStoresResponse out;
  v1::ListStoresRequest req;
  req.set_page_size(kPageSize);
  for (int page = 0; page < kMaxPages && out.stores_size() < static_cast<int>(wanted.size());
       ++page) {
    auto stores = scheduler.ListStores(req);
    if (!stores.ok()) return stores.status();
    for (v1::Store& store : *stores->mutable_stores()) {
      if (wanted.count(store.store_id()) > 0) *out.add_stores() = std::move(store);
    }
    if (stores->next_page_token().empty()) break;
    req.set_page_token(stores->next_page_token());
  }
  return out;
}

// A trigger's answer: started, `message` says so (200); a run already queued or in flight,
// `error` says so and `runId` is that run (409).
HttpResponse TriggerAnswer(const v1::TriggerSyncResponse& result, absl::string_view text) {
  std::string body = absl::StrCat("{\"success\":", result.started() ? "true" : "false",
                                  result.started() ? ",\"message\":" : ",\"error\":");
  AppendJsonString(&body, std::string_view(text.data(), text.size()));
  body += ",\"runId\":";
  AppendJsonString(&body, result.run_id());
  absl::StrAppend(&body, ",\"started\":", result.started() ? "true" : "false", ",",
                  TimestampMember(), "}");
  HttpResponse res = JsonOk(std::move(body));
  if (!result.started()) res.status = 409;
  return res;
}

std::string StoresJson(const v1::ListStoresResponse& stores) {
  std::string body = "{\"success\":true,\"stores\":[";
  for (int i = 0; i < stores.stores_size(); ++i) {
    if (i > 0) body += ",";
    body += StoreToJson(stores.stores(i));
  }
  body += "]";
  if (!stores.next_page_token().empty()) {
    body += ",\"nextPageToken\":";
    AppendJsonString(&body, stores.next_page_token());
  }
  absl::StrAppend(&body, ",", TimestampMember(), "}");
  return body;
}

}  // namespace

std::string ActorOf(const JwtClaims& claims, bool dev_mode) {
  if (dev_mode) return "dev";
  return claims.subject.empty() ? "anonymous" : claims.subject;
}

std::string ClientAddressOf(absl::string_view remote_address,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = absl::StrCat("peer=", remote_address);
  if (auto xff = HeaderValue(headers, "x-forwarded-for"); xff.has_value()) {
    absl::StrAppend(&out, " x-forwarded-for=", *xff);
  }
  return out;
}

HttpResponse JsonError(int status, absl::string_view message) {
  HttpResponse res;
  res.status = status;
  res.body = "{\"success\":false,\"error\":\"";
  common::AppendJsonEscaped(res.body, message);
  res.body += "\"}";
  return res;
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
      return 503;
    default:
      return 502;
  }
}

Router::Router(SchedulerClient& scheduler, std::shared_ptr<prometheus::Registry> registry,
               GatewayMetrics& metrics, const Authenticator& auth, const OriginPolicy& origins,
               TriggerLimiter& limiter, RouterOptions options)
    : scheduler_(scheduler),
      registry_(std::move(registry)),
      metrics_(metrics),
      auth_(auth),
      origins_(origins),
      limiter_(limiter),
      options_(std::move(options)) {}

HttpResponse Router::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const absl::string_view path = PathOf(request.target);
  const RouteMatch match = MatchRoute(request.method, path);
  HttpResponse res = Route(request, match);
  // CORS: answer browsers of allowed origins (Vary so caches keep per-origin answers apart).
  const std::optional<absl::string_view> origin = HeaderValue(request.headers, "origin");
  if (origin.has_value() && origins_.Allowed(origin)) {
    res.headers.emplace_back("Access-Control-Allow-Origin",
                             origins_.allows_all() ? std::string("*") : std::string(*origin));
    res.headers.emplace_back("Vary", "Origin");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.ObserveHttp(match.label, res.status, seconds);
  return res;
}

HttpResponse Router::Route(const HttpRequest& request, const RouteMatch& match) {
  const absl::string_view path = PathOf(request.target);
  const absl::string_view query = QueryOf(request.target);
  if (match.id == RouteId::kNotFound) {
    return JsonError(404, absl::StrCat("no route for ", request.method, " ", path));
  }
  const std::optional<absl::string_view> origin = HeaderValue(request.headers, "origin");
  if (request.method == "OPTIONS") {
    if (!origins_.Allowed(origin)) return JsonError(403, "origin not allowed");
    HttpResponse res;
    res.status = 204;
    res.content_type = "text/plain";
    res.headers = {{"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS"},
                   {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                   {"Access-Control-Max-Age", "600"}};
    return res;
  }
  if (!match.allowed_methods.empty()) {
    HttpResponse res =
        JsonError(405, absl::StrCat("use ", match.allowed_methods, " ", match.label));
    res.headers.emplace_back("Allow", match.allowed_methods);
    return res;
  }
  switch (match.id) {
    case RouteId::kHealth:
      return Health();
    case RouteId::kMetrics:
      // Served on --metrics_listen only, so the public port (and the Ingress) never shows it.
      return JsonError(404, "no route for /metrics on this port (see --metrics_listen)");
    case RouteId::kStatic:
      return Static(path);
    case RouteId::kBenchBroadcast:
      if (!options_.bench_endpoints || !bench_handler_) {
        return JsonError(404, "bench endpoints are off (--bench_endpoints)");
      }
      if (request.remote_address != "127.0.0.1" && request.remote_address != "::1") {
        return JsonError(403, "bench endpoints answer loopback callers only");
      }
      return bench_handler_(request);
    default:
      break;
  }

  // /api/: origin, then authentication, then the store id and the claims.
  if (!origins_.Allowed(origin)) return JsonError(403, "origin not allowed");
  absl::StatusOr<JwtClaims> claims =
      auth_.Authenticate(TokenFromRequest(request.headers, request.target), absl::Now());
  if (!claims.ok()) {
    HttpResponse res = ErrorFor(claims.status());
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    return res;
  }
  const std::optional<Role> needed = NeededRole(match.id);
  if (!needed.has_value())
    return JsonError(404, absl::StrCat("no route for ", request.method, " ", path));
  const std::string what = absl::StrCat(request.method, " ", match.label);
  if (absl::Status s = Authorize(*claims, *needed, what); !s.ok()) return ErrorFor(s);
  if (!match.store_id.empty()) {
    if (absl::Status s = common::ValidateStoreId(match.store_id); !s.ok()) return ErrorFor(s);
    if (absl::Status s = Authorize(*claims, *needed, what, match.store_id); !s.ok()) {
      return ErrorFor(s);
    }
  }
  // Every scheduler call below is made for this caller (the audit trail's actor and source).
  const ScopedCaller caller(
      {.actor = ActorOf(*claims, auth_.dev_mode()),
       .client_address = ClientAddressOf(request.remote_address, request.headers)});
  const std::string& store = match.store_id;
  const std::string client = claims->subject.empty() || auth_.dev_mode()
                                 ? absl::StrCat("ip:", request.remote_address)
                                 : absl::StrCat("sub:", claims->subject);
  switch (match.id) {
    case RouteId::kSyncStatus: {
      auto status = scheduler_.GetSyncStatus(store);
      if (!status.ok()) return ErrorFor(status.status());
      std::string body = "{\"success\":true,\"storeId\":";
      AppendJsonString(&body, store);
      absl::StrAppend(&body, ",\"status\":", ProtoToJson(status->status()), ",", TimestampMember(),
                      "}");
      return JsonOk(std::move(body));
    }
    case RouteId::kTriggerSync: {
      auto result = Trigger(store, client, v1::TRIGGER_MANUAL);
      if (!result.ok()) return ErrorFor(result.status());
      // The prototype's texts.
      return TriggerAnswer(*result,
                           result->started()
                               ? absl::StrCat("Manual sync triggered for store: ", store)
                               : absl::StrCat("A sync is already running for store: ", store));
    }
    case RouteId::kStores: {
      auto page_size = PageSize(query);
      if (!page_size.ok()) return ErrorFor(page_size.status());
      if (!claims->AllowsAllStores()) {
        // A token limited to some stores sees only those, all on one page. Filtering the
        // scheduler's pages instead would pass on its next_page_token, which encodes the last
        // store id of the unfiltered page: another tenant's store id (tests/integration/
        // security/auth_test.cc StoresListShowsOnlyTheGrantedStores…).
        auto granted = GrantedStores(scheduler_, *claims);
        if (!granted.ok()) return ErrorFor(granted.status());
        return JsonOk(StoresJson(*granted));
      }
      v1::ListStoresRequest req;
      req.set_page_size(*page_size);
      req.set_page_token(QueryParam(query, "pageToken").value_or(""));
      auto stores = scheduler_.ListStores(req);
      if (!stores.ok()) return ErrorFor(stores.status());
      return JsonOk(StoresJson(*stores));
    }
    case RouteId::kStore: {
      auto got = scheduler_.GetStore(store);
      if (!got.ok()) return StoreError(got.status());
      return StoreOk(*got);
    }
    case RouteId::kCreateStore:
    case RouteId::kReplaceStore:
      return WriteStore(request, match, *claims);
    case RouteId::kAudit:
      return Audit(query);
    case RouteId::kDeleteStore: {
      if (absl::Status s = scheduler_.DeleteStore(store); !s.ok()) return StoreError(s);
      common::LogInfo("store deleted over HTTP", {{"store", store}, {"by", client}});
      std::string body = "{\"success\":true,\"storeId\":";
      AppendJsonString(&body, store);
      absl::StrAppend(&body, ",", TimestampMember(), "}");
      return JsonOk(std::move(body));
    }
    case RouteId::kPauseStore:
    case RouteId::kResumeStore: {
      absl::StatusOr<v1::Store> changed;
      if (match.id == RouteId::kPauseStore) {
        absl::StatusOr<std::string> note = ParsePauseBody(request.body);
        if (!note.ok()) return StoreError(note.status());
        v1::PauseStoreRequest req;
        req.set_store_id(store);
        req.set_note(*note);
        changed = scheduler_.PauseStore(req);
      } else {
        if (absl::Status s = ParseEmptyBody(request.body); !s.ok()) return StoreError(s);
        changed = scheduler_.ResumeStore(store);
      }
      if (!changed.ok()) return StoreError(changed.status());
      common::LogInfo(
          match.id == RouteId::kPauseStore ? "store paused over HTTP" : "store resumed over HTTP",
          {{"store", store}, {"by", client}});
      return StoreOk(*changed);
    }
    case RouteId::kResyncStore:
    case RouteId::kBackfillStore: {
      TriggerOptions options;
      if (match.id == RouteId::kResyncStore) {
        if (absl::Status s = ParseEmptyBody(request.body); !s.ok()) return StoreError(s);
        options.force = true;
      } else {
        auto range = ParseBackfillBody(request.body);
        if (!range.ok()) return StoreError(range.status());
        options.backfill_from = range->first;
        options.backfill_to = range->second;
      }
      auto result = Trigger(store, client, v1::TRIGGER_MANUAL, options);
      if (!result.ok()) return StoreError(result.status());
      return TriggerAnswer(*result, result->message());
    }
    case RouteId::kPreviewSchedule: {
      auto req = ParsePreviewBody(request.body);
      if (!req.ok()) return StoreError(req.status());
      auto fires = scheduler_.PreviewSchedule(*req);
      if (!fires.ok()) return StoreError(fires.status());
      return JsonOk(SuccessJson(*fires, TimestampMember()));
    }
    case RouteId::kMe: {
      std::string body = "{\"success\":true,\"role\":";
      AppendJsonString(&body, std::string(RoleName(claims->role)));
      body += ",\"subject\":";
      AppendJsonString(&body, claims->subject);
      body += ",\"stores\":[";
      for (size_t i = 0; i < claims->stores.size(); ++i) {
        if (i > 0) body += ",";
        AppendJsonString(&body, claims->stores[i]);
      }
      absl::StrAppend(&body, "],\"devMode\":", auth_.dev_mode() ? "true" : "false", ",",
                      TimestampMember(), "}");
      return JsonOk(std::move(body));
    }
    case RouteId::kStoreLtv: {
      auto ltv = scheduler_.GetLtvCohorts(store);
      if (!ltv.ok()) return ErrorFor(ltv.status());
      if (ltv->store_id().empty()) ltv->set_store_id(store);
      return JsonOk(SuccessJson(*ltv, TimestampMember()));
    }
    case RouteId::kStoreRuns: {
      auto page_size = PageSize(query);
      if (!page_size.ok()) return ErrorFor(page_size.status());
      v1::ListRunsRequest req;
      req.set_store_id(store);
      req.set_page_size(*page_size);
      req.set_page_token(QueryParam(query, "pageToken").value_or(""));
      auto runs = scheduler_.ListRuns(req);
      if (!runs.ok()) return ErrorFor(runs.status());
      std::string extra = "\"storeId\":";
      AppendJsonString(&extra, store);
      absl::StrAppend(&extra, ",", TimestampMember());
      return JsonOk(SuccessJson(*runs, extra));
    }
    case RouteId::kStoreQuarantine: {
      auto page_size = PageSize(query);
      if (!page_size.ok()) return ErrorFor(page_size.status());
      v1::ListQuarantineRequest req;
      req.set_store_id(store);
      req.set_page_size(*page_size);
      req.set_page_token(QueryParam(query, "pageToken").value_or(""));
      req.set_kind(QueryParam(query, "kind").value_or(""));
      auto page = scheduler_.ListQuarantine(req);
      if (!page.ok()) return ErrorFor(page.status());
      std::string extra = "\"storeId\":";
      AppendJsonString(&extra, store);
      absl::StrAppend(&extra, ",", TimestampMember());
      return JsonOk(SuccessJson(*page, extra));
    }
    default:
      break;
  }
  return JsonError(404, absl::StrCat("no route for ", request.method, " ", path));
}

absl::StatusOr<v1::TriggerSyncResponse> Router::Trigger(const std::string& store_id,
                                                        absl::string_view client_key,
                                                        v1::Trigger trigger,
                                                        const TriggerOptions& options) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  if (absl::Status s = limiter_.Check(store_id, client_key, absl::Now()); !s.ok()) return s;
  v1::TriggerSyncRequest request;
  request.set_store_id(store_id);
  request.set_trigger(trigger);
  request.set_force(options.force);
  request.set_backfill_from(options.backfill_from);
  request.set_backfill_to(options.backfill_to);
  auto response = scheduler_.TriggerSync(request);
  if (response.ok()) {
    common::LogInfo("manual trigger", {{"store", store_id},
                                       {"run", response->run_id()},
                                       {"started", response->started() ? "true" : "false"}});
  }
  return response;
}

HttpResponse Router::Health() {
  HttpResponse res;
  const absl::Status upstream = scheduler_.CheckHealth();
  const std::string auth = auth_.HealthMembers();
  if (upstream.ok()) {
    res.status = 200;
    res.body = absl::StrCat("{\"status\":\"ok\",\"scheduler\":\"SERVING\",", auth, ",",
                            TimestampMember(), "}");
  } else {
    res.status = 503;
    res.body = "{\"status\":\"unavailable\",\"reason\":\"";
    common::AppendJsonEscaped(res.body, upstream.message());
    absl::StrAppend(&res.body, "\",", auth, ",", TimestampMember(), "}");
  }
  return res;
}

HttpResponse Router::Static(absl::string_view path) {
  if (options_.web_root.empty()) return JsonError(404, "no web root configured (--web_root)");
  std::string rel(path.substr(1));
  if (rel.empty() || absl::EndsWith(rel, "/")) rel += "index.html";
  // Only plain relative names: no parent segments, hidden files, escapes or control bytes.
  for (absl::string_view segment : absl::StrSplit(rel, '/')) {
    if (segment.empty() || segment[0] == '.') return JsonError(404, "not found");
  }
  for (char c : rel) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == '%') {
      return JsonError(404, "not found");
    }
  }
  const std::string file = absl::StrCat(options_.web_root, "/", rel);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return JsonError(404, absl::StrCat("no file ", path));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return JsonError(404, absl::StrCat("no file ", path));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return JsonError(404, absl::StrCat("no file ", path));
  HttpResponse res;
  res.content_type = std::string(ContentTypeFor(rel));
  res.body = content.str();
  res.headers.emplace_back("Cache-Control", "no-cache");
  return res;
}

}  // namespace autosync::gateway
