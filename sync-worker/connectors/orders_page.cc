#include "sync-worker/connectors/orders_page.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "simdjson.h"
#include "sync-worker/connectors/json_util.h"
#include "sync-worker/connectors/record_rules.h"

namespace autosync::worker {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

using json::OptionalTime;
using json::Required;

absl::StatusOr<int64_t> OptionalMoney(object obj, absl::string_view key, absl::string_view path) {
  std::optional<element> value = json::Member(obj, key);
  if (!value) return 0;
  return json::MoneyCents(*value, json::Path(path, key));
}

absl::StatusOr<int64_t> RefundedCents(object order, absl::string_view path) {
  std::optional<element> refunds_value = json::Member(order, "refunds");
  if (!refunds_value) return 0;
  const std::string refunds_path = json::Path(path, "refunds");
  array refunds;
  if (refunds_value->get(refunds) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(refunds_path, ": expected an array"));
  }
  int64_t total = 0;
  size_t r = 0;
  for (element refund_value : refunds) {
    const std::string refund_path = json::Path(refunds_path, r++);
    object refund;
    if (refund_value.get(refund) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(refund_path, ": expected an object"));
    }
    std::optional<element> transactions_value = json::Member(refund, "transactions");
    if (!transactions_value) continue;
    const std::string transactions_path = json::Path(refund_path, "transactions");
    array transactions;
    if (transactions_value->get(transactions) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(transactions_path, ": expected an array"));
    }
    size_t t = 0;
    for (element transaction_value : transactions) {
      const std::string transaction_path = json::Path(transactions_path, t++);
      object transaction;
      if (transaction_value.get(transaction) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(absl::StrCat(transaction_path, ": expected an object"));
      }
      AUTOSYNC_ASSIGN_OR_RETURN(std::string kind,
                                json::OptionalString(transaction, "kind", transaction_path));
      AUTOSYNC_ASSIGN_OR_RETURN(std::string status,
                                json::OptionalString(transaction, "status", transaction_path));
      if (!kind.empty() && kind != "refund") continue;
      if (!status.empty() && status != "success") continue;
      AUTOSYNC_ASSIGN_OR_RETURN(element amount, Required(transaction, "amount", transaction_path));
      AUTOSYNC_ASSIGN_OR_RETURN(int64_t cents,
                                json::MoneyCents(amount, json::Path(transaction_path, "amount")));
      if (__builtin_add_overflow(total, cents, &total)) {
        return absl::InvalidArgumentError(absl::StrCat(refunds_path, ": sum overflows"));
      }
    }
  }
  return total;
}

absl::StatusOr<Order> ParseOrder(element value, absl::string_view path) {
  object obj;
  if (value.get(obj) != simdjson::SUCCESS)
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected an object"));
  Order order;
  AUTOSYNC_ASSIGN_OR_RETURN(element id, Required(obj, "id", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.id, json::Int64(id, json::Path(path, "id")));
  AUTOSYNC_ASSIGN_OR_RETURN(order.name, json::OptionalString(obj, "name", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.email, json::OptionalString(obj, "email", path));
  if (std::optional<element> customer_value = json::Member(obj, "customer")) {
    const std::string customer_path = json::Path(path, "customer");
    object customer;
    if (customer_value->get(customer) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat(customer_path, ": expected an object or null"));
    }
    AUTOSYNC_ASSIGN_OR_RETURN(element customer_id, Required(customer, "id", customer_path));
    AUTOSYNC_ASSIGN_OR_RETURN(order.customer_id,
                              json::Int64(customer_id, json::Path(customer_path, "id")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(order.created_at, json::RequiredTime(obj, "created_at", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.updated_at, json::RequiredTime(obj, "updated_at", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.processed_at, OptionalTime(obj, "processed_at", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.cancelled_at, OptionalTime(obj, "cancelled_at", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.currency, json::String(obj, "currency", path));
  AUTOSYNC_ASSIGN_OR_RETURN(element total_price, Required(obj, "total_price", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.total_price_cents,
                            json::MoneyCents(total_price, json::Path(path, "total_price")));
  AUTOSYNC_ASSIGN_OR_RETURN(order.subtotal_price_cents, OptionalMoney(obj, "subtotal_price", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.total_tax_cents, OptionalMoney(obj, "total_tax", path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.total_discounts_cents,
                            OptionalMoney(obj, "total_discounts", path));
  if (std::optional<element> current = json::Member(obj, "current_total_price")) {
    AUTOSYNC_ASSIGN_OR_RETURN(order.current_total_price_cents,
                              json::MoneyCents(*current, json::Path(path, "current_total_price")));
  }
  AUTOSYNC_ASSIGN_OR_RETURN(order.refunded_cents, RefundedCents(obj, path));
  AUTOSYNC_ASSIGN_OR_RETURN(order.financial_status,
                            json::OptionalString(obj, "financial_status", path));
  if (std::optional<element> test = json::Member(obj, "test")) {
    AUTOSYNC_ASSIGN_OR_RETURN(order.test, json::Bool(*test, json::Path(path, "test")));
  }
  return order;
}

}  // namespace

absl::StatusOr<std::vector<Order>> ParseOrdersPage(absl::string_view body,
                                                   const RecordScreen* screen) {
  // One parser per thread, kept: a fresh one allocates (and page-faults in) buffers the size of
  // the page for every page, which the issue #9 profile showed as a tenth of the worker's time.
  // Its buffers grow to the largest page seen, bounded by the transport's body limit.
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(element root, json::Parse(parser, body, "orders page"));
  object root_object;
  if (root.get(root_object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("orders page: expected a JSON object");
  }
  std::optional<element> orders_value = json::Member(root_object, "orders");
  if (!orders_value) return absl::InvalidArgumentError("orders page: no \"orders\" array");
  array orders_array;
  if (orders_value->get(orders_array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("orders: expected an array");
  }
  std::vector<Order> orders;
  orders.reserve(orders_array.size());
  size_t index = 0;
  for (element value : orders_array) {
    const std::string path = json::Path("orders", index++);
    AUTOSYNC_ASSIGN_OR_RETURN(Order order, ParseOrder(value, path));
    if (screen != nullptr &&
        !screen->Admit(order, path, [&] { return std::string(simdjson::minify(value)); })) {
      continue;
    }
    orders.push_back(std::move(order));
  }
  return orders;
}

absl::StatusOr<std::vector<OrderDeletion>> ParseOrderDeletions(absl::string_view body) {
  thread_local simdjson::dom::parser parser;
  AUTOSYNC_ASSIGN_OR_RETURN(element root, json::Parse(parser, body, "events page"));
  AUTOSYNC_ASSIGN_OR_RETURN(object root_object, json::Object(root, "events page"));
  std::optional<element> events_value = json::Member(root_object, "events");
  if (!events_value) return absl::InvalidArgumentError("events page: no \"events\" array");
  array events;
  if (events_value->get(events) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("events: expected an array");
  }
  std::vector<OrderDeletion> out;
  size_t index = 0;
  for (element value : events) {
    const std::string path = json::Path("events", index++);
    AUTOSYNC_ASSIGN_OR_RETURN(object event, json::Object(value, path));
    AUTOSYNC_ASSIGN_OR_RETURN(std::string type, json::OptionalString(event, "subject_type", path));
    AUTOSYNC_ASSIGN_OR_RETURN(std::string verb, json::OptionalString(event, "verb", path));
    if (type != "Order" || verb != "destroy") continue;
    OrderDeletion d;
    AUTOSYNC_ASSIGN_OR_RETURN(element id, Required(event, "id", path));
    AUTOSYNC_ASSIGN_OR_RETURN(d.event_id, json::Int64(id, json::Path(path, "id")));
    AUTOSYNC_ASSIGN_OR_RETURN(element subject, Required(event, "subject_id", path));
    AUTOSYNC_ASSIGN_OR_RETURN(d.order_id, json::Int64(subject, json::Path(path, "subject_id")));
    AUTOSYNC_ASSIGN_OR_RETURN(d.at, json::RequiredTime(event, "created_at", path));
    out.push_back(d);
  }
  return out;
}

std::string ShopifyErrorText(absl::string_view body, size_t max_chars) {
  simdjson::dom::parser parser;
  absl::StatusOr<element> root = json::Parse(parser, body, "error body");
  if (!root.ok()) return "";
  object obj;
  if (root->get(obj) != simdjson::SUCCESS) return "";
  std::optional<element> errors = json::Member(obj, "errors");
  if (!errors) return "";
  std::string text;
  absl::string_view plain;
  if (json::GetString(*errors, plain)) {
    text = std::string(plain);
  } else {
    text = simdjson::minify(*errors);
  }
  if (text.size() > max_chars) text = absl::StrCat(text.substr(0, max_chars), "…");
  return text;
}

}  // namespace autosync::worker
