// Shopify's GraphQL Admin API `orders` connection (issue 18): the query the connector sends and
// its answer parsed into the same Order rows the REST page gives (orders_page.h), plus the page
// info, the query cost and the errors. The fields read are the ones the tables need:
// `gid://shopify/Order/<id>` ids, createdAt/updatedAt/processedAt/cancelledAt, test,
// displayFinancialStatus (lower-cased: REST's financial_status), currencyCode and the
// `…Set.shopMoney.amount` money (the shop's currency, not the presentment one), totalRefundedSet
// (REST: the successful refund transactions summed) and customer { id }. Pure logic.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "simdjson.h"
#include "sync-worker/connectors/orders_page.h"

namespace autosync::worker {

// The query document: orders sorted by UPDATED_AT, `first` ($first), after ($after), filtered by
// ($query), each node with the fields above and the connection's pageInfo.
absl::string_view GraphqlOrdersQuery();
// The order node fields every orders query reads (GraphqlOrdersQuery adds totalRefundedSet, the
// bulk query the refunds' transactions).
absl::string_view GraphqlOrderFields();

// The request body: {"query": GraphqlOrdersQuery(), "variables": {"first", "after", "query"}}
// with `query` = "updated_at:>='<updated_min, RFC 3339 UTC>'" (and created_at bounds for a
// backfill, both inclusive). `after` empty: the first page.
struct GraphqlOrdersRequest {
  absl::Time updated_min;
  int first = 250;
  std::string after;
  std::optional<absl::Time> created_min;
  std::optional<absl::Time> created_max;
};
std::string GraphqlOrdersBody(const GraphqlOrdersRequest& request);
// The search filter of a request: "updated_at:>='…'" plus the created_at bounds, if any.
std::string GraphqlOrdersFilter(const GraphqlOrdersRequest& request);

// `extensions.cost` (Shopify's calculated query cost).
struct GraphqlCost {
  double requested = 0;
  double actual = 0;
  double maximum_available = 0;
  double currently_available = 0;
  double restore_rate = 0;  // points per second
};

// What every GraphQL answer has besides its data: the cost and the errors.
struct GraphqlEnvelope {
  std::optional<GraphqlCost> cost;
  // An `errors` entry with extensions.code THROTTLED: the cost bucket was too low; nothing ran.
  bool throttled = false;
  // The messages (and codes) of every other `errors` entry; the data is not used when present.
  std::vector<std::string> errors;
};
// Reads `extensions.cost` and `errors` of an answer's root object; INVALID_ARGUMENT naming the
// path when they have the wrong shape.
absl::StatusOr<GraphqlEnvelope> ParseGraphqlEnvelope(simdjson::dom::object root);

struct GraphqlOrdersAnswer : GraphqlEnvelope {
  std::vector<Order> orders;
  bool has_next_page = false;
  std::string end_cursor;
};

// DATA_LOSS when the body is not complete JSON; INVALID_ARGUMENT naming the path
// ("data.orders.nodes[3].totalPriceSet.shopMoney.amount: …") when it has the wrong shape.
// With a `screen`, an order breaking a business rule is quarantined instead (record_rules.h).
absl::StatusOr<GraphqlOrdersAnswer> ParseGraphqlOrders(absl::string_view body,
                                                       const RecordScreen* screen = nullptr);

// One order node (an element of data.orders.nodes, or a bulk operation's order line), `path`
// naming it in messages. Its refunded amount is totalRefundedSet (0 when absent).
absl::StatusOr<Order> ParseGraphqlOrderNode(simdjson::dom::element node, absl::string_view path);

// `<key> { shopMoney { amount } }` of `node` in cents; nullopt when the set is absent or null.
absl::StatusOr<std::optional<int64_t>> ParseShopMoney(simdjson::dom::object node,
                                                      absl::string_view key,
                                                      absl::string_view path);

// The numeric id of a global id of `type` ("gid://shopify/Order/123", "Order" -> 123).
absl::StatusOr<int64_t> ParseGid(absl::string_view gid, absl::string_view type,
                                 absl::string_view field_path);

}  // namespace autosync::worker
