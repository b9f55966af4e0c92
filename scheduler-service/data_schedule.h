// A store's schedules, one per data type (issue 16): orders on one cron expression, ads on
// another, both read in the store's time zone. A fire is an instant at which at least one of
// them is due; it carries the set of types due then (both when both are), and the run it queues
// syncs those of them whose data is stale. Pure logic, an immutable value like CronSchedule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scheduler-service/cron.h"

namespace autosync::scheduler {

// The data types a run syncs, as a bit set. LTV is not a type: every run recomputes it.
using DataTypes = uint8_t;
inline constexpr DataTypes kOrdersType = 1;
inline constexpr DataTypes kAdsType = 2;
inline constexpr DataTypes kAllDataTypes = kOrdersType | kAdsType;

// {"orders", "ads"} for kAllDataTypes, in that order.
std::vector<std::string> DataTypeNames(DataTypes types);
// The set named by `names` ("orders", "ads"); empty names = every type. INVALID_ARGUMENT naming
// `field` for an unknown or repeated name.
absl::StatusOr<DataTypes> ParseDataTypes(const std::vector<std::string>& names,
                                         absl::string_view field);

class DataSchedule final {
 public:
  DataSchedule(CronSchedule orders, CronSchedule ads)
      : orders_(std::move(orders)), ads_(std::move(ads)) {}

  struct Next {
    absl::Time at;
    DataTypes types = 0;  // the types whose schedule fires at `at`
  };
  // The first instant strictly after `after` at which either schedule fires, and which fire
  // then. A schedule that never fires (NOT_FOUND) is left out; NOT_FOUND when neither fires.
  absl::StatusOr<Next> NextAfter(absl::Time after, const absl::TimeZone& tz) const;

  const CronSchedule& orders() const { return orders_; }
  const CronSchedule& ads() const { return ads_; }

 private:
  CronSchedule orders_;
  CronSchedule ads_;
};

}  // namespace autosync::scheduler
