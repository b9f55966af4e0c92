// The Shopify Admin REST `orders.json` body parsed into the fields autosync keeps (see
// /work/shared/STORE-APIS.md): ids, timestamps, money in cents, refunds summed per order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autosync::worker {

struct RecordScreen;  // record_rules.h

struct Order {
  int64_t id = 0;
  std::string name;                    // "#1001"
  std::string email;                   // "" when absent or null
  std::optional<int64_t> customer_id;  // nullopt: guest checkout (customer null or absent)
  absl::Time created_at;
  absl::Time updated_at;
  std::optional<absl::Time> processed_at;
  std::optional<absl::Time> cancelled_at;
  std::string currency;
  int64_t total_price_cents = 0;
  int64_t subtotal_price_cents = 0;
  int64_t total_tax_cents = 0;
  int64_t total_discounts_cents = 0;
  // Reflects edits, returns and refunds; absent on old API versions.
  std::optional<int64_t> current_total_price_cents;
  // Sum of refunds[].transactions[].amount over transactions that moved money back: kind "refund"
  // (or no kind) and status "success" (or no status). Failed or pending refund attempts don't
  // count.
  int64_t refunded_cents = 0;
  std::string financial_status;  // "" when null
  bool test = false;
};

// Parses one page. DATA_LOSS when the body is not complete JSON (truncated, HTML error page, …);
// INVALID_ARGUMENT naming the field and order index ("orders[3].total_price: …") when the JSON
// has the wrong shape: no `orders` array, a missing required field (id, created_at, updated_at,
// currency, total_price), or a field of the wrong type or format. Optional money fields
// (subtotal_price, total_tax, total_discounts) count as 0 when absent or null.
// Strings are kept exactly as decoded from JSON (quotes, backslashes, any Unicode).
// With a `screen`, an order that parses but breaks a business rule is left out of the result
// and goes to the screen's quarantine (record_rules.h).
absl::StatusOr<std::vector<Order>> ParseOrdersPage(absl::string_view body,
                                                   const RecordScreen* screen = nullptr);

// One of Shopify's order deletion events (REST `events.json?filter=Order&verb=destroy`): the order
// `order_id` was deleted at `at`. Shopify's APIs list no deleted orders otherwise (and GraphQL's
// deletionEvents cover products and collections only).
struct OrderDeletion {
  int64_t event_id = 0;
  int64_t order_id = 0;  // subject_id
  absl::Time at;         // created_at
};
// `{"events":[…]}`: the destroy events of orders. Events of another subject type or verb are
// skipped. DATA_LOSS when not JSON, INVALID_ARGUMENT naming the field ("events[2].subject_id: …").
absl::StatusOr<std::vector<OrderDeletion>> ParseOrderDeletions(absl::string_view body);

// The `errors` member of a Shopify error body ({"errors":"…"} or {"errors":{…}}), at most
// `max_chars` long, or "" when the body has none. For error messages a person reads.
std::string ShopifyErrorText(absl::string_view body, size_t max_chars = 200);

}  // namespace autosync::worker
