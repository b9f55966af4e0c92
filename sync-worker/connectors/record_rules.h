// Business rules a record must meet before it is stored (issue 17, "Validation with quarantine").
// A page that does not parse still fails the run (orders_page.h, insights_page.h); a record that
// parses but breaks a rule is not written: the caller quarantines it with the rule's name, and
// the run completes with warnings. Pure functions, no I/O; the time and the requested range are
// passed in.
//
// Orders (RuleForOrder), the first broken rule wins, in this order:
//   bad_id                      id ≤ 0
//   negative_amount             total, subtotal, tax, discounts or refunded < 0
//   refund_exceeds_total        refunded > total (what was paid cannot be refunded twice)
//   negative_amount             current total < 0 (after the refund check: an over-refund
//                               makes it negative, and the refund is the cause to show)
//   currency_not_iso4217        not an ISO 4217 code in use (three upper-case letters we know)
//   created_too_early           created before 2004-01-01 (before any shop of this platform)
//   created_in_future           created after now + clock_skew
//   updated_in_future           updated after now + clock_skew
//   updated_before_created      updated before created (minus clock_skew)
//   cancelled_before_created    cancelled before created (minus clock_skew)
// Ad rows (RuleForAdRow):
//   negative_metric             spend, impressions, clicks, purchases or purchase value < 0
//   clicks_exceed_impressions   clicks > impressions (link clicks never outnumber what was shown)
//   date_outside_range          not within the requested [since, until]
//   currency_not_iso4217        account currency not an ISO 4217 code in use
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/insights_page.h"
#include "sync-worker/connectors/orders_page.h"

namespace autosync::worker {

struct RuleBreak {
  std::string rule;    // one of the names above
  std::string detail;  // what was wrong, for a person ("refunded 120.00 of a 100.00 order")
};

struct RuleOptions {
  // Clocks disagree: a store's timestamps up to this far ahead of ours are accepted.
  absl::Duration clock_skew = absl::Minutes(15);
};

std::optional<RuleBreak> RuleForOrder(const Order& order, absl::Time now,
                                      const RuleOptions& options = {});
std::optional<RuleBreak> RuleForAdRow(const AdRow& row, absl::CivilDay since, absl::CivilDay until);

// A record that parsed but broke a rule: not written to `orders` / `ads`; kept in the
// `quarantined_records` table (migration 0011) until the same record arrives valid.
struct QuarantinedRecord {
  std::string kind;        // "order" | "ad"
  std::string record_key;  // the order id; "<campaign_id>/<YYYY-MM-DD>" for an ad row
  std::string rule;        // a rule name above
  std::string detail;
  std::string source;  // where it was read: "orders page 3", "bulk result line 812", …
  std::string raw;     // the record's JSON, minified, cut at kMaxRawBytes
  bool raw_truncated = false;
};
inline constexpr size_t kMaxRawBytes = 16 * 1024;

// What a parser asks of each record it parsed (orders_page.h, graphql_orders.h, bulk_orders.h,
// insights_page.h take one, optionally). Admit is true when the record may be stored; otherwise
// the record goes to `*quarantined` with `raw()` (called only then, so the JSON is copied only
// for the few that break a rule) and the parser leaves it out of its result.
struct RecordScreen {
  // Orders: "in the future" is measured from here (the default checks no time ahead of now).
  absl::Time now = absl::InfiniteFuture();
  RuleOptions options;
  // Where the records come from, for a person ("orders page 3"); the parser adds the record's
  // own place ("orders[17]", "bulk result line 812").
  std::string page;
  // Ad rows: the range the request asked for; nullopt: the date is not checked.
  std::optional<std::pair<absl::CivilDay, absl::CivilDay>> ad_range;
  std::vector<QuarantinedRecord>* quarantined = nullptr;  // required

  bool Admit(const Order& order, absl::string_view where,
             absl::FunctionRef<std::string()> raw) const;
  bool Admit(const AdRow& row, absl::string_view where, absl::FunctionRef<std::string()> raw) const;
};

// Whether `code` is an ISO 4217 currency code in use (as of 2026; historic codes are not).
bool IsIso4217(absl::string_view code);

}  // namespace autosync::worker
