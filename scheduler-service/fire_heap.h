// The timer structure behind the schedule: every enabled store's next fire in one min-heap keyed
// by the instant it is due (boundary + the store's jitter). One entry per store, not a thread or
// timer object each, so 100k+ stores cost a few tens of MB and O(log n) per fire. Pure logic:
// time is always passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "scheduler-service/cron.h"

namespace autosync::scheduler {

struct ScheduleEntry {
  std::string store_id;
  CronSchedule schedule;
  absl::TimeZone tz;
  absl::Duration jitter;
};

// One fire: the cron boundary it belongs to (the tick claimed in the database) and when it was
// due (boundary + jitter).
struct Fire {
  std::string store_id;
  absl::Time scheduled_for;
  absl::Time due;
};

// Not thread-safe (ScheduleLoop guards it).
class FireHeap final {
 public:
  // Adds or replaces a store. Its first boundary is the first one strictly after `from`: pass the
  // present for a normal start, or an earlier instant to let a missed fire run (catch-up; it is
  // then due at once). False when the schedule never fires (the store is not scheduled).
  bool Upsert(ScheduleEntry entry, absl::Time from);
  bool Remove(const std::string& store_id);
  bool Contains(const std::string& store_id) const { return slots_.contains(store_id); }
  const ScheduleEntry* Find(const std::string& store_id) const;

  // Removes and returns up to `max` fires due at or before `now`, in due order, and schedules
  // each store's next boundary. Boundaries whose due time already passed (a loop that was
  // stopped or late by more than one period) are not fired one by one: the store moves to its
  // next boundary after `now`, so a backlog never piles up.
  std::vector<Fire> PopDue(absl::Time now, size_t max);

  std::optional<absl::Time> NextDue();
  // Next boundary (without jitter) of a store, if scheduled.
  std::optional<absl::Time> NextBoundary(const std::string& store_id) const;
  size_t size() const { return slots_.size(); }

  template <typename Fn>
  void ForEachId(Fn fn) const {
    for (const auto& [id, slot] : slots_) fn(id);
  }

 private:
  struct Slot {
    ScheduleEntry entry;
    absl::Time boundary;
    uint64_t version;
  };
  struct Item {
    absl::Time due;
    uint64_t version;
    std::string store_id;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const { return a.due > b.due; }
  };

  void Push(const std::string& store_id, Slot& slot);
  void DropStaleTop();
  void CompactIfNeeded();

  absl::flat_hash_map<std::string, Slot> slots_;
  std::vector<Item> heap_;  // std::push_heap / pop_heap with Later: a min-heap on due
  uint64_t next_version_ = 1;
};

}  // namespace autosync::scheduler
