// store-sim's data set for one store: seeded generation of ~24 months of Shopify-like orders with
// repeat customers, refunds, cancellations, guest and test orders; deterministic live-mode steps;
// and the summary checksum that integration tests recompute from PostgreSQL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::storesim {

enum class FinancialStatus : uint8_t {
  kPending,
  kAuthorized,
  kPaid,
  kPartiallyRefunded,
  kRefunded,
  kVoided,
};
absl::string_view FinancialStatusName(FinancialStatus s);

// The data rule a rule-breaking order breaks (stores with ":invalid"; sync-worker's
// record_rules.h names them). kNone for every order of every other store.
enum class BrokenRule : uint8_t {
  kNone,
  kBadId,                   // shown with id 0
  kNegativeAmount,          // a negative subtotal
  kRefundExceedsTotal,      // refunded 50.00 more than the total
  kCurrency,                // currency "XYZ"
  kCreatedTooEarly,         // shown created 1999-01-01
  kCreatedInFuture,         // shown created 2099-01-01
  kUpdatedInFuture,         // shown updated 2099-01-01
  kUpdatedBeforeCreated,    // shown updated a day before it was created
  kCancelledBeforeCreated,  // shown cancelled a day before it was created
  kCount,
};
absl::string_view BrokenRuleName(BrokenRule rule);  // record_rules.h's name ("bad_id", …)

// One order, compact (72 bytes) so a 1,000,000-order store fits in ~80 MB. Times are unix
// seconds; money is integer cents. processed_at equals created_at.
struct Order {
  int64_t id = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t cancelled_at = 0;    // 0: not cancelled
  int64_t refund_at = 0;       // 0: no refund (at most one refund per order)
  int32_t customer = -1;       // customer index; -1 = guest checkout (customer: null)
  int32_t number = 0;          // name is "#<number>"
  int32_t subtotal_cents = 0;  // line items after discounts (Shopify's subtotal_price)
  int32_t tax_cents = 0;
  int32_t discount_cents = 0;
  int32_t shipping_cents = 0;
  int32_t refund_cents = 0;
  FinancialStatus financial_status = FinancialStatus::kPaid;
  bool test = false;
  bool deleted = false;
  BrokenRule broken = BrokenRule::kNone;

  int64_t total_cents() const { return int64_t{subtotal_cents} + tax_cents + shipping_cents; }
  // The sum of the successful refund transactions (REST refunds[], GraphQL totalRefundedSet).
  int64_t refunded_cents() const { return refund_at != 0 ? refund_cents : 0; }
  // Cancelled orders have no remaining items; otherwise the total minus refunds.
  int64_t current_total_cents() const {
    return cancelled_at != 0 ? 0 : total_cents() - refund_cents;
  }
};

struct StoreSpec {
  std::string id;
  int64_t order_count = 0;
  int utc_offset_minutes = 0;  // how timestamps are printed and days cut (ads)
  // Text fields (order names, emails, campaign names) hold hostile text (hostile.h).
  bool hostile = false;
  // ":invalid": orders 2..10 (positions 1..9) each break one data rule (BrokenRule, in that
  // order), and four ad rows a day break the ad rules (meta_insights.h). They parse fine: a
  // worker must keep them out of its tables, in quarantine. Summarize() leaves them out.
  bool invalid = false;
};

// Parses "--stores": "buycosari:200000,acme:5000" with an optional per-store UTC offset
// "acme:5000:-05:00", and optional ":hostile" and ":invalid" last ("evil:500:hostile",
// "evil:500:+02:00:hostile", "bad:300:invalid", "bad:300:hostile:invalid"). Store ids are 1–64 of
// [A-Za-z0-9_-] (they appear in URL paths).
absl::StatusOr<std::vector<StoreSpec>> ParseStoreSpecs(absl::string_view text);

// Everything about one store's orders. Not thread-safe; the Simulator serializes access.
class StoreData final {
 public:
  // Generates spec.order_count orders created in [end - 730 days, end), deterministic in
  // (seed, spec.id, spec.order_count, end).
  static StoreData Generate(uint64_t seed, const StoreSpec& spec, int64_t end);

  const StoreSpec& spec() const { return spec_; }
  uint64_t store_seed() const { return store_seed_; }
  // Orders in id order (which is also created_at order).
  const std::vector<Order>& orders() const { return orders_; }
  // Positions into orders(), sorted by (updated_at, id).
  const std::vector<uint32_t>& by_updated() const { return by_updated_; }
  int64_t customer_count() const { return customer_count_; }
  int64_t window_start() const { return window_start_; }
  int64_t end() const { return end_; }
  // The sim clock: end + steps * step_seconds.
  int64_t now() const { return now_; }
  int64_t steps() const { return steps_; }

  // Customer ids and emails are derived from the customer index.
  static int64_t CustomerId(int32_t customer);
  std::string CustomerEmail(int32_t customer) const;
  std::string GuestEmail(const Order& o) const;
  // The order's name: "#<number>", with hostile text after it for a hostile store (and ~1 MiB
  // of it for the first order and the one numbered first + order_count / 2).
  std::string OrderName(const Order& o) const;
  // The order as the APIs show it: a rule-breaking order's shown id and times differ from the
  // stored ones (which keep the id and created_at order of orders()). Others: `o` itself.
  Order Shown(const Order& o) const;
  absl::string_view Currency(const Order& o) const;  // "USD"; "XYZ" for kCurrency
  // Repairs every rule-breaking order but the one with a bad id (its real id was never shown):
  // valid values, updated now, so the next sync reads them valid. Returns how many.
  int RepairBrokenOrders();

  // One live-mode step: advances the clock by step_seconds, adds a few orders (some from
  // existing customers), refunds and cancels a few recent ones (updated_at = new now).
  // Deterministic given the seed and the step number.
  // With probability `delete_probability` one cancelled or test order is deleted: it vanishes
  // from the listing and shows up only as an Order/destroy event (events()).
  struct StepResult {
    int created = 0;
    int refunded = 0;
    int cancelled = 0;
    int deleted = 0;
  };
  StepResult Step(int64_t step_seconds, double delete_probability = 0.0);

  // Shopify events for deleted orders (verb "destroy"), in id and time order.
  struct DeletionEvent {
    int64_t id = 0;
    int64_t order_id = 0;
    int32_t order_number = 0;
    int64_t created_at = 0;
  };
  const std::vector<DeletionEvent>& events() const { return events_; }

  // Count of non-deleted, rule-abiding orders and FNV-1a 64 over
  // "<id>:<updated_at>:<current_total>\n" for each, in id order.
  struct Summary {
    int64_t count = 0;
    uint64_t checksum = 0;
  };
  Summary Summarize() const;

 private:
  StoreData() = default;
  void RebuildUpdatedIndex();
  void Touch(uint32_t pos, int64_t new_updated_at);
  void FillOrderDetails(Order& o, uint64_t key, int64_t horizon);
  void BreakRules();

  StoreSpec spec_;
  uint64_t store_seed_ = 0;
  std::vector<Order> orders_;
  std::vector<Order> unbroken_;  // ":invalid": the rule-breaking orders as they were generated
  std::vector<uint32_t> by_updated_;
  std::vector<DeletionEvent> events_;
  int64_t customer_count_ = 0;
  int64_t window_start_ = 0;
  int64_t end_ = 0;
  int64_t now_ = 0;
  int64_t steps_ = 0;
};

// "%016x" of the checksum.
std::string ChecksumHex(uint64_t checksum);

}  // namespace autosync::storesim
