// Fuzzes the GraphQL orders answer parser (sync-worker/connectors/graphql_orders.h); the whole
// input is one response body. Invariants: errors are DATA_LOSS or INVALID_ARGUMENT only; a
// throttled or erroring answer carries no orders; every accepted timestamp is in years
// 0001-9999; an accepted page written back as a GraphQL answer (gids, shopMoney amounts via
// FormatCents, the financial status upper-cased) parses to the same orders and page info.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/graphql_orders.h"
#include "sync-worker/connectors/money.h"
#include "tests/fuzz/same_order.h"
#include "ws-gateway/codec/ws_message.h"

namespace {

namespace w = autosync::worker;
using autosync::gateway::AppendJsonString;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "graphql_orders invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool InRange(absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  return t != absl::InfiniteFuture() && t != absl::InfinitePast() && c.year() >= 1 &&
         c.year() <= 9999;
}

std::string Time(absl::Time t) {
  return absl::StrCat("\"", absl::FormatTime("%4Y-%m-%d%ET%H:%M:%E*S%Ez", t, absl::UTCTimeZone()),
                      "\"");
}

std::string Set(int64_t cents) {
  return absl::StrCat("{\"shopMoney\":{\"amount\":\"", w::FormatCents(cents), "\"}}");
}

std::string Write(const w::GraphqlOrdersAnswer& a) {
  std::string out = absl::StrCat("{\"data\":{\"orders\":{\"pageInfo\":{\"hasNextPage\":",
                                 a.has_next_page ? "true" : "false", ",\"endCursor\":");
  AppendJsonString(&out, a.end_cursor);
  out += "},\"nodes\":[";
  for (size_t i = 0; i < a.orders.size(); ++i) {
    const w::Order& o = a.orders[i];
    if (i > 0) out += ",";
    absl::StrAppend(&out, "{\"id\":\"gid://shopify/Order/", o.id, "\",\"name\":");
    AppendJsonString(&out, o.name);
    out += ",\"email\":";
    AppendJsonString(&out, o.email);
    if (o.customer_id) {
      absl::StrAppend(&out, ",\"customer\":{\"id\":\"gid://shopify/Customer/", *o.customer_id,
                      "\"}");
    }
    absl::StrAppend(&out, ",\"createdAt\":", Time(o.created_at),
                    ",\"updatedAt\":", Time(o.updated_at));
    if (o.processed_at) absl::StrAppend(&out, ",\"processedAt\":", Time(*o.processed_at));
    if (o.cancelled_at) absl::StrAppend(&out, ",\"cancelledAt\":", Time(*o.cancelled_at));
    out += ",\"currencyCode\":";
    AppendJsonString(&out, o.currency);
    out += ",\"displayFinancialStatus\":";
    AppendJsonString(&out, absl::AsciiStrToUpper(o.financial_status));
    absl::StrAppend(&out, ",\"totalPriceSet\":", Set(o.total_price_cents),
                    ",\"subtotalPriceSet\":", Set(o.subtotal_price_cents),
                    ",\"totalTaxSet\":", Set(o.total_tax_cents),
                    ",\"totalDiscountsSet\":", Set(o.total_discounts_cents),
                    ",\"totalRefundedSet\":", Set(o.refunded_cents));
    if (o.current_total_price_cents) {
      absl::StrAppend(&out, ",\"currentTotalPriceSet\":", Set(*o.current_total_price_cents));
    }
    absl::StrAppend(&out, ",\"test\":", o.test ? "true" : "false", "}");
  }
  out += "]}}}";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<w::GraphqlOrdersAnswer> answer = w::ParseGraphqlOrders(body);
  if (!answer.ok()) {
    const absl::StatusCode code = answer.status().code();
    if (code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInvalidArgument) {
      Fail("unexpected error code", body);
    }
    return 0;
  }
  if (answer->throttled || !answer->errors.empty()) {
    if (!answer->orders.empty()) Fail("orders taken from an answer with errors", body);
    return 0;
  }
  for (const w::Order& o : answer->orders) {
    if (!InRange(o.created_at) || !InRange(o.updated_at) ||
        (o.processed_at && !InRange(*o.processed_at)) ||
        (o.cancelled_at && !InRange(*o.cancelled_at))) {
      Fail("timestamp outside years 0001-9999 accepted", body);
    }
  }
  const std::string written = Write(*answer);
  absl::StatusOr<w::GraphqlOrdersAnswer> again = w::ParseGraphqlOrders(written);
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", std::string(again.status().message()).c_str());
    Fail("written answer does not parse", written);
  }
  if (again->has_next_page != answer->has_next_page || again->end_cursor != answer->end_cursor) {
    Fail("written answer has other page info", written);
  }
  if (again->orders.size() != answer->orders.size()) Fail("another order count", written);
  for (size_t i = 0; i < answer->orders.size(); ++i) {
    if (!autosync::fuzz::SameOrder(answer->orders[i], again->orders[i])) {
      Fail("written answer parses to other orders", written);
    }
  }
  return 0;
}
