// Fuzzes the gateway's HTTP request parsing (ws-gateway/route_match.h) and the store-id check
// every route applies (common/ids.h): method + request target -> route, path/query split, query
// parameters, bearer tokens. Invariants: the target splits losslessly; a matched route's
// :storeId is one non-empty path segment that rebuilds the path; OPTIONS and allowed methods
// never carry allowed_methods; a parameter value re-encodes to itself and the first occurrence
// wins; a bearer token is trimmed and non-empty; an accepted store id is in the documented set.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "ws-gateway/route_match.h"

namespace {

namespace gw = autosync::gateway;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "route invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

constexpr std::array<const char*, 7> kMethods = {"GET", "HEAD",   "POST", "OPTIONS",
                                                 "PUT", "DELETE", "get"};
// Every parameter the gateway reads from a query string.
constexpr std::array<const char*, 6> kParams = {"token", "EIO",      "transport",
                                                "sid",   "pageSize", "pageToken"};

// Form-style encoding that QueryParam must read back: unreserved bytes as is, the rest %XX.
std::string FormEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

bool IsRead(absl::string_view method) { return method == "GET" || method == "HEAD"; }

void CheckRoute(absl::string_view method, absl::string_view path) {
  const gw::RouteMatch match = gw::MatchRoute(method, path);
  if (match.label.empty()) Fail("empty metrics label", path);
  if (method == "OPTIONS" && !match.allowed_methods.empty()) Fail("OPTIONS got 405", path);
  std::string rebuilt;
  switch (match.id) {
    case gw::RouteId::kSyncStatus:
      rebuilt = absl::StrCat("/api/sync/status/", match.store_id);
      break;
    case gw::RouteId::kTriggerSync:
      rebuilt = absl::StrCat("/api/test/trigger-sync/", match.store_id);
      if (method == "POST" && !match.allowed_methods.empty()) Fail("POST refused", path);
      break;
    case gw::RouteId::kStoreLtv:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/ltv");
      break;
    case gw::RouteId::kStoreRuns:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/runs");
      break;
    case gw::RouteId::kStoreQuarantine:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/quarantine");
      break;
    case gw::RouteId::kStore:
    case gw::RouteId::kReplaceStore:
    case gw::RouteId::kDeleteStore:
      rebuilt = absl::StrCat("/api/stores/", match.store_id);
      if (match.allowed_methods.empty() && method != "OPTIONS" &&
          !(IsRead(method) || method == "PUT" || method == "DELETE")) {
        Fail("a store route took a method it does not serve", path);
      }
      break;
    case gw::RouteId::kPauseStore:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/pause");
      break;
    case gw::RouteId::kResumeStore:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/resume");
      break;
    case gw::RouteId::kResyncStore:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/resync");
      break;
    case gw::RouteId::kBackfillStore:
      rebuilt = absl::StrCat("/api/stores/", match.store_id, "/backfill");
      break;
    case gw::RouteId::kStatic:
      if (!IsRead(method)) Fail("static route for a non-read method", path);
      if (!absl::StartsWith(path, "/") || absl::StartsWith(path, "/api/") || path == "/api") {
        Fail("static route outside /", path);
      }
      break;
    case gw::RouteId::kNotFound:
      if (!match.allowed_methods.empty()) Fail("405 on an unknown path", path);
      break;
    default:
      break;
  }
  if (!rebuilt.empty()) {
    if (match.store_id.empty() || absl::StrContains(match.store_id, '/')) {
      Fail("storeId is not one non-empty segment", path);
    }
    if (rebuilt != path) Fail("storeId does not rebuild the path", path);
    const bool post_only =
        match.id == gw::RouteId::kTriggerSync || match.id == gw::RouteId::kPauseStore ||
        match.id == gw::RouteId::kResumeStore || match.id == gw::RouteId::kResyncStore ||
        match.id == gw::RouteId::kBackfillStore;
    if (post_only && method == "POST" && !match.allowed_methods.empty()) Fail("POST refused", path);
    if (IsRead(method) && !post_only && !match.allowed_methods.empty()) {
      Fail("GET refused on a read route", path);
    }
  } else if (!match.store_id.empty()) {
    Fail("storeId on a route without one", path);
  }
}

void CheckQuery(absl::string_view query) {
  for (const char* name : kParams) {
    const std::optional<std::string> value = gw::QueryParam(query, name);
    const std::optional<std::string> with_later =
        gw::QueryParam(absl::StrCat(query, "&", name, "=zzz"), name);
    if (value.has_value()) {
      if (with_later != value) Fail("a later parameter overrode the first", query);
      const std::optional<std::string> again =
          gw::QueryParam(absl::StrCat(name, "=", FormEncode(*value)), name);
      if (again != value) Fail("parameter value does not re-encode to itself", query);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string method =
      in.ConsumeBool()
          ? std::string(kMethods[in.ConsumeIntegralInRange<size_t>(0, kMethods.size() - 1)])
          : in.ConsumeRandomLengthString(10);
  const std::string authorization = in.ConsumeRandomLengthString(200);
  const std::string target = in.ConsumeRemainingBytesAsString();

  const absl::string_view path = gw::PathOf(target);
  const absl::string_view query = gw::QueryOf(target);
  const bool has_query = absl::StrContains(target, '?');
  if (absl::StrContains(path, '?')) Fail("path keeps a '?'", target);
  if ((has_query ? absl::StrCat(path, "?", query) : std::string(path)) != target) {
    Fail("PathOf/QueryOf lose bytes", target);
  }
  CheckRoute(method, path);
  CheckQuery(query);

  const std::optional<std::string> token = gw::BearerToken(authorization);
  if (token.has_value()) {
    if (token->empty()) Fail("empty bearer token", authorization);
    if (absl::ascii_isspace(static_cast<unsigned char>(token->front())) ||
        absl::ascii_isspace(static_cast<unsigned char>(token->back()))) {
      Fail("bearer token not trimmed", authorization);
    }
    if (gw::BearerToken(absl::StrCat("Bearer ", *token)) != token)
      Fail("bearer round trip", *token);
  }
  for (const absl::string_view id : {path.substr(path.rfind('/') + 1), absl::string_view(target)}) {
    if (!autosync::common::ValidateStoreId(id).ok()) continue;
    if (id.empty() || id.size() > 63) Fail("store id length", id);
    for (const char c : id) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
        Fail("store id character", id);
      }
    }
    if (id.front() == '_' || id.front() == '-') Fail("store id first character", id);
  }
  return 0;
}
