// The schedule loop: one thread that sleeps until the earliest store is due, pops every due fire
// from the FireHeap and hands it to a FireSink (which claims the tick elsewhere; the loop never
// touches the database). The registry feeds it with Load (start and periodic refresh, which sees
// other replicas' changes), Upsert and Remove. Time comes from an injected Clock: unit tests call
// RunDue() themselves with a fake clock and never start the thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/fire_heap.h"

namespace prometheus {
class Gauge;
}

namespace autosync::scheduler {

// What the loop needs to know of one registered store.
struct StoreSchedule {
  std::string store_id;
  std::string schedule;      // orders
  std::string ads_schedule;  // empty: the same as `schedule`
  std::string timezone;
  int64_t jitter_seconds = 0;
  bool enabled = true;
  absl::Time created_at = absl::InfinitePast();
  // The latest cron boundary any replica claimed for this store (catch-up starts after it).
  std::optional<absl::Time> last_tick = std::nullopt;
};

// Receives fires. Called on the loop's thread, outside its lock: must not block for long (a
// sink of a loop with a lead waits at most the lead, for the fires to be due).
class FireSink {
 public:
  virtual ~FireSink() = default;
  virtual void OnFire(const Fire& fire) = 0;
  // Every fire of one pass of the loop (all that were due at once), in due order. A sink that
  // claims ticks in bulk overrides this; by default each goes to OnFire.
  virtual void OnFires(std::vector<Fire> fires) {
    for (const Fire& fire : fires) OnFire(fire);
  }
};

// Thread-safe.
class ScheduleLoop final {
 public:
  struct Options {
    absl::Duration catchup_window = absl::Hours(1);
    size_t max_fires_per_pass = 10000;
    // Fires are handed to the sink up to this long before they are due, all of one due instant
    // at a time, so that the sink can prepare their claims ahead and act at the instant itself
    // (it must not act on a fire before its `due`). Zero: each fire when it is due.
    absl::Duration lead = absl::ZeroDuration();
  };
  // `scheduled_stores` (nullable) is kept equal to the number of scheduled stores.
  ScheduleLoop(const Clock& clock, FireSink& sink, Options options,
               prometheus::Gauge* scheduled_stores = nullptr);
  ~ScheduleLoop();
  ScheduleLoop(const ScheduleLoop&) = delete;
  ScheduleLoop& operator=(const ScheduleLoop&) = delete;

  void Start();
  void Stop();  // idempotent; joins the thread

  // Makes the scheduled set equal to the enabled stores of `stores`. Stores whose schedule, zone
  // and jitter are unchanged keep their place. With `catch_up` (the first load after a start),
  // a store whose latest boundary within the catch-up window was never claimed (by any replica)
  // fires once, now. Stores with an unusable schedule or zone are skipped and counted in the
  // return value.
  int Load(const std::vector<StoreSchedule>& stores, bool catch_up);
  // Adds, changes (disabled: removes) one store. An unchanged store keeps its place.
  bool Upsert(const StoreSchedule& store);
  void Remove(const std::string& store_id);

  // Fires everything due at clock.Now() or, when nothing is, the fires of the next due instant
  // if it is within the lead; returns how many fired.
  size_t RunDue();

  std::optional<absl::Time> NextBoundary(const std::string& store_id) const;
  size_t size() const;

 private:
  bool UpsertLocked(const StoreSchedule& store, bool catch_up, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateGauge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();

  const Clock& clock_;
  FireSink& sink_;
  const Options options_;
  prometheus::Gauge* const scheduled_stores_;
  mutable absl::Mutex mu_;
  FireHeap heap_ ABSL_GUARDED_BY(mu_);
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace autosync::scheduler
