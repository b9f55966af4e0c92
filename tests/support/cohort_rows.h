// Test support: a store's LTV cohort table (customer_ltv_cohorts) read back as text rows, so two
// computations of it (incremental and from scratch, before and after a failover) compare as
// plain vectors of strings.
//
// Thread-safety: opens its own connection per call; callable from any thread. Lifetime: none kept.
#pragma once

#include <string>
#include <vector>

namespace autosync::testing {

// The cohorts of `store` in the database at `url`, one row per cohort month and month offset in
// that order: "cohort_month|month_offset|cohort_customers|active_customers|orders|net_revenue".
// Throws (pqxx) when the database cannot be read: a test's failure.
std::vector<std::string> CohortRows(const std::string& url, const std::string& store);

}  // namespace autosync::testing
