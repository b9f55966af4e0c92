// Simulator's Shopify routes: REST orders (pages, counts, events) and GraphQL orders and bulk
// operations, with the store's auth, rate buckets, fault switches and clock.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/graphql_orders.h"
#include "tools/store-sim/meta_insights.h"
#include "tools/store-sim/orders_query.h"
#include "tools/store-sim/rng.h"
#include "tools/store-sim/simulator_internal.h"

namespace autosync::storesim {

// ---------------------------------------------------------------------------------------------
// Shopify orders

Response Simulator::HandleOrders(const Request& request, const ParsedTarget& target,
                                 StoreState& store, const std::string& version, OrdersRoute route) {
  const bool count_only = route == OrdersRoute::kCount;
  const std::string limit_header_name = "X-Shopify-Shop-Api-Call-Limit";
  auto with_limit = [&](Response r) {
    int64_t shown = config_.leak_per_second > 0
                        ? std::min<int64_t>(config_.bucket_size,
                                            static_cast<int64_t>(std::ceil(store.bucket_level)))
                        : 1;
    r.SetHeader(limit_header_name, absl::StrCat(shown, "/", config_.bucket_size));
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    return r;
  };
  auto too_many = [&] {
    Response r =
        JsonResponse(429, ShopifyError("Exceeded 2 calls per second for api client. Reduce "
                                       "request rates to resume uninterrupted service."));
    r.SetHeader("Retry-After", "2.0");
    r = with_limit(std::move(r));
    r.SetHeader(limit_header_name, absl::StrCat(config_.bucket_size, "/", config_.bucket_size));
    return r;
  };

  auto token = request.Header("X-Shopify-Access-Token");
  if (!token || *token != config_.access_token) {
    return with_limit(JsonResponse(401, ShopifyError(kInvalidTokenMessage)));
  }
  if (faults_.TakeBurst429()) return too_many();
  if (int code = faults_.Next5xx(); code != 0) {
    return with_limit(JsonResponse(
        code, ShopifyError(code == 500 ? "Internal Server Error" : "Service Unavailable")));
  }
  // Leaky bucket: the level drains at leak_per_second; a request that would overflow is refused
  // and does not count.
  if (config_.leak_per_second > 0) {
    absl::Time now = clock_->Now();
    if (store.bucket_at != absl::InfinitePast()) {
      double elapsed = absl::ToDoubleSeconds(now - store.bucket_at);
      store.bucket_level =
          std::max(0.0, store.bucket_level - std::max(0.0, elapsed) * config_.leak_per_second);
    }
    store.bucket_at = now;
    if (store.bucket_level + 1.0 > static_cast<double>(config_.bucket_size) + 1e-9)
      return too_many();
    store.bucket_level += 1.0;
  }

  const StoreData& data = store.data;
  if (route == OrdersRoute::kEvents) return with_limit(OrderEvents(request, target, data, version));
  if (target.Has("page")) {
    return with_limit(
        JsonResponse(400, ShopifyParamError("page",
                                            "page cannot be passed; use cursor-based pagination "
                                            "(the page_info parameter from the Link header).")));
  }
  int limit = kDefaultOrdersLimit;
  if (auto v = target.Get("limit")) {
    if (!absl::SimpleAtoi(*v, &limit) || limit < 1 || limit > kMaxOrdersLimit) {
      return with_limit(JsonResponse(
          400, ShopifyParamError("limit", "limit must be an integer between 1 and 250")));
    }
  }
  std::vector<std::string> fields;
  std::string fields_raw;
  if (auto v = target.Get("fields")) {
    fields_raw = *v;
    fields = absl::StrSplit(*v, ',', absl::SkipWhitespace());
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
  }

  OrdersQuery query;
  PageCursor cursor;
  bool have_cursor = false;
  if (auto page_info = target.Get("page_info"); page_info && !count_only) {
    for (const QueryParam& p : target.params) {
      if (p.key != "page_info" && p.key != "limit" && p.key != "fields") {
        return with_limit(JsonResponse(
            400, ShopifyParamError("page_info",
                                   absl::StrCat("page_info cannot be combined with '", p.key,
                                                "': only limit and fields may be "
                                                "added to a page_info request"))));
      }
    }
    auto decoded = DecodePageInfo(*page_info, cursor_secret_, data.spec().id);
    if (!decoded.ok()) {
      return with_limit(
          JsonResponse(400, ShopifyParamError("page_info", decoded.status().message())));
    }
    cursor = *std::move(decoded);
    query = cursor.query;
    have_cursor = true;
  } else {
    std::vector<ParsedParam> params;
    for (const QueryParam& p : target.params) params.push_back({p.key, p.value});
    auto parsed = ParseOrdersQuery(params, data.spec().utc_offset_minutes);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      std::string param(msg.substr(0, msg.find(':')));
      return with_limit(JsonResponse(400, ShopifyParamError(param, msg)));
    }
    query = *std::move(parsed);
  }

  if (!config_.read_all_orders) query = WithoutOldOrders(std::move(query), data.now());
  if (count_only) {
    return with_limit(
        JsonResponse(200, absl::StrCat("{\"count\":", CountOrders(data, query), "}")));
  }

  OrdersPage page = RunOrdersQuery(data, query, limit, have_cursor ? &cursor : nullptr);
  std::string body = "{\"orders\":[";
  body.reserve(page.positions.size() * 700 + 32);
  for (size_t i = 0; i < page.positions.size(); ++i) {
    if (i > 0) body += ",";
    AppendOrderJson(body, data, data.orders()[page.positions[i]], fields);
  }
  body += "]}";
  Response r = with_limit(JsonResponse(200, std::move(body)));

  // Link header, built on the request's own base URL (Shopify echoes limit and fields).
  if (!page.positions.empty() && (page.has_next || page.has_previous)) {
    std::string base = absl::StrCat("http://", HostOf(request), "/shops/", data.spec().id,
                                    "/admin/api/", version, "/orders.json?limit=", limit);
    if (!fields_raw.empty()) absl::StrAppend(&base, "&fields=", UrlEncode(fields_raw));
    std::vector<std::string> links;
    if (page.has_previous) {
      PageCursor prev{query, /*backward=*/true,
                      KeyOf(data.orders()[page.positions.front()], query.sort)};
      links.push_back(absl::StrCat(
          "<", base, "&page_info=", EncodePageInfo(prev, cursor_secret_, data.spec().id),
          ">; rel=\"previous\""));
    }
    if (page.has_next) {
      PageCursor next{query, /*backward=*/false,
                      KeyOf(data.orders()[page.positions.back()], query.sort)};
      links.push_back(absl::StrCat(
          "<", base, "&page_info=", EncodePageInfo(next, cursor_secret_, data.spec().id),
          ">; rel=\"next\""));
    }
    r.SetHeader("Link", absl::StrJoin(links, ", "));
  }

  ApplyPageFault(faults_.NextPage(), "{\"orders\":[{\"id\":,\"name\":\"#\x01\"}]]garbage", r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Shopify GraphQL orders (graphql_orders.h holds the API; here: auth, faults, the clock)

Response Simulator::HandleGraphql(const Request& request, StoreState& store) {
  auto with_latency = [&](Response r) {
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    return r;
  };
  auto token = request.Header("X-Shopify-Access-Token");
  if (!token || *token != config_.access_token) {
    return with_latency(JsonResponse(401, ShopifyError(kInvalidTokenMessage)));
  }
  // The same fault switches as the REST orders route, in the same order.
  if (faults_.TakeBurst429()) {
    Response r = JsonResponse(429, ShopifyError("Too many requests; retry after 2 seconds."));
    r.SetHeader("Retry-After", "2.0");
    return with_latency(std::move(r));
  }
  if (int code = faults_.Next5xx(); code != 0) {
    return with_latency(JsonResponse(
        code, ShopifyError(code == 500 ? "Internal Server Error" : "Service Unavailable")));
  }
  auto body = ParseGraphqlBody(request.body);
  const BulkRequestKind bulk_kind =
      body.ok() ? ClassifyBulkRequest(body->query) : BulkRequestKind::kNone;
  if (bulk_kind != BulkRequestKind::kNone) {
    BulkContext context{store.data,
                        bulk_,
                        store.graphql_bucket,
                        faults_,
                        clock_->Now(),
                        HostOf(request),
                        config_.read_all_orders,
                        [this](std::shared_ptr<BulkJob> job) { StartBulkJob(std::move(job)); }};
    GraphqlAnswer answer = AnswerBulkRequest(*body, bulk_kind, context);
    return with_latency(JsonResponse(answer.http_status, std::move(answer.body)));
  }
  GraphqlAnswer answer =
      AnswerGraphqlOrders(request.body, store.data, store.graphql_bucket, clock_->Now(),
                          GraphqlOptions{cursor_secret_, config_.read_all_orders});
  Response r = with_latency(JsonResponse(answer.http_status, std::move(answer.body)));
  if (answer.data_page) {
    ApplyPageFault(faults_.NextPage(), "{\"data\":{\"orders\":{\"nodes\":[{\"id\":,}]]}garbage", r);
  }
  return r;
}

Response Simulator::OrderEvents(const Request& request, const ParsedTarget& target,
                                const StoreData& data, const std::string& version) {
  // Only deletions are recorded: filter=Order&verb=destroy (or no filter) lists them; other
  // filters or verbs match nothing. Paging: page_info with rel="next" (ascending id).
  int limit = kDefaultOrdersLimit;
  if (auto v = target.Get("limit")) {
    if (!absl::SimpleAtoi(*v, &limit) || limit < 1 || limit > kMaxOrdersLimit) {
      return JsonResponse(400,
                          ShopifyParamError("limit", "limit must be an integer between 1 and 250"));
    }
  }
  const std::string cursor_scope = absl::StrCat("events:", data.spec().id);
  OrdersQuery query;
  int64_t after_id = INT64_MIN;
  bool matches_nothing = false;
  if (auto page_info = target.Get("page_info")) {
    for (const QueryParam& p : target.params) {
      if (p.key != "page_info" && p.key != "limit" && p.key != "fields") {
        return JsonResponse(
            400, ShopifyParamError(
                     "page_info", absl::StrCat("page_info cannot be combined with '", p.key, "'")));
      }
    }
    auto decoded = DecodePageInfo(*page_info, cursor_secret_, cursor_scope);
    if (!decoded.ok())
      return JsonResponse(400, ShopifyParamError("page_info", decoded.status().message()));
    query = decoded->query;
    after_id = decoded->key.id;
  } else {
    if (target.Has("page")) {
      return JsonResponse(400, ShopifyParamError("page", "page cannot be passed; use page_info"));
    }
    if (auto f = target.Get("filter"); f && !absl::StrContains(*f, "Order")) matches_nothing = true;
    if (auto v = target.Get("verb"); v && *v != "destroy") matches_nothing = true;
    std::vector<ParsedParam> params;
    for (const QueryParam& p : target.params) {
      if (p.key == "created_at_min" || p.key == "created_at_max" || p.key == "since_id") {
        params.push_back({p.key, p.value});
      }
    }
    auto parsed = ParseOrdersQuery(params, data.spec().utc_offset_minutes);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      return JsonResponse(400, ShopifyParamError(msg.substr(0, msg.find(':')), msg));
    }
    query = *std::move(parsed);
  }
  std::vector<const StoreData::DeletionEvent*> page;
  bool more = false;
  if (!matches_nothing) {
    for (const auto& e : data.events()) {
      if (e.id <= after_id || (query.since_id && e.id <= *query.since_id) ||
          (query.created_min && e.created_at < *query.created_min) ||
          (query.created_max && e.created_at > *query.created_max)) {
        continue;
      }
      if (static_cast<int>(page.size()) == limit) {
        more = true;
        break;
      }
      page.push_back(&e);
    }
  }
  const int off = data.spec().utc_offset_minutes;
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < page.size(); ++i) {
    const auto& e = *page[i];
    if (i > 0) body += ",";
    absl::StrAppend(&body, "{\"id\":", e.id, ",\"subject_id\":", e.order_id, ",\"created_at\":\"",
                    FormatShopifyTime(e.created_at, off),
                    "\",\"subject_type\":\"Order\",\"verb\":\"destroy\",\"arguments\":[\"#",
                    e.order_number, "\"],\"body\":null,\"message\":\"Order #", e.order_number,
                    " was deleted.\",\"author\":\"store-sim\",\"description\":\"Order #",
                    e.order_number, " was deleted.\",\"path\":\"/admin/orders/", e.order_id, "\"}");
  }
  body += "]}";
  Response r = JsonResponse(200, std::move(body));
  if (more) {
    PageCursor next{query, /*backward=*/false, SortKey{page.back()->id, page.back()->id}};
    r.SetHeader("Link",
                absl::StrCat("<http://", HostOf(request), "/shops/", data.spec().id, "/admin/api/",
                             version, "/events.json?limit=", limit,
                             "&page_info=", EncodePageInfo(next, cursor_secret_, cursor_scope),
                             ">; rel=\"next\""));
  }
  return r;
}

}  // namespace autosync::storesim
