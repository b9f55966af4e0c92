// The timer structure behind the schedule: every enabled store's next fire in one min-heap keyed
// by the instant it is due (boundary + the store's jitter). One entry per store, not a thread or
// timer object each, and compact: a store costs ~100 B (its slot, a 16-byte heap item, a 4-byte
// index entry; parsed schedules and zones are shared by every store that uses them), so 1M
// stores fit in ~100 MB. Pure logic: time is always passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scheduler-service/data_schedule.h"

namespace autosync::scheduler {

struct ScheduleEntry {
  std::string store_id;
  DataSchedule schedule;
  absl::TimeZone tz;
  absl::Duration jitter;
};

// One fire: the cron boundary it belongs to (the tick claimed in the database) and when it was
// due (boundary + jitter), and the data types whose schedule fires at that boundary.
struct Fire {
  std::string store_id;
  absl::Time scheduled_for;
  absl::Time due;
  DataTypes types = kAllDataTypes;
};

// Not thread-safe (ScheduleLoop guards it). Not copyable (the index refers to the slots).
class FireHeap final {
 public:
  FireHeap();
  FireHeap(const FireHeap&) = delete;
  FireHeap& operator=(const FireHeap&) = delete;

  // Adds or replaces a store. Its first boundary is the first one strictly after `from`: pass the
  // present for a normal start, or an earlier instant to let a missed fire run (catch-up; it is
  // then due at once). `also_due` joins the first fire's data types (a catch-up fire syncs every
  // type that missed a boundary). False when the schedule never fires (the store is not
  // scheduled).
  bool Upsert(ScheduleEntry entry, absl::Time from, DataTypes also_due = 0);
  bool Remove(absl::string_view store_id);
  bool Contains(absl::string_view store_id) const { return index_.contains(store_id); }
  // Whether the store is scheduled with exactly these expressions, zone and jitter (a refresh
  // leaves such a store in place).
  bool SameSchedule(absl::string_view store_id, absl::string_view orders_expression,
                    absl::string_view ads_expression, absl::string_view zone,
                    absl::Duration jitter) const;
  // Room for this many stores without growing (a full load knows its size).
  void Reserve(size_t stores);

  // Removes and returns up to `max` fires due at or before `now`, in due order, and schedules
  // each store's next boundary. Boundaries whose due time already passed (a loop that was
  // stopped or late by more than one period) are not fired one by one: the store moves to its
  // next boundary after `now`, so a backlog never piles up.
  std::vector<Fire> PopDue(absl::Time now, size_t max);

  std::optional<absl::Time> NextDue();
  // Next boundary (without jitter) of a store, if scheduled.
  std::optional<absl::Time> NextBoundary(absl::string_view store_id) const;
  size_t size() const { return live_; }
  // Distinct (schedule, zone) pairs in use.
  size_t specs() const { return spec_index_.size(); }

  template <typename Fn>
  void ForEachId(Fn fn) const {
    for (const Slot& slot : slots_) {
      if (slot.spec != kFree) fn(slot.store_id);
    }
  }

 private:
  static constexpr uint32_t kFree = ~uint32_t{0};

  // Parsed schedules and a zone, shared by every store that uses the same ones.
  struct Spec {
    std::optional<DataSchedule> schedule;
    absl::TimeZone tz;
    uint32_t users = 0;
  };
  struct Slot {
    std::string store_id;
    absl::Time boundary;
    int64_t jitter_us = 0;
    uint32_t spec = kFree;  // kFree: the slot is unused
    DataTypes types = 0;    // the types due at `boundary`
    // Bumped at every push; a heap item is current only while it carries the slot's version.
    uint32_t version = 0;
  };
  struct Item {
    int64_t due_us;  // unix microseconds
    uint32_t slot;
    uint32_t version;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const { return a.due_us > b.due_us; }
  };
  // The index holds slot numbers and is searched by store id (heterogeneous lookup), so the id
  // is stored once, in its slot.
  struct IdHash {
    using is_transparent = void;
    const std::vector<Slot>* slots;
    size_t operator()(uint32_t slot) const {
      return absl::Hash<absl::string_view>{}((*slots)[slot].store_id);
    }
    size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>{}(id); }
  };
  struct IdEq {
    using is_transparent = void;
    const std::vector<Slot>* slots;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t a, absl::string_view b) const { return (*slots)[a].store_id == b; }
    bool operator()(absl::string_view a, uint32_t b) const { return a == (*slots)[b].store_id; }
  };

  uint32_t InternSpec(const DataSchedule& schedule, const absl::TimeZone& tz);
  void ReleaseSpec(uint32_t spec);
  void Push(uint32_t slot);
  bool Current(const Item& item) const;
  void DropStaleTop();
  void CompactIfNeeded();
  void RemoveSlot(uint32_t slot);

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  absl::flat_hash_set<uint32_t, IdHash, IdEq> index_;
  std::vector<Spec> specs_;
  std::vector<uint32_t> free_specs_;
  // "orders expression\nads expression\nzone" -> spec
  absl::flat_hash_map<std::string, uint32_t> spec_index_;
  std::vector<Item> heap_;  // std::push_heap / pop_heap with Later: a min-heap on due
  size_t live_ = 0;
};

}  // namespace autosync::scheduler
