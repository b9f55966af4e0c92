// Field-by-field equality of two parsed orders, for the orders parsers' round-trip fuzzers
// (orders_page_fuzz.cc, graphql_orders_fuzz.cc). Header-only; fuzzers only.
#pragma once

#include "sync-worker/connectors/orders_page.h"

namespace autosync::fuzz {

inline bool SameOrder(const worker::Order& a, const worker::Order& b) {
  return a.id == b.id && a.name == b.name && a.email == b.email && a.customer_id == b.customer_id &&
         a.created_at == b.created_at && a.updated_at == b.updated_at &&
         a.processed_at == b.processed_at && a.cancelled_at == b.cancelled_at &&
         a.currency == b.currency && a.total_price_cents == b.total_price_cents &&
         a.subtotal_price_cents == b.subtotal_price_cents &&
         a.total_tax_cents == b.total_tax_cents &&
         a.total_discounts_cents == b.total_discounts_cents &&
         a.current_total_price_cents == b.current_total_price_cents &&
         a.refunded_cents == b.refunded_cents && a.financial_status == b.financial_status &&
         a.test == b.test;
}

}  // namespace autosync::fuzz
