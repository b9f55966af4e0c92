#include "scheduler-service/run_queue.h"

#include <algorithm>
#include <cmath>

namespace autosync::scheduler {

absl::string_view PriorityLabel(RunPriority priority) {
  switch (priority) {
    case RunPriority::kPerson:
      return "manual";
    case RunPriority::kCron:
      return "cron";
    case RunPriority::kLow:
      return "low";
  }
  return "cron";
}

RunPriority PriorityOf(autosync::v1::Trigger trigger) {
  return trigger == autosync::v1::TRIGGER_CRON ? RunPriority::kCron : RunPriority::kPerson;
}

int64_t EstimateWaitSeconds(int position, int slots, int free_slots, absl::Duration mean_run) {
  if (position <= 0) return 0;
  if (position <= free_slots) return 0;
  if (slots <= 0 || mean_run <= absl::ZeroDuration()) return -1;
  // Runs ahead that cannot start at once, then whole rounds of `slots` runs.
  const int ahead = position - std::max(free_slots, 0);
  const double rounds = std::ceil(static_cast<double>(ahead) / slots);
  return static_cast<int64_t>(std::ceil(rounds * absl::ToDoubleSeconds(mean_run)));
}

absl::Duration RefusalBackoff(int refusals) {
  const int n = std::clamp(refusals, 1, 16);
  return std::min(absl::Milliseconds(250) * (1 << (n - 1)), absl::Seconds(10));
}

absl::Duration RetryBackoff(int attempt) {
  const int n = std::clamp(attempt, 1, 16);
  return std::min(absl::Seconds(30) * (1 << (n - 1)), absl::Minutes(15));
}

}  // namespace autosync::scheduler
