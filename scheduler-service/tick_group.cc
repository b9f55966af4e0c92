#include "scheduler-service/tick_group.h"

namespace autosync::scheduler {

int TickGroupOf(absl::string_view store_id) {
  uint32_t hash = 2166136261u;
  for (const char c : store_id) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 16777619u;
  }
  return static_cast<int>(hash % kTickGroups);
}

}  // namespace autosync::scheduler
