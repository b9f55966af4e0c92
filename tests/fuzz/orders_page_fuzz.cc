// Fuzzes the Shopify orders page parser (sync-worker/connectors/orders_page.h); the whole input is
// one response body. Invariants: errors are DATA_LOSS or INVALID_ARGUMENT only; every accepted
// timestamp is an RFC 3339 instant in years 0001-9999 (what PostgreSQL gets written); an
// accepted page written back as JSON (money via FormatCents, times via RFC 3339) parses to the
// same orders; ShopifyErrorText stays within its bound.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/money.h"
#include "sync-worker/connectors/orders_page.h"
#include "sync-worker/connectors/record_rules.h"
#include "tests/fuzz/same_order.h"
#include "ws-gateway/codec/ws_message.h"

namespace {

namespace w = autosync::worker;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "orders_page invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// Written back with the project's own JSON string escaping (ws-gateway/ws_message.h).
using autosync::gateway::AppendJsonString;

bool InRange(absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  return t != absl::InfiniteFuture() && t != absl::InfinitePast() && c.year() >= 1 &&
         c.year() <= 9999;
}

// RFC 3339 with a zero-padded year: absl::RFC3339_full writes year 224 as "224".
std::string Time(absl::Time t) {
  return absl::FormatTime("%4Y-%m-%d%ET%H:%M:%E*S%Ez", t, absl::UTCTimeZone());
}

std::string Money(int64_t cents) { return absl::StrCat("\"", w::FormatCents(cents), "\""); }

// The orders as a page body again; refunds as one transaction carrying the whole sum.
std::string Write(const std::vector<w::Order>& orders) {
  std::string out = "{\"orders\":[";
  for (size_t i = 0; i < orders.size(); ++i) {
    const w::Order& o = orders[i];
    if (i > 0) out += ",";
    absl::StrAppend(&out, "{\"id\":", o.id, ",\"name\":");
    AppendJsonString(&out, o.name);
    out += ",\"email\":";
    AppendJsonString(&out, o.email);
    if (o.customer_id) absl::StrAppend(&out, ",\"customer\":{\"id\":", *o.customer_id, "}");
    absl::StrAppend(&out, ",\"created_at\":\"", Time(o.created_at), "\",\"updated_at\":\"",
                    Time(o.updated_at), "\"");
    if (o.processed_at) absl::StrAppend(&out, ",\"processed_at\":\"", Time(*o.processed_at), "\"");
    if (o.cancelled_at) absl::StrAppend(&out, ",\"cancelled_at\":\"", Time(*o.cancelled_at), "\"");
    out += ",\"currency\":";
    AppendJsonString(&out, o.currency);
    absl::StrAppend(&out, ",\"total_price\":", Money(o.total_price_cents),
                    ",\"subtotal_price\":", Money(o.subtotal_price_cents),
                    ",\"total_tax\":", Money(o.total_tax_cents),
                    ",\"total_discounts\":", Money(o.total_discounts_cents));
    if (o.current_total_price_cents) {
      absl::StrAppend(&out, ",\"current_total_price\":", Money(*o.current_total_price_cents));
    }
    absl::StrAppend(&out, ",\"refunds\":[{\"transactions\":[{\"kind\":\"refund\",\"amount\":",
                    Money(o.refunded_cents), "}]}]");
    out += ",\"financial_status\":";
    AppendJsonString(&out, o.financial_status);
    absl::StrAppend(&out, ",\"test\":", o.test ? "true" : "false", "}");
  }
  out += "]}";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view body(reinterpret_cast<const char*>(data), size);

  const std::string error_text = w::ShopifyErrorText(body, 50);
  if (error_text.size() > 50 + std::string("…").size())
    Fail("ShopifyErrorText over its bound", body);

  absl::StatusOr<std::vector<w::Order>> orders = w::ParseOrdersPage(body);
  if (!orders.ok()) {
    const absl::StatusCode code = orders.status().code();
    if (code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInvalidArgument) {
      Fail("unexpected error code", body);
    }
    return 0;
  }
  // Screened (issue 17): every order is either admitted or quarantined, in order, and each
  // quarantined one keeps a rule, its id and at most kMaxRawBytes of valid raw JSON.
  std::vector<w::QuarantinedRecord> quarantined;
  w::RecordScreen screen;
  screen.now = absl::FromUnixSeconds(1800000000);
  screen.quarantined = &quarantined;
  absl::StatusOr<std::vector<w::Order>> admitted = w::ParseOrdersPage(body, &screen);
  if (!admitted.ok() || admitted->size() + quarantined.size() != orders->size()) {
    Fail("screening lost or invented an order", body);
  }
  for (const w::QuarantinedRecord& q : quarantined) {
    if (q.rule.empty() || q.kind != "order" || q.raw.size() > w::kMaxRawBytes ||
        (!q.raw_truncated && (q.raw.empty() || q.raw.front() != '{'))) {
      Fail("a quarantined order lacks its rule or raw JSON", body);
    }
    if (q.raw_truncated && !q.raw.empty() &&
        (static_cast<unsigned char>(q.raw.back()) & 0xC0) == 0xC0) {
      Fail("raw JSON cut inside a character", body);
    }
  }
  for (const w::Order& o : *orders) {
    if (!InRange(o.created_at) || !InRange(o.updated_at) ||
        (o.processed_at && !InRange(*o.processed_at)) ||
        (o.cancelled_at && !InRange(*o.cancelled_at))) {
      Fail("timestamp outside years 0001-9999 accepted", body);
    }
  }
  const std::string written = Write(*orders);
  absl::StatusOr<std::vector<w::Order>> again = w::ParseOrdersPage(written);
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", std::string(again.status().message()).c_str());
    Fail("written page does not parse", written);
  }
  if (again->size() != orders->size()) Fail("written page has another order count", written);
  for (size_t i = 0; i < orders->size(); ++i) {
    if (!autosync::fuzz::SameOrder((*orders)[i], (*again)[i])) {
      Fail("written page parses to other orders", written);
    }
  }
  return 0;
}
