#include "scheduler-service/schedule_loop.h"

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"
#include "prometheus/gauge.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {

ScheduleLoop::ScheduleLoop(const Clock& clock, FireSink& sink, Options options,
                           prometheus::Gauge* scheduled_stores)
    : clock_(clock), sink_(sink), options_(options), scheduled_stores_(scheduled_stores) {}

ScheduleLoop::~ScheduleLoop() { Stop(); }

void ScheduleLoop::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ScheduleLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ScheduleLoop::UpdateGauge() {
  if (scheduled_stores_ != nullptr) scheduled_stores_->Set(static_cast<double>(heap_.size()));
}

bool ScheduleLoop::UpsertLocked(const StoreSchedule& store, bool catch_up, absl::Time now) {
  if (!store.enabled) {
    heap_.Remove(store.store_id);
    return true;
  }
  const absl::Duration jitter = JitterFor(store.store_id, store.jitter_seconds);
  const std::string& ads = store.ads_schedule.empty() ? store.schedule : store.ads_schedule;
  if (heap_.SameSchedule(store.store_id, store.schedule, ads,
                         store.timezone.empty() ? "UTC" : store.timezone, jitter)) {
    return true;
  }
  absl::StatusOr<CronSchedule> orders = CronSchedule::Parse(store.schedule);
  absl::StatusOr<CronSchedule> ads_cron = CronSchedule::Parse(ads);
  absl::StatusOr<absl::TimeZone> tz = LoadZone(store.timezone);
  if (!orders.ok() || !ads_cron.ok() || !tz.ok()) {
    heap_.Remove(store.store_id);
    return false;
  }
  DataSchedule schedule(*std::move(orders), *std::move(ads_cron));
  absl::Time from = now;
  DataTypes also_due = 0;
  if (catch_up) {
    absl::Time start = std::max(now - options_.catchup_window, store.created_at);
    if (store.last_tick.has_value()) start = std::max(start, *store.last_tick);
    absl::StatusOr<DataSchedule::Next> missed = schedule.NextAfter(start, *tz);
    if (missed.ok() && missed->at <= now) {
      from = start;
      // The catch-up fires once, at the earliest missed boundary, so it syncs every type that
      // missed one (not only that boundary's: the later ones are not fired one by one).
      auto missed_one = [&](const CronSchedule& cron) {
        absl::StatusOr<absl::Time> next = cron.NextAfter(start, *tz);
        return next.ok() && *next <= now;
      };
      if (missed_one(schedule.orders())) also_due |= kOrdersType;
      if (missed_one(schedule.ads())) also_due |= kAdsType;
    }
  }
  changed_ = true;
  return heap_.Upsert(ScheduleEntry{store.store_id, std::move(schedule), *tz, jitter}, from,
                      also_due);
}

int ScheduleLoop::Load(const std::vector<StoreSchedule>& stores, bool catch_up) {
  const absl::Time now = clock_.Now();
  int unusable = 0;
  // The enabled ids, sorted: 16 bytes a store (a hash set of strings would be ~4x that at 1M).
  std::vector<absl::string_view> wanted;
  wanted.reserve(stores.size());
  for (const StoreSchedule& store : stores) {
    if (store.enabled) wanted.push_back(store.store_id);
  }
  std::sort(wanted.begin(), wanted.end());
  absl::MutexLock lock(&mu_);
  heap_.Reserve(wanted.size());
  for (const StoreSchedule& store : stores) {
    if (!UpsertLocked(store, catch_up, now)) ++unusable;
  }
  // Stores deleted or disabled elsewhere.
  std::vector<std::string> gone;
  heap_.ForEachId([&](const std::string& id) {
    if (!std::binary_search(wanted.begin(), wanted.end(), absl::string_view(id))) {
      gone.push_back(id);
    }
  });
  for (const std::string& id : gone) heap_.Remove(id);
  changed_ = true;
  UpdateGauge();
  return unusable;
}

bool ScheduleLoop::Upsert(const StoreSchedule& store) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  const bool ok = UpsertLocked(store, /*catch_up=*/false, now);
  UpdateGauge();
  return ok;
}

void ScheduleLoop::Remove(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  heap_.Remove(store_id);
  UpdateGauge();
}

size_t ScheduleLoop::RunDue() {
  std::vector<Fire> fires;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    // Fires already due go at once; otherwise those of the next due instant, if it is within the
    // lead (only that instant's: a fire due later is not held back for an earlier one).
    absl::Time until = now;
    const std::optional<absl::Time> next = heap_.NextDue();
    if (next.has_value() && *next > now && *next - now <= options_.lead) until = *next;
    fires = heap_.PopDue(until, options_.max_fires_per_pass);
    UpdateGauge();
  }
  const size_t fired = fires.size();
  if (fired > 0) sink_.OnFires(std::move(fires));
  return fired;
}

std::optional<absl::Time> ScheduleLoop::NextBoundary(const std::string& store_id) const {
  absl::MutexLock lock(&mu_);
  return heap_.NextBoundary(store_id);
}

size_t ScheduleLoop::size() const {
  absl::MutexLock lock(&mu_);
  return heap_.size();
}

void ScheduleLoop::Loop() {
  while (true) {
    RunDue();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    const std::optional<absl::Time> next = heap_.NextDue();
    // Wake at least every second: a wall-clock step (NTP) is then noticed quickly.
    absl::Duration wait =
        next.has_value() ? *next - options_.lead - clock_.Now() : absl::Seconds(1);
    wait = std::min(wait, absl::Seconds(1));
    if (wait <= absl::ZeroDuration()) continue;
    changed_ = false;
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changed_ || stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
    if (stopping_) return;
  }
}

}  // namespace autosync::scheduler
