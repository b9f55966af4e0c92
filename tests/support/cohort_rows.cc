// The cohort table as text rows (cohort_rows.h).
#include "tests/support/cohort_rows.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"

namespace autosync::testing {

std::vector<std::string> CohortRows(const std::string& url, const std::string& store) {
  std::vector<std::string> rows;
  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  for (const auto& row : tx.exec_params(
           "SELECT cohort_month::text, month_offset, cohort_customers, active_customers, orders, "
           "net_revenue::text FROM customer_ltv_cohorts WHERE store_id = $1 "
           "ORDER BY cohort_month, month_offset",
           store)) {
    rows.push_back(absl::StrCat(row[0].c_str(), "|", row[1].c_str(), "|", row[2].c_str(), "|",
                                row[3].c_str(), "|", row[4].c_str(), "|", row[5].c_str()));
  }
  return rows;
}

}  // namespace autosync::testing
