#include "scheduler-service/fire_heap.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace autosync::scheduler {

FireHeap::FireHeap() : index_(0, IdHash{&slots_}, IdEq{&slots_}) {}

namespace {

std::string SpecKey(const DataSchedule& schedule, const absl::TimeZone& tz) {
  return absl::StrCat(schedule.orders().expression(), "\n", schedule.ads().expression(), "\n",
                      tz.name());
}

}  // namespace

uint32_t FireHeap::InternSpec(const DataSchedule& schedule, const absl::TimeZone& tz) {
  std::string key = SpecKey(schedule, tz);
  auto it = spec_index_.find(key);
  if (it != spec_index_.end()) {
    ++specs_[it->second].users;
    return it->second;
  }
  uint32_t spec;
  if (!free_specs_.empty()) {
    spec = free_specs_.back();
    free_specs_.pop_back();
  } else {
    spec = static_cast<uint32_t>(specs_.size());
    specs_.emplace_back();
  }
  specs_[spec] = Spec{schedule, tz, 1};
  spec_index_.emplace(std::move(key), spec);
  return spec;
}

// Schedules nobody uses any more are dropped, so changing expressions cannot grow the table.
void FireHeap::ReleaseSpec(uint32_t spec) {
  Spec& s = specs_[spec];
  if (--s.users > 0) return;
  spec_index_.erase(SpecKey(*s.schedule, s.tz));
  s.schedule.reset();
  free_specs_.push_back(spec);
}

void FireHeap::Reserve(size_t stores) {
  if (stores <= slots_.size()) return;
  slots_.reserve(stores);
  index_.reserve(stores);
  heap_.reserve(stores);
}

bool FireHeap::Upsert(ScheduleEntry entry, absl::Time from, DataTypes also_due) {
  absl::StatusOr<DataSchedule::Next> boundary = entry.schedule.NextAfter(from, entry.tz);
  if (!boundary.ok()) {
    Remove(entry.store_id);
    return false;
  }
  const uint32_t spec = InternSpec(entry.schedule, entry.tz);
  uint32_t slot;
  if (auto it = index_.find(absl::string_view(entry.store_id)); it != index_.end()) {
    slot = *it;
    ReleaseSpec(slots_[slot].spec);
  } else {
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    // The id goes in before the index entry: the index hashes it from the slot.
    slots_[slot].store_id = std::move(entry.store_id);
    index_.insert(slot);
    ++live_;
  }
  Slot& s = slots_[slot];
  s.boundary = boundary->at;
  s.types = boundary->types | also_due;
  s.jitter_us = absl::ToInt64Microseconds(entry.jitter);
  s.spec = spec;
  Push(slot);
  CompactIfNeeded();
  return true;
}

void FireHeap::RemoveSlot(uint32_t slot) {
  // Its heap item stays behind and is dropped when it surfaces (the slot is free or reused with
  // a newer version).
  Slot& s = slots_[slot];
  index_.erase(slot);
  ReleaseSpec(s.spec);
  s.spec = kFree;
  std::string().swap(s.store_id);
  free_slots_.push_back(slot);
  --live_;
}

bool FireHeap::Remove(absl::string_view store_id) {
  auto it = index_.find(store_id);
  if (it == index_.end()) return false;
  RemoveSlot(*it);
  CompactIfNeeded();
  return true;
}

bool FireHeap::SameSchedule(absl::string_view store_id, absl::string_view orders_expression,
                            absl::string_view ads_expression, absl::string_view zone,
                            absl::Duration jitter) const {
  auto it = index_.find(store_id);
  if (it == index_.end()) return false;
  const Slot& s = slots_[*it];
  const Spec& spec = specs_[s.spec];
  return spec.schedule->orders().expression() == orders_expression &&
         spec.schedule->ads().expression() == ads_expression && spec.tz.name() == zone &&
         s.jitter_us == absl::ToInt64Microseconds(jitter);
}

void FireHeap::Push(uint32_t slot) {
  Slot& s = slots_[slot];
  ++s.version;
  heap_.push_back(Item{absl::ToUnixMicros(s.boundary) + s.jitter_us, slot, s.version});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

bool FireHeap::Current(const Item& item) const {
  const Slot& s = slots_[item.slot];
  return s.spec != kFree && s.version == item.version;
}

void FireHeap::DropStaleTop() {
  while (!heap_.empty() && !Current(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
  }
}

// Replaced and removed stores leave stale items; rebuild once they outnumber the live ones so
// the heap stays O(stores) however often schedules change.
void FireHeap::CompactIfNeeded() {
  if (heap_.size() < 64 || heap_.size() < 2 * live_) return;
  auto stale = [this](const Item& item) { return !Current(item); };
  heap_.erase(std::remove_if(heap_.begin(), heap_.end(), stale), heap_.end());
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

std::vector<Fire> FireHeap::PopDue(absl::Time now, size_t max) {
  std::vector<Fire> fires;
  const int64_t now_us = absl::ToUnixMicros(now);
  while (fires.size() < max) {
    DropStaleTop();
    if (heap_.empty() || heap_.front().due_us > now_us) break;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    const Item item = heap_.back();
    heap_.pop_back();
    Slot& slot = slots_[item.slot];
    fires.push_back(
        Fire{slot.store_id, slot.boundary, absl::FromUnixMicros(item.due_us), slot.types});
    const Spec& spec = specs_[slot.spec];
    const absl::Duration jitter = absl::Microseconds(slot.jitter_us);
    absl::StatusOr<DataSchedule::Next> next = spec.schedule->NextAfter(slot.boundary, spec.tz);
    if (next.ok() && next->at + jitter <= now) {
      next = spec.schedule->NextAfter(now - jitter, spec.tz);
    }
    if (!next.ok()) {
      RemoveSlot(item.slot);
      continue;
    }
    slot.boundary = next->at;
    slot.types = next->types;
    Push(item.slot);
  }
  return fires;
}

std::optional<absl::Time> FireHeap::NextDue() {
  DropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return absl::FromUnixMicros(heap_.front().due_us);
}

std::optional<absl::Time> FireHeap::NextBoundary(absl::string_view store_id) const {
  auto it = index_.find(store_id);
  if (it == index_.end()) return std::nullopt;
  return slots_[*it].boundary;
}

}  // namespace autosync::scheduler
