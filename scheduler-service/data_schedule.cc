#include "scheduler-service/data_schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace autosync::scheduler {

std::vector<std::string> DataTypeNames(DataTypes types) {
  std::vector<std::string> out;
  if ((types & kOrdersType) != 0) out.emplace_back("orders");
  if ((types & kAdsType) != 0) out.emplace_back("ads");
  return out;
}

absl::StatusOr<DataTypes> ParseDataTypes(const std::vector<std::string>& names,
                                         absl::string_view field) {
  if (names.empty()) return kAllDataTypes;
  DataTypes out = 0;
  for (const std::string& name : names) {
    DataTypes t = 0;
    if (name == "orders") {
      t = kOrdersType;
    } else if (name == "ads") {
      t = kAdsType;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": unknown data type \"", name.substr(0, 40), "\" (use \"orders\" or \"ads\")"));
    }
    if ((out & t) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": \"", name, "\" is repeated"));
    }
    out |= t;
  }
  return out;
}

absl::StatusOr<DataSchedule::Next> DataSchedule::NextAfter(absl::Time after,
                                                           const absl::TimeZone& tz) const {
  absl::StatusOr<absl::Time> orders = orders_.NextAfter(after, tz);
  if (!orders.ok() && orders.status().code() != absl::StatusCode::kNotFound) {
    return orders.status();
  }
  // One schedule for both types (every store from before per-type schedules): one evaluation.
  if (ads_.expression() == orders_.expression()) {
    if (!orders.ok()) return orders.status();
    return Next{*orders, kAllDataTypes};
  }
  absl::StatusOr<absl::Time> ads = ads_.NextAfter(after, tz);
  if (!ads.ok() && ads.status().code() != absl::StatusCode::kNotFound) return ads.status();
  if (!orders.ok() && !ads.ok()) return orders.status();
  if (!ads.ok()) return Next{*orders, kOrdersType};
  if (!orders.ok()) return Next{*ads, kAdsType};
  const absl::Time at = std::min(*orders, *ads);
  DataTypes types = 0;
  if (*orders == at) types |= kOrdersType;
  if (*ads == at) types |= kAdsType;
  return Next{at, types};
}

}  // namespace autosync::scheduler
