#include "sync-worker/connectors/graphql_orders.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "simdjson.h"
#include "sync-worker/connectors/json_util.h"
#include "sync-worker/connectors/record_rules.h"

namespace autosync::worker {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// The order fields both the paged connection and a bulk operation read; the refunded amount is
// asked for separately (totalRefundedSet here, the refunds' transactions in bulk_orders.cc).
constexpr char kOrderFields[] =
    "id name email createdAt updatedAt processedAt cancelledAt test displayFinancialStatus "
    "currencyCode totalPriceSet { shopMoney { amount currencyCode } } "
    "subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } "
    "totalDiscountsSet { shopMoney { amount } } currentTotalPriceSet { shopMoney { amount } } "
    "customer { id }";

std::string Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

using json::OptionalTime;
using json::Required;

}  // namespace

absl::StatusOr<std::optional<int64_t>> ParseShopMoney(object node, absl::string_view key,
                                                      absl::string_view path) {
  std::optional<element> set = json::Member(node, key);
  if (!set) return std::optional<int64_t>();
  const std::string set_path = json::Path(path, key);
  AUTOSYNC_ASSIGN_OR_RETURN(object set_obj, json::Object(*set, set_path));
  AUTOSYNC_ASSIGN_OR_RETURN(element shop, Required(set_obj, "shopMoney", set_path));
  const std::string shop_path = json::Path(set_path, "shopMoney");
  AUTOSYNC_ASSIGN_OR_RETURN(object shop_obj, json::Object(shop, shop_path));
  AUTOSYNC_ASSIGN_OR_RETURN(element amount, Required(shop_obj, "amount", shop_path));
  AUTOSYNC_ASSIGN_OR_RETURN(int64_t cents,
                            json::MoneyCents(amount, json::Path(shop_path, "amount")));
  return std::optional<int64_t>(cents);
}

absl::StatusOr<Order> ParseGraphqlOrderNode(element value, absl::string_view path) {
  AUTOSYNC_ASSIGN_OR_RETURN(object node, json::Object(value, path));
  Order order;
  AUTOSYNC_ASSIGN_OR_RETURN(std::string gid, json::String(node, "id", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.id, ParseGid(gid, "Order", json::Path(path, "id")));
  AUTOSYNC_ASSIGN_OR_RETURN(order.name, json::OptionalString(node, "name", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.email, json::OptionalString(node, "email", path));
  if (std::optional<element> customer = json::Member(node, "customer")) {
    const std::string customer_path = json::Path(path, "customer");
    AUTOSYNC_ASSIGN_OR_RETURN(object customer_obj, json::Object(*customer, customer_path));
    AUTOSYNC_ASSIGN_OR_RETURN(std::string customer_gid,
                              json::String(customer_obj, "id", customer_path));
    AUTOSYNC_ASSIGN_OR_RETURN(order.customer_id,
                              ParseGid(customer_gid, "Customer", json::Path(customer_path, "id")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(order.created_at, json::RequiredTime(node, "createdAt", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.updated_at, json::RequiredTime(node, "updatedAt", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.processed_at, OptionalTime(node, "processedAt", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.cancelled_at, OptionalTime(node, "cancelledAt", path));
  if (std::optional<element> test = json::Member(node, "test")) {
    AUTOSYNC_ASSIGN_OR_RETURN(order.test, json::Bool(*test, json::Path(path, "test")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(std::string status,
                            json::OptionalString(node, "displayFinancialStatus", path));
  order.financial_status = absl::AsciiStrToLower(status);
  AUTOSYNC_ASSIGN_OR_RETURN(order.currency, json::String(node, "currencyCode", path));
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> total,
                            ParseShopMoney(node, "totalPriceSet", path));
  if (!total.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(json::Path(path, "totalPriceSet"), ": missing"));
  }
  order.total_price_cents = *total;
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> subtotal,
                            ParseShopMoney(node, "subtotalPriceSet", path));
  order.subtotal_price_cents = subtotal.value_or(0);
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> tax, ParseShopMoney(node, "totalTaxSet", path));
  order.total_tax_cents = tax.value_or(0);
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> discounts,
                            ParseShopMoney(node, "totalDiscountsSet", path));
  order.total_discounts_cents = discounts.value_or(0);
  AUTOSYNC_ASSIGN_OR_RETURN(order.current_total_price_cents,
                            ParseShopMoney(node, "currentTotalPriceSet", path));
  AUTOSYNC_ASSIGN_OR_RETURN(std::optional<int64_t> refunded,
                            ParseShopMoney(node, "totalRefundedSet", path));
  order.refunded_cents = refunded.value_or(0);
  return order;
}

namespace {

absl::StatusOr<double> Number(object obj, absl::string_view key, absl::string_view path) {
  AUTOSYNC_ASSIGN_OR_RETURN(element value, Required(obj, key, path));
  double out = 0;
  if (value.get(out) != simdjson::SUCCESS) {
    int64_t i = 0;
    if (value.get(i) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(json::Path(path, key), ": expected a number"));
    }
    out = static_cast<double>(i);
  }
  return out;
}

absl::StatusOr<std::optional<GraphqlCost>> ParseCost(object root) {
  std::optional<element> extensions = json::Member(root, "extensions");
  if (!extensions) return std::optional<GraphqlCost>();
  AUTOSYNC_ASSIGN_OR_RETURN(object ext, json::Object(*extensions, "extensions"));
  std::optional<element> cost_value = json::Member(ext, "cost");
  if (!cost_value) return std::optional<GraphqlCost>();
  AUTOSYNC_ASSIGN_OR_RETURN(object cost, json::Object(*cost_value, "extensions.cost"));
  GraphqlCost out;
  AUTOSYNC_ASSIGN_OR_RETURN(out.requested, Number(cost, "requestedQueryCost", "extensions.cost"));
  // null while throttled (nothing ran).
  if (json::Member(cost, "actualQueryCost")) {
    AUTOSYNC_ASSIGN_OR_RETURN(out.actual, Number(cost, "actualQueryCost", "extensions.cost"));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(element throttle, Required(cost, "throttleStatus", "extensions.cost"));
  constexpr char kThrottlePath[] = "extensions.cost.throttleStatus";
  AUTOSYNC_ASSIGN_OR_RETURN(object status, json::Object(throttle, kThrottlePath));
  AUTOSYNC_ASSIGN_OR_RETURN(out.maximum_available,
                            Number(status, "maximumAvailable", kThrottlePath));
  AUTOSYNC_ASSIGN_OR_RETURN(out.currently_available,
                            Number(status, "currentlyAvailable", kThrottlePath));
  AUTOSYNC_ASSIGN_OR_RETURN(out.restore_rate, Number(status, "restoreRate", kThrottlePath));
  return std::optional<GraphqlCost>(out);
}

}  // namespace

absl::string_view GraphqlOrderFields() { return kOrderFields; }

absl::string_view GraphqlOrdersQuery() {
  static const std::string* const query = new std::string(
      absl::StrCat("query Orders($first: Int!, $after: String, $query: String) { "
                   "orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) { "
                   "pageInfo { hasNextPage endCursor } nodes { ",
                   kOrderFields, " totalRefundedSet { shopMoney { amount } } } } }"));
  return *query;
}

std::string GraphqlOrdersFilter(const GraphqlOrdersRequest& request) {
  std::string filter = absl::StrCat("updated_at:>='", Utc(request.updated_min), "'");
  if (request.created_min.has_value()) {
    absl::StrAppend(&filter, " created_at:>='", Utc(*request.created_min), "'");
  }
  if (request.created_max.has_value()) {
    absl::StrAppend(&filter, " created_at:<='", Utc(*request.created_max), "'");
  }
  return filter;
}

std::string GraphqlOrdersBody(const GraphqlOrdersRequest& request) {
  const std::string filter = GraphqlOrdersFilter(request);
  return absl::StrCat(
      "{\"query\":", json::Quote(GraphqlOrdersQuery()), ",\"variables\":{\"first\":", request.first,
      ",\"after\":", request.after.empty() ? std::string("null") : json::Quote(request.after),
      ",\"query\":", json::Quote(filter), "}}");
}

absl::StatusOr<int64_t> ParseGid(absl::string_view gid, absl::string_view type,
                                 absl::string_view field_path) {
  absl::string_view rest = gid;
  const std::string prefix = absl::StrCat("gid://shopify/", type, "/");
  int64_t id = 0;
  if (!absl::ConsumePrefix(&rest, prefix) || rest.empty() || rest.size() > 19 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(rest, &id)) {
    return absl::InvalidArgumentError(absl::StrCat(field_path, ": expected a global id ", prefix,
                                                   "<digits>, got \"",
                                                   absl::CHexEscape(gid.substr(0, 64)), "\""));
  }
  return id;
}

absl::StatusOr<GraphqlEnvelope> ParseGraphqlEnvelope(object root) {
  GraphqlEnvelope out;
  AUTOSYNC_ASSIGN_OR_RETURN(out.cost, ParseCost(root));
  std::optional<element> errors_value = json::Member(root, "errors");
  if (!errors_value) return out;
  array errors;
  if (errors_value->get(errors) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("errors: expected an array");
  }
  size_t i = 0;
  for (element error_value : errors) {
    const std::string error_path = json::Path("errors", i++);
    AUTOSYNC_ASSIGN_OR_RETURN(object error, json::Object(error_value, error_path));
    AUTOSYNC_ASSIGN_OR_RETURN(std::string message,
                              json::OptionalString(error, "message", error_path));
    std::string code;
    if (std::optional<element> ext = json::Member(error, "extensions")) {
      AUTOSYNC_ASSIGN_OR_RETURN(object ext_obj,
                                json::Object(*ext, json::Path(error_path, "extensions")));
      AUTOSYNC_ASSIGN_OR_RETURN(
          code, json::OptionalString(ext_obj, "code", json::Path(error_path, "extensions")));
    }
    if (code == "THROTTLED") {
      out.throttled = true;
      continue;
    }
    if (message.size() > 300) message = absl::StrCat(message.substr(0, 300), "…");
    out.errors.push_back(code.empty() ? message : absl::StrCat(message, " (", code, ")"));
  }
  return out;
}

absl::StatusOr<GraphqlOrdersAnswer> ParseGraphqlOrders(absl::string_view body,
                                                       const RecordScreen* screen) {
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(element root_value, json::Parse(parser, body, "GraphQL answer"));
  AUTOSYNC_ASSIGN_OR_RETURN(object root, json::Object(root_value, "GraphQL answer"));
  GraphqlOrdersAnswer out;
  AUTOSYNC_ASSIGN_OR_RETURN(static_cast<GraphqlEnvelope&>(out), ParseGraphqlEnvelope(root));
  if (out.throttled || !out.errors.empty()) return out;
  AUTOSYNC_ASSIGN_OR_RETURN(element data_value, Required(root, "data", ""));
  AUTOSYNC_ASSIGN_OR_RETURN(object data, json::Object(data_value, "data"));
  AUTOSYNC_ASSIGN_OR_RETURN(element orders_value, Required(data, "orders", "data"));
  AUTOSYNC_ASSIGN_OR_RETURN(object orders, json::Object(orders_value, "data.orders"));
  AUTOSYNC_ASSIGN_OR_RETURN(element page_info_value, Required(orders, "pageInfo", "data.orders"));
  AUTOSYNC_ASSIGN_OR_RETURN(object page_info,
                            json::Object(page_info_value, "data.orders.pageInfo"));
  AUTOSYNC_ASSIGN_OR_RETURN(element has_next,
                            Required(page_info, "hasNextPage", "data.orders.pageInfo"));
  AUTOSYNC_ASSIGN_OR_RETURN(out.has_next_page,
                            json::Bool(has_next, "data.orders.pageInfo.hasNextPage"));
  AUTOSYNC_ASSIGN_OR_RETURN(out.end_cursor,
                            json::OptionalString(page_info, "endCursor", "data.orders.pageInfo"));
  if (out.has_next_page && out.end_cursor.empty()) {
    return absl::InvalidArgumentError(
        "data.orders.pageInfo.endCursor: missing while hasNextPage is true");
  }
  AUTOSYNC_ASSIGN_OR_RETURN(element nodes_value, Required(orders, "nodes", "data.orders"));
  array nodes;
  if (nodes_value.get(nodes) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("data.orders.nodes: expected an array");
  }
  out.orders.reserve(nodes.size());
  size_t index = 0;
  for (element node : nodes) {
    const std::string path = json::Path("data.orders.nodes", index++);
    AUTOSYNC_ASSIGN_OR_RETURN(Order order, ParseGraphqlOrderNode(node, path));
    if (screen != nullptr &&
        !screen->Admit(order, path, [&] { return std::string(simdjson::minify(node)); })) {
      continue;
    }
    out.orders.push_back(std::move(order));
  }
  return out;
}

}  // namespace autosync::worker
