#include <algorithm>
#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/ids.h"
#include "common/log.h"
#include "ws-gateway/access.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/route_responses.h"
#include "ws-gateway/routes.h"
#include "ws-gateway/store_json.h"

// The admin routes' handlers of Router (routes.h): store writes and the audit log.
namespace autosync::gateway {
namespace v1 = autosync::v1;

HttpResponse Router::WriteStore(const HttpRequest& request, const RouteMatch& match,
                                const JwtClaims& claims) {
  const bool create = match.id == RouteId::kCreateStore;
  absl::StatusOr<StoreBody> body = ParseStoreBody(request.body);
  if (!body.ok()) return StoreError(body.status());
  v1::UpsertStoreRequest req;
  *req.mutable_store() = body->store;
  if (create) {
    if (!body->has_store_id) {
      return StoreError(absl::InvalidArgumentError("storeId: is required"));
    }
    if (absl::Status s = common::ValidateStoreId(body->store.store_id()); !s.ok()) {
      return StoreError(absl::InvalidArgumentError(absl::StrCat("storeId: ", s.message())));
    }
    // The new store's id comes from the body: the same check as a path's store id.
    if (absl::Status s = Authorize(claims, *NeededRole(RouteId::kCreateStore), "POST /api/stores",
                                   body->store.store_id());
        !s.ok()) {
      return StoreError(s);
    }
    req.set_create_only(true);
  } else {
    if (body->has_store_id && body->store.store_id() != match.store_id) {
      return StoreError(absl::InvalidArgumentError(
          "storeId: does not match the store in the path (a store id cannot change)"));
    }
    if (body->version <= 0) {
      return StoreError(
          absl::InvalidArgumentError("version: is required (send the version GET returned)"));
    }
    req.mutable_store()->set_store_id(match.store_id);
    req.set_expected_version(body->version);
  }
  absl::StatusOr<v1::UpsertStoreResponse> written = scheduler_.UpsertStore(req);
  if (!written.ok()) {
    // A conflict answers with the store as it is now, so the caller can reapply its change.
    const absl::StatusCode code = written.status().code();
    if (code == absl::StatusCode::kAlreadyExists || code == absl::StatusCode::kAborted) {
      absl::StatusOr<v1::Store> current = scheduler_.GetStore(req.store().store_id());
      if (current.ok()) return StoreError(written.status(), &*current);
    }
    return StoreError(written.status());
  }
  common::LogInfo(create ? "store created over HTTP" : "store replaced over HTTP",
                  {{"store", written->store().store_id()},
                   {"version", absl::StrCat(written->store().version())},
                   {"by", claims.subject}});
  return StoreOk(written->store(), create ? 201 : 200);
}

HttpResponse Router::Audit(absl::string_view query) {
  v1::ListAuditRequest req;
  req.set_page_size(100);
  if (auto store = QueryParam(query, "storeId"); store.has_value() && !store->empty()) {
    if (absl::Status s = common::ValidateStoreId(*store); !s.ok()) {
      return JsonError(400, absl::StrCat("storeId: ", s.message()));
    }
    req.set_store_id(*store);
  }
  if (auto action = QueryParam(query, "action"); action.has_value() && !action->empty()) {
    const bool ok = action->size() <= 64 && std::all_of(action->begin(), action->end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || c == '_' || c == '.';
                    });
    if (!ok) return JsonError(400, "action: must be an action name such as store.create");
    req.set_action(*action);
  }
  if (auto limit = QueryParam(query, "limit"); limit.has_value()) {
    int value = 0;
    if (!absl::SimpleAtoi(*limit, &value) || value < 1 || value > 500) {
      return JsonError(400, "limit: must be an integer between 1 and 500");
    }
    req.set_page_size(value);
  }
  if (auto before = QueryParam(query, "before"); before.has_value()) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(*before, &value) || value < 1) {
      return JsonError(400, "before: must be a positive entry id (the nextBefore of a page)");
    }
    req.set_page_token(absl::StrCat(value));
  }
  auto page = scheduler_.ListAudit(req);
  if (!page.ok()) return ErrorFor(page.status());
  std::string body = "{\"success\":true,\"entries\":[";
  for (int i = 0; i < page->entries_size(); ++i) {
    const v1::AuditEntry& e = page->entries(i);
    if (i > 0) body += ",";
    absl::StrAppend(&body, "{\"id\":", e.id(), ",\"at\":");
    const absl::Time at =
        absl::FromUnixSeconds(e.at().seconds()) + absl::Nanoseconds(e.at().nanos());
    AppendJsonString(&body, absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone()));
    body += ",\"actor\":";
    AppendJsonString(&body, e.actor());
    body += ",\"action\":";
    AppendJsonString(&body, e.action());
    body += ",\"storeId\":";
    if (e.store_id().empty()) {
      body += "null";
    } else {
      AppendJsonString(&body, e.store_id());
    }
    // The scheduler's jsonb column, serialized by PostgreSQL: a JSON object.
    absl::StrAppend(&body, ",\"detail\":", e.detail_json().empty() ? "{}" : e.detail_json(),
                    ",\"source\":");
    AppendJsonString(&body, e.source());
    body += "}";
  }
  int64_t next = 0;
  if (!page->next_page_token().empty() && !absl::SimpleAtoi(page->next_page_token(), &next)) {
    return JsonError(502, "the scheduler answered a malformed audit page token");
  }
  absl::StrAppend(&body, "],\"nextBefore\":", next > 0 ? absl::StrCat(next) : "null");
  absl::StrAppend(&body, ",", TimestampMember(), "}");
  return JsonOk(std::move(body));
}

}  // namespace autosync::gateway
