#include "scheduler-service/fire_heap.h"

#include <algorithm>

namespace autosync::scheduler {

bool FireHeap::Upsert(ScheduleEntry entry, absl::Time from) {
  absl::StatusOr<absl::Time> boundary = entry.schedule.NextAfter(from, entry.tz);
  if (!boundary.ok()) {
    Remove(entry.store_id);
    return false;
  }
  const std::string id = entry.store_id;
  auto [it, inserted] =
      slots_.insert_or_assign(id, Slot{std::move(entry), *boundary, next_version_++});
  (void)inserted;
  Push(id, it->second);
  CompactIfNeeded();
  return true;
}

bool FireHeap::Remove(const std::string& store_id) {
  // The heap item stays behind and is dropped when it surfaces (its slot is gone).
  const bool removed = slots_.erase(store_id) > 0;
  if (removed) CompactIfNeeded();
  return removed;
}

const ScheduleEntry* FireHeap::Find(const std::string& store_id) const {
  auto it = slots_.find(store_id);
  return it == slots_.end() ? nullptr : &it->second.entry;
}

void FireHeap::Push(const std::string& store_id, Slot& slot) {
  heap_.push_back(Item{slot.boundary + slot.entry.jitter, slot.version, store_id});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void FireHeap::DropStaleTop() {
  while (!heap_.empty()) {
    const Item& top = heap_.front();
    auto it = slots_.find(top.store_id);
    if (it != slots_.end() && it->second.version == top.version) return;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
  }
}

// Replaced and removed stores leave stale items; rebuild once they outnumber the live ones so
// the heap stays O(stores) however often schedules change.
void FireHeap::CompactIfNeeded() {
  if (heap_.size() < 64 || heap_.size() < 2 * slots_.size()) return;
  std::vector<Item> live;
  live.reserve(slots_.size());
  for (Item& item : heap_) {
    auto it = slots_.find(item.store_id);
    if (it != slots_.end() && it->second.version == item.version) live.push_back(std::move(item));
  }
  heap_ = std::move(live);
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

std::vector<Fire> FireHeap::PopDue(absl::Time now, size_t max) {
  std::vector<Fire> fires;
  while (fires.size() < max) {
    DropStaleTop();
    if (heap_.empty() || heap_.front().due > now) break;
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    Item item = std::move(heap_.back());
    heap_.pop_back();
    Slot& slot = slots_.find(item.store_id)->second;
    fires.push_back(Fire{item.store_id, slot.boundary, item.due});
    absl::StatusOr<absl::Time> next = slot.entry.schedule.NextAfter(slot.boundary, slot.entry.tz);
    if (next.ok() && *next + slot.entry.jitter <= now) {
      next = slot.entry.schedule.NextAfter(now - slot.entry.jitter, slot.entry.tz);
    }
    if (!next.ok()) {
      slots_.erase(item.store_id);
      continue;
    }
    slot.boundary = *next;
    slot.version = next_version_++;
    Push(item.store_id, slot);
  }
  return fires;
}

std::optional<absl::Time> FireHeap::NextDue() {
  DropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().due;
}

std::optional<absl::Time> FireHeap::NextBoundary(const std::string& store_id) const {
  auto it = slots_.find(store_id);
  if (it == slots_.end()) return std::nullopt;
  return it->second.boundary;
}

}  // namespace autosync::scheduler
