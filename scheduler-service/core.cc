#include "scheduler-service/core.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/pg_pool.h"

namespace autosync::scheduler {
namespace {

constexpr int kRpcThreads = 4;
constexpr size_t kRpcQueue = 10000;
// The schedule loop hands a boundary's fires over this long before it, all in one pass: they
// are sorted, grouped and given their run ids ahead, so the claim starts at the boundary itself.
// Preparing 100k fires (popping them from the heap, sorting, run ids, groups) takes 100-200 ms
// here; in several passes, a later pass would find its groups already claimed by an earlier
// one and its preparation would add to its lateness.
constexpr absl::Duration kFireLead = absl::Milliseconds(500);
constexpr size_t kMaxFiresPerPass = 250'000;

}  // namespace

SchedulerCore::SchedulerCore(const SchedulerConfig& config, common::PgPool& pool,
                             SchedulerRegistry& registry, const Clock& clock,
                             std::shared_ptr<grpc::Channel> worker_channel)
    : config_(config),
      clock_(clock),
      repo_(pool),
      metrics_(registry),
      notifier_({.timeout = config.notify_timeout, .attempts = config.notify_attempts}, repo_,
                MakeCurlPoster(), metrics_, clock),
      rpc_pool_(kRpcThreads, kRpcQueue),
      relay_(
          repo_, pool.options().url, rpc_pool_,
          [this](const std::string& store_id) { return registry_.Status(store_id); },
          [this](const std::string& store_id) { registry_.ReloadSchedule(store_id); }),
      queue_(pool),
      executor_(config, clock, repo_, queue_, metrics_, *this, std::move(worker_channel)),
      claimer_(config, clock, repo_, metrics_, *this),
      loop_(clock, claimer_,
            {.catchup_window = config.catchup_window,
             .max_fires_per_pass = kMaxFiresPerPass,
             .lead = kFireLead},
            &metrics_.scheduled_stores),
      registry_(config, clock, repo_, repo_, loop_, executor_, relay_, rpc_pool_),
      housekeeper_(config, clock, repo_, queue_, metrics_, *this, *this) {}

SchedulerCore::~SchedulerCore() { Stop(); }

absl::Status SchedulerCore::Start() {
  // Before the first boundary can fire: its claim finds its connections ready.
  claimer_.Warm();
  absl::StatusOr<int> unusable = housekeeper_.LoadAll(/*catch_up=*/true);
  if (!unusable.ok()) return unusable.status();
  if (*unusable > 0) {
    common::LogWarn("stores with an unusable schedule are not scheduled",
                    {{"count", absl::StrCat(*unusable)}});
  }
  relay_.Start();
  notifier_.Start();
  loop_.Start();
  executor_.Start();
  housekeeper_.Start();
  common::LogInfo("schedule loaded",
                  {{"stores", absl::StrCat(loop_.size())}, {"replica", config_.replica_id}});
  return absl::OkStatus();
}

void SchedulerCore::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  registry_.RefuseTriggers();
  loop_.Stop();
  claimer_.Stop();
  executor_.Stop();
  relay_.StopAnnouncing();
  housekeeper_.Stop();
  notifier_.Stop();
  relay_.Stop();
  rpc_pool_.Stop();
}

void SchedulerCore::OnSkips(std::vector<autosync::v1::SyncProgress> skips) {
  relay_.AnnounceSkips(std::move(skips));
}

void SchedulerCore::OnQueued() { executor_.Wake(); }

void SchedulerCore::OnNotScheduled(const std::string& store_id) { loop_.Remove(store_id); }

void SchedulerCore::PublishProgress(const autosync::v1::SyncProgress& progress) {
  relay_.PublishProgress(progress);
}

void SchedulerCore::PublishStatus(const std::string& store_id) { relay_.PublishStatus(store_id); }

void SchedulerCore::DeliverLocal(const autosync::v1::SyncProgress& progress) {
  relay_.DeliverLocal(progress);
}

std::vector<std::string> SchedulerCore::WatchedStores() { return relay_.WatchedStores(); }

void SchedulerCore::OnRunFailed(const std::string& store_id, const std::string& run_id,
                                const std::string& error) {
  notifier_.Enqueue({.condition = NotifyCondition::kRunFailed,
                     .store_id = store_id,
                     .run_id = run_id,
                     .error = error,
                     .staleness_seconds = 0,
                     .time = clock_.Now()});
}

std::vector<RunKey> SchedulerCore::ActiveRuns() { return executor_.ActiveRuns(); }

void SchedulerCore::OnFollowUpQueued() { executor_.Wake(); }

void SchedulerCore::VerifyLostTicks() { claimer_.VerifyLost(); }

int SchedulerCore::LoadSchedules(const std::vector<StoreSchedule>& schedules, bool catch_up) {
  return loop_.Load(schedules, catch_up);
}

void SchedulerCore::Notify(Notification notification) {
  notifier_.Enqueue(std::move(notification));
}

}  // namespace autosync::scheduler
