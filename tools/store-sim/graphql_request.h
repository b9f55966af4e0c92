// The request side of store-sim's GraphQL orders connection (graphql_orders.h): the HTTP body,
// the orders(…) field and its arguments, and the subset of Shopify's search syntax the `query`
// argument may use. Pure functions, no I/O.
//
// No general GraphQL parser: the query text must hold one `orders(` field (optionally aliased,
// `recent: orders(`; the answer then uses the alias; an operation named "orders" is not the
// field), and only that field's argument list is read. Argument values are `$variables` (looked
// up in "variables"; absent means null) or literals (Int, String, true/false, null, enum names):
//   first    Int 1..250, required. (last/before: backward paging is refused.)
//   after    String: an endCursor of this store's connection, or null.
//   query    String: Shopify search syntax subset, see ParseOrdersSearch; or null.
//   sortKey  UPDATED_AT or absent (the sim always sorts by updatedAt, then id, ascending).
//   reverse  false or absent.
// Anything else is refused: other arguments or values, list and object literals. Block strings
// ("""…""") are read as GraphQL's BlockStringValue.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/store-sim/orders_query.h"

namespace autosync::storesim {

inline constexpr int kGraphqlMaxFirst = 250;

// One JSON value of "variables", or one literal of the argument list.
struct GraphqlValue {
  enum class Kind : uint8_t { kNull, kInt, kString, kBool, kEnum, kOther };
  Kind kind = Kind::kNull;
  int64_t int_value = 0;
  bool bool_value = false;
  std::string text;  // kString: the string; kEnum: the name; kOther: what it is, for messages
};

// The HTTP body, decoded. Error (InvalidArgument, answer HTTP 400) when the body is not JSON,
// not an object, has no string "query", or "variables" is neither an object nor null.
struct GraphqlBody {
  std::string query;
  std::map<std::string, GraphqlValue> variables;
};
absl::StatusOr<GraphqlBody> ParseGraphqlBody(absl::string_view body);

// One field of the query and its arguments, read without a general GraphQL parser: the query
// text must hold exactly one `name(` field (optionally aliased; an operation called `name` is
// not the field) and only its argument list is read, with the value rules above (plus block
// strings, """…"""). `allow_bare` also finds `name {` (a field without arguments). Errors:
// NotFound when there is no such field; Unimplemented when there are several or the argument
// list cannot be read; InvalidArgument for a repeated argument or a bad literal.
struct GraphqlField {
  std::string alias;  // empty: none
  bool has_arguments = false;
  std::map<std::string, GraphqlValue> arguments;
};
absl::StatusOr<GraphqlField> ParseGraphqlField(const GraphqlBody& body, absl::string_view name,
                                               bool allow_bare);

// What one orders connection request asks for.
struct GraphqlOrdersRequest {
  std::string response_key = "orders";  // the alias, if the field has one
  int first = 0;
  std::optional<std::string> after;
  OrdersQuery query;  // status kAny, sort kUpdatedAsc, bounds from the search query
};

// Finds the orders field and reads its arguments. Errors: Unimplemented when the query is not
// one orders(…) field with a readable argument list (UNSUPPORTED_QUERY); InvalidArgument naming
// the argument or variable otherwise (BAD_USER_INPUT). `offset_minutes` is the store's, for
// bare dates in the search query.
absl::StatusOr<GraphqlOrdersRequest> ParseGraphqlOrdersRequest(const GraphqlBody& body,
                                                               int offset_minutes);

// Parses the `query` argument: terms separated by spaces, each
//   updated_at:>=V  updated_at:<=V  updated_at:>V  updated_at:<V   (and the same for created_at)
// where V is an RFC 3339 timestamp ("…Z" or with an offset; fractional seconds allowed) or a
// bare date YYYY-MM-DD (midnight at `offset_minutes`), optionally in single or double quotes.
// An explicit AND between terms is accepted (terms are ANDed anyway). Several bounds on one
// field intersect. Bounds are exact on the orders' whole-second times (> V starts after V,
// even with fractional seconds). Errors (InvalidArgument) name the term. Empty: no bounds.
// The result has status kAny and sort kUpdatedAsc.
absl::StatusOr<OrdersQuery> ParseOrdersSearch(absl::string_view search, int offset_minutes);

}  // namespace autosync::storesim
