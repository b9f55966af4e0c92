// Shopify's GraphQL Admin API `orders` connection over a StoreData: cursors, the order node
// rendering, the calculated query cost bucket and the answer to one request (the request itself
// is read by graphql_request.h). Same data, filters and keyset paging as the REST listing
// (orders_query.h), so a connector gets exactly the same orders through either API. Pure
// functions, no I/O; the Simulator adds the route, auth, fault switches and the clock. Bulk
// operations on the same endpoint (told apart by the query text) are graphql_bulk.h's.
//
//   POST /shops/{store}/admin/api/{YYYY-MM}/graphql.json       X-Shopify-Access-Token as REST
//   {"query": "query($first: Int!, $after: String, $query: String) {
//                orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
//                  pageInfo { hasNextPage endCursor } nodes { id … } } }",
//    "variables": {"first": 250, "after": null, "query": "updated_at:>='2024-01-01T00:00:00Z'"}}
//
// Every order matches regardless of status (no REST-style status=open default), sorted by
// updatedAt then id. `after` continues after that cursor's position under this request's own
// `query`, as on Shopify: pass the same query on every page. The selection set is not read:
// every node has the members AppendGraphqlOrderNode lists, and the connection has exactly
// {"pageInfo":{"hasNextPage","endCursor"},"nodes"}.
//
// Answers (AnswerGraphqlOrders): HTTP 400 {"errors":"…"} when the body is not a JSON object with
// a string "query"; otherwise HTTP 200 with either
//   {"data":{"orders":{…}},"extensions":{"cost":{…}}} or
//   {"errors":[{"message":"…","extensions":{"code":"…"}}]…}, codes:
//   UNSUPPORTED_QUERY  the query is not one orders connection the sim can answer;
//   BAD_USER_INPUT     a bad argument, variable, search term or cursor (the message names it);
//   MAX_COST_EXCEEDED  requestedQueryCost is above the bucket's maximumAvailable;
//   THROTTLED          too few points available now; nothing is charged, and the answer has
//                      extensions.cost with "actualQueryCost":null.
//
// Query cost (Shopify's calculated cost, simplified): requestedQueryCost = 2 + first (one point
// per requested node plus two for the query root and the connection); actualQueryCost = 2 +
// nodes returned. The requested points are reserved before running and requested − actual is
// refunded after, as Shopify does; "currentlyAvailable" is reported after the refund.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/store-sim/graphql_request.h"
#include "tools/store-sim/orders_query.h"
#include "tools/store-sim/store_data.h"

namespace autosync::storesim {

// requestedQueryCost = kGraphqlBaseCost + first; actualQueryCost = kGraphqlBaseCost + nodes.
inline constexpr int64_t kGraphqlBaseCost = 2;

// Cursors: EncodePageInfo of the position after the node, under the scope "graphql:<store>" so
// that REST page_info values (and other stores' cursors) are refused. Decode errors are
// InvalidArgument naming `after`.
std::string EncodeGraphqlCursor(const Order& last, uint64_t secret, absl::string_view store_id);
absl::StatusOr<SortKey> DecodeGraphqlCursor(absl::string_view after, uint64_t secret,
                                            absl::string_view store_id);

// Appends one order node, from the same Order the REST JSON renders:
//   {"id":"gid://shopify/Order/<id>","name","email" (null when empty),"createdAt","updatedAt",
//    "processedAt" (= createdAt, as in REST),"cancelledAt" (null when not cancelled),"test",
//    "displayFinancialStatus" (REST financial_status upper-cased),"currencyCode":"USD",
//    "totalPriceSet","subtotalPriceSet","totalTaxSet","totalDiscountsSet","currentTotalPriceSet",
//    "totalRefundedSet" (the sum of the REST refunds' successful transactions),
//    "customer":{"id":"gid://shopify/Customer/<id>"} or null}
// Times are UTC with a Z (GraphQL DateTime); money sets are
// {"shopMoney":{"amount":"12.34","currencyCode":"USD"}}.
void AppendGraphqlOrderNode(std::string& out, const StoreData& data, const Order& o);
// The same node's members without the braces; `total_refunded` false leaves totalRefundedSet
// out (a bulk operation's line carries the refunds themselves, graphql_bulk.h). Reads only the
// store's spec, never its orders, so it may run beside a live step on another thread.
void AppendGraphqlOrderMembers(std::string& out, const StoreData& data, const Order& o,
                               bool total_refunded);

// The per-store calculated-cost bucket: holds up to `maximum` points, restores `restore_rate`
// points per second up to the maximum; restore_rate 0 means unlimited (never throttles, always
// full), like --leak_per_second=0 for REST. Time is passed in. Not thread-safe; the Simulator
// locks. A value type.
class QueryCostBucket final {
 public:
  QueryCostBucket(int64_t maximum, double restore_rate);

  // Restores points for the time since the previous call (the first call starts full), then
  // takes `points` if that many are available. false: too few, nothing taken.
  bool TryReserve(int64_t points, absl::Time now);
  // Gives back reserved points that were not used (capped at the maximum).
  void Refund(int64_t points);

  int64_t maximum() const { return maximum_; }
  double restore_rate() const { return restore_rate_; }
  // Whole points available now (Shopify reports an integer).
  int64_t currently_available() const;

 private:
  int64_t maximum_;
  double restore_rate_;
  double available_;
  absl::Time at_ = absl::InfinitePast();
};

// Appends {"requestedQueryCost":R,"actualQueryCost":A|null,"throttleStatus":{…}}.
void AppendQueryCostJson(std::string& out, int64_t requested, std::optional<int64_t> actual,
                         const QueryCostBucket& bucket);

// The THROTTLED answer for a request of `requested` points: errors plus extensions.cost with
// "actualQueryCost":null (nothing is charged).
std::string GraphqlThrottledJson(int64_t requested, const QueryCostBucket& bucket);

struct GraphqlOptions {
  uint64_t cursor_secret = 0;
  // false: only orders created in the last 60 days exist (as for REST without the scope).
  bool read_all_orders = true;
};
struct GraphqlAnswer {
  int http_status = 200;
  std::string body;
  bool data_page = false;  // a page of orders (page faults apply), not an error
};
// Answers one request body for one store: parse, cost check, run, render (see the top).
GraphqlAnswer AnswerGraphqlOrders(absl::string_view body, const StoreData& data,
                                  QueryCostBucket& bucket, absl::Time now,
                                  const GraphqlOptions& options);

}  // namespace autosync::storesim
