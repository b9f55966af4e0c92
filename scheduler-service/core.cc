#include "scheduler-service/core.h"

#include <malloc.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/pg_pool.h"
#include "common/status.h"
#include "scheduler-service/fx_rates_csv.h"
#include "scheduler-service/run_stage.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::Stage;
using autosync::v1::SyncProgress;
using autosync::v1::WatchEvent;

constexpr int kRpcThreads = 4;
constexpr size_t kRpcQueue = 10000;
// The schedule loop hands a boundary's fires over this long before it, all in one pass: they
// are sorted, grouped and given their run ids ahead, so the claim starts at the boundary itself.
// Preparing 100k fires (popping them from the heap, sorting, run ids, groups) takes 100-200 ms
// here; in several passes, a later pass would find its groups already claimed by an earlier
// one and its preparation would add to its lateness.
constexpr absl::Duration kFireLead = absl::Milliseconds(500);
constexpr size_t kMaxFiresPerPass = 250'000;
// Group claims are kept two days (catch-up reaches back one day at most).
constexpr absl::Duration kGroupClaimsKept = absl::Hours(48);
// Skip events and status publishes after a boundary (each a few queries).
constexpr int kAnnounceThreads = 2;

// A full load or refresh allocates and frees a row per store (the query result, the rows, the
// new freshness table): ~300 B a store for a moment. glibc keeps freed memory below the top of
// each arena, so without this the RSS after a load stays at its peak (measured at 1M stores:
// see BENCHMARKS.md). Returning it costs a few ms per minute.
void ReleaseFreedMemory() { malloc_trim(0); }

std::string EncodeToken(absl::string_view text) { return absl::WebSafeBase64Escape(text); }

absl::StatusOr<std::string> DecodeToken(absl::string_view token) {
  std::string out;
  if (token.size() > 512 || !absl::WebSafeBase64Unescape(token, &out)) {
    return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
  }
  return out;
}

// The minute refresh reloads every schedule only when the stores changed (their version moved),
// and at least this often regardless: a bound on any drift, ~4 s of CPU an hour at 1M stores.
constexpr absl::Duration kFullRefreshEvery = absl::Hours(1);
// A run's end is written with its transaction's start time and commits a moment later: the
// completed runs are read again from this far back, so none committed late is missed.
constexpr absl::Duration kSuccessesOverlap = absl::Minutes(2);

// Run history pruned per housekeeping pass: small batches, so the deletes never hold many row
// locks or bloat one transaction; a pass catches up with a day's history of a large fleet.
constexpr int kPruneBatch = 1000;
constexpr int kPruneBatches = 50;

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
      announce_pool_(kAnnounceThreads, 0),
      queue_(pool),
      executor_(config, clock, repo_, queue_, metrics_, *this, std::move(worker_channel)),
      claimer_(config, clock, repo_, metrics_, *this),
      loop_(clock, claimer_,
            {.catchup_window = config.catchup_window,
             .max_fires_per_pass = kMaxFiresPerPass,
             .lead = kFireLead},
            &metrics_.scheduled_stores),
      listener_(
          pool.options().url, {kEventsChannel, kStoresChannel},
          [this](const std::string& channel, const std::string& payload) {
            OnNotification(channel, payload);
          },
          [this] {
            // Notifications were missed while disconnected: refresh every local watcher and
            // the schedule.
            for (const std::string& id : hub_.WatchedStores()) {
              rpc_pool_.Submit([this, id] {
                absl::StatusOr<autosync::v1::SyncStatus> st = Status(id);
                if (!st.ok()) return;
                WatchEvent event;
                event.set_store_id(id);
                *event.mutable_status() = *st;
                hub_.Deliver(event);
              });
            }
          }) {}

SchedulerCore::~SchedulerCore() { Stop(); }

absl::StatusOr<int> SchedulerCore::LoadEverySchedule(absl::StatusOr<int64_t> version,
                                                     bool catch_up) {
  absl::StatusOr<std::vector<StoreSchedule>> schedules = repo_.LoadSchedules();
  if (!schedules.ok()) return schedules.status();
  const int unusable = loop_.Load(*schedules, catch_up);
  loaded_version_ = version.ok() ? std::optional<int64_t>(*version) : std::nullopt;
  loaded_at_ = clock_.Now();
  return unusable;
}

absl::Status SchedulerCore::Start() {
  // Before the first boundary can fire: its claim finds its connections ready.
  claimer_.Warm();
  absl::StatusOr<int> unusable_or = LoadEverySchedule(repo_.StoresVersion(), /*catch_up=*/true);
  if (!unusable_or.ok()) return unusable_or.status();
  const int unusable = *unusable_or;
  ReleaseFreedMemory();
  if (unusable > 0) {
    common::LogWarn("stores with an unusable schedule are not scheduled",
                    {{"count", absl::StrCat(unusable)}});
  }
  listener_.Start();
  listener_.WaitListening(absl::Seconds(5));
  notifier_.Start();
  loop_.Start();
  executor_.Start();
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  housekeeping_ = std::thread([this] { Housekeeping(); });
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
  loop_.Stop();
  claimer_.Stop();
  executor_.Stop();
  announce_pool_.Stop();
  if (housekeeping_.joinable()) housekeeping_.join();
  notifier_.Stop();
  listener_.Stop();
  rpc_pool_.Stop();
}

bool SchedulerCore::stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool SchedulerCore::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stop), d);
}

// ---- Registry ----

absl::StatusOr<autosync::v1::UpsertStoreResponse> SchedulerCore::UpsertStore(
    const autosync::v1::UpsertStoreRequest& request, const AuditEntry* audit) {
  if (request.expected_version() < 0) {
    return absl::InvalidArgumentError("expected_version: must not be negative");
  }
  if (request.expected_version() > 0 && request.create_only()) {
    return absl::InvalidArgumentError(
        "create_only: a create has no version to expect (drop expected_version)");
  }
  absl::StatusOr<autosync::v1::Store> normalized =
      NormalizeStore(request.store(), {.schedule = config_.default_schedule,
                                       .ads_schedule = config_.default_ads_schedule,
                                       .timezone = config_.default_timezone,
                                       .staleness_seconds = config_.default_staleness_seconds,
                                       .orders_api = config_.default_orders_api});
  if (!normalized.ok()) return normalized.status();
  auto stored = repo_.UpsertStore(*normalized, {.expected_version = request.expected_version(),
                                                .create_only = request.create_only(),
                                                .audit = audit});
  if (!stored.ok()) return stored.status();
  autosync::v1::UpsertStoreResponse response;
  *response.mutable_store() = stored->first;
  response.set_created(stored->second);
  StoreChanged(normalized->store_id());
  return response;
}

absl::StatusOr<autosync::v1::Store> SchedulerCore::SetEnabled(const std::string& store_id,
                                                              bool enabled, const std::string& note,
                                                              const AuditEntry* audit) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  autosync::v1::Store probe;
  probe.set_pause_note(note);
  probe.set_store_id(store_id);
  // The note obeys the rules of a stored pause_note (length, no control characters).
  if (absl::StatusOr<autosync::v1::Store> checked = NormalizeStore(probe, {}); !checked.ok()) {
    absl::Status s = checked.status();
    return absl::InvalidArgumentError(
        absl::StrCat("note: ", absl::StripPrefix(s.message(), "pause_note: ")));
  }
  absl::StatusOr<autosync::v1::Store> stored = repo_.SetEnabled(store_id, enabled, note, audit);
  if (!stored.ok()) return stored.status();
  StoreChanged(store_id);
  return stored;
}

void SchedulerCore::StoreChanged(const std::string& store_id) {
  ReloadSchedule(store_id);
  // Other replicas reload it too; their periodic refresh is the safety net if this is lost.
  if (absl::Status s = repo_.Notify(kStoresChannel, store_id); !s.ok()) {
    common::LogWarn("other replicas not told of a changed store; their refresh will",
                    {{"store", store_id}, {"error", s.message()}});
  }
  PublishStatus(store_id);
}

absl::StatusOr<autosync::v1::Store> SchedulerCore::GetStore(const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  return repo_.GetStore(store_id);
}

absl::StatusOr<autosync::v1::ListStoresResponse> SchedulerCore::ListStores(
    const autosync::v1::ListStoresRequest& request) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  const int size = request.page_size() == 0 ? 100 : std::min(request.page_size(), 1000);
  std::string after;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodeToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    if (!common::ValidateStoreId(*decoded).ok()) {
      return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
    }
    after = *decoded;
  }
  auto stores = repo_.ListStores(after, size + 1);
  if (!stores.ok()) return stores.status();
  autosync::v1::ListStoresResponse response;
  const bool more = static_cast<int>(stores->size()) > size;
  if (more) stores->resize(static_cast<size_t>(size));
  for (auto& s : *stores) *response.add_stores() = std::move(s);
  if (more) response.set_next_page_token(EncodeToken(response.stores().rbegin()->store_id()));
  return response;
}

absl::Status SchedulerCore::DeleteStore(const std::string& store_id, const AuditEntry* audit) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  if (absl::Status s = repo_.DeleteStore(store_id, audit); !s.ok()) return s;
  loop_.Remove(store_id);
  // A run of this replica for the deleted store has nothing left to write to (its queued runs
  // went with the store's rows).
  executor_.CancelStore(store_id);
  if (absl::Status s = repo_.Notify(kStoresChannel, store_id); !s.ok()) {
    common::LogWarn("other replicas not told of a deleted store; their refresh will",
                    {{"store", store_id}, {"error", s.message()}});
  }
  return absl::OkStatus();
}

void SchedulerCore::ReloadSchedule(const std::string& store_id) {
  absl::StatusOr<std::optional<StoreSchedule>> schedule = repo_.LoadSchedule(store_id);
  if (!schedule.ok()) return;  // the periodic refresh catches up
  if (!schedule->has_value()) {
    loop_.Remove(store_id);
  } else {
    loop_.Upsert(**schedule);
  }
}

// ---- Status, runs, LTV, connections ----

absl::StatusOr<autosync::v1::SyncStatus> SchedulerCore::Status(const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  absl::StatusOr<StatusRow> row = repo_.LoadStatus(store_id, kConnectionsTtl);
  if (!row.ok()) return row.status();
  autosync::v1::SyncStatus status = std::move(row->status);
  if (status.queued()) {
    status.set_estimated_wait_seconds(executor_.EstimateWait(status.queue_position()));
  }
  // The next fire of each schedule still to come (a boundary that passed whose jitter has not
  // is included), and of either. A cron job: enabled, and a schedule that fires.
  status.set_has_cron_job(false);
  absl::StatusOr<absl::TimeZone> tz = LoadZone(status.timezone());
  if (status.enabled() && tz.ok()) {
    const absl::Duration jitter = JitterFor(store_id, row->jitter_seconds);
    const absl::Time from = clock_.Now() - jitter;
    std::optional<absl::Time> next_any;
    auto next_of = [&](const std::string& expr) -> std::optional<absl::Time> {
      absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(expr);
      if (!schedule.ok()) return std::nullopt;
      absl::StatusOr<absl::Time> next = schedule->NextAfter(from, *tz);
      if (!next.ok()) return std::nullopt;
      next_any = next_any.has_value() ? std::min(*next_any, *next) : *next;
      return *next + jitter;
    };
    if (std::optional<absl::Time> t = next_of(status.schedule()); t.has_value()) {
      ToProto(*t, status.mutable_next_orders_fire_time());
    }
    if (std::optional<absl::Time> t =
            next_of(status.ads_schedule().empty() ? status.schedule() : status.ads_schedule());
        t.has_value()) {
      ToProto(*t, status.mutable_next_ads_fire_time());
    }
    if (next_any.has_value()) {
      status.set_has_cron_job(true);
      ToProto(*next_any + jitter, status.mutable_next_fire_time());
    }
  }
  return status;
}

absl::StatusOr<autosync::v1::ListRunsResponse> SchedulerCore::ListRuns(
    const autosync::v1::ListRunsRequest& request) {
  if (absl::Status s = common::ValidateStoreId(request.store_id()); !s.ok()) return s;
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  const int size = request.page_size() == 0 ? 20 : std::min(request.page_size(), 200);
  std::optional<std::pair<absl::Time, std::string>> before;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodeToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    std::pair<std::string, std::string> parts = absl::StrSplit(*decoded, absl::MaxSplits('|', 1));
    int64_t micros = 0;
    if (!absl::SimpleAtoi(parts.first, &micros) || !common::ValidateRunId(parts.second).ok()) {
      return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
    }
    before = {absl::FromUnixMicros(micros), parts.second};
  }
  auto runs = repo_.ListRuns(request.store_id(), before, size + 1);
  if (!runs.ok()) return runs.status();
  autosync::v1::ListRunsResponse response;
  const bool more = static_cast<int>(runs->size()) > size;
  if (more) runs->resize(static_cast<size_t>(size));
  for (auto& r : *runs) *response.add_runs() = std::move(r);
  if (more) {
    const autosync::v1::Run& last = *response.runs().rbegin();
    response.set_next_page_token(EncodeToken(
        absl::StrCat(absl::ToUnixMicros(FromProto(last.queued_at())), "|", last.run_id())));
  }
  return response;
}

absl::StatusOr<autosync::v1::ListQuarantineResponse> SchedulerCore::ListQuarantine(
    const autosync::v1::ListQuarantineRequest& request) {
  if (absl::Status s = common::ValidateStoreId(request.store_id()); !s.ok()) return s;
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  const std::string& kind = request.kind();
  if (!kind.empty() && kind != "order" && kind != "ad") {
    return absl::InvalidArgumentError("kind: must be \"order\", \"ad\" or empty (both)");
  }
  const int size = request.page_size() == 0 ? 50 : std::min(request.page_size(), 200);
  std::optional<Repository::QuarantineCursor> after;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodeToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    std::vector<std::string> parts = absl::StrSplit(*decoded, absl::MaxSplits('|', 2));
    int64_t micros = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &micros) ||
        (parts[1] != "order" && parts[1] != "ad") || parts[2].empty() || parts[2].size() > 200) {
      return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
    }
    after = Repository::QuarantineCursor{absl::FromUnixMicros(micros), parts[1], parts[2]};
  }
  auto page = repo_.ListQuarantine(request.store_id(), kind, after, size + 1);
  if (!page.ok()) return page.status();
  if (page->records_size() > size) {
    page->mutable_records()->DeleteSubrange(size, page->records_size() - size);
    const autosync::v1::QuarantinedRecord& last = *page->records().rbegin();
    page->set_next_page_token(
        EncodeToken(absl::StrCat(absl::ToUnixMicros(FromProto(last.last_seen())), "|", last.kind(),
                                 "|", last.record_key())));
  }
  return page;
}

absl::StatusOr<autosync::v1::GetLtvCohortsResponse> SchedulerCore::LtvCohorts(
    const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  return repo_.LtvCohorts(store_id);
}

absl::StatusOr<autosync::v1::ImportFxRatesResponse> SchedulerCore::ImportFxRates(
    const autosync::v1::ImportFxRatesRequest& request, const AuditEntry* audit) {
  if (request.csv().size() > kMaxFxCsvBytes) {
    return absl::InvalidArgumentError(absl::StrCat("csv: ", request.csv().size(),
                                                   " bytes, more than the ", kMaxFxCsvBytes >> 20,
                                                   " MiB allowed: import the file in parts"));
  }
  absl::StatusOr<FxRatesTable> table = ParseFxRatesCsv(request.csv());
  if (!table.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("csv: ", table.status().message()));
  }
  absl::StatusOr<int64_t> stored = repo_.ImportFxRates(*table, audit);
  if (!stored.ok()) return stored.status();
  autosync::v1::ImportFxRatesResponse response;
  response.set_days(table->days);
  response.set_rates(*stored);
  if (table->days > 0) {
    response.set_first_day(absl::FormatCivilTime(table->first_day));
    response.set_last_day(absl::FormatCivilTime(table->last_day));
  }
  return response;
}

absl::StatusOr<autosync::v1::ListAuditResponse> SchedulerCore::ListAudit(
    const autosync::v1::ListAuditRequest& request) {
  if (request.page_size() < 0 || request.page_size() > 500) {
    return absl::InvalidArgumentError("page_size: must be between 0 (= 100) and 500");
  }
  AuditQuery query{.store_id = request.store_id(),
                   .action = request.action(),
                   .limit = request.page_size() == 0 ? 100 : request.page_size()};
  if (!query.store_id.empty()) {
    if (absl::Status s = common::ValidateStoreId(query.store_id); !s.ok()) return s;
  }
  if (query.action.size() > 64) return absl::InvalidArgumentError("action: is too long");
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &query.before) || query.before < 1)) {
    return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
  }
  // One more than asked: whether there is a next page.
  const int limit = query.limit;
  query.limit = limit + 1;
  auto entries = repo_.ListAudit(query);
  if (!entries.ok()) return entries.status();
  autosync::v1::ListAuditResponse response;
  const bool more = static_cast<int>(entries->size()) > limit;
  if (more) entries->resize(static_cast<size_t>(limit));
  for (auto& e : *entries) *response.add_entries() = std::move(e);
  if (more) response.set_next_page_token(absl::StrCat(response.entries().rbegin()->id()));
  return response;
}

absl::Status SchedulerCore::ReportConnections(
    const autosync::v1::ReportConnectionsRequest& request) {
  const std::string& gateway = request.gateway_id();
  if (gateway.empty() || gateway.size() > 128) {
    return absl::InvalidArgumentError("gateway_id: must be 1-128 characters");
  }
  for (char c : gateway) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("gateway_id: contains control characters");
    }
  }
  if (request.stores_size() > 100000) {
    return absl::InvalidArgumentError("stores: more than 100000 entries");
  }
  absl::flat_hash_map<std::string, int> merged;
  for (const auto& s : request.stores()) {
    if (absl::Status st = common::ValidateStoreId(s.store_id()); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("stores: ", st.message()));
    }
    if (s.connections() < 0) {
      return absl::InvalidArgumentError("stores: connections must not be negative");
    }
    if (s.connections() > 0) merged[s.store_id()] += s.connections();
  }
  std::vector<std::pair<std::string, int>> rows(merged.begin(), merged.end());
  absl::StatusOr<std::vector<std::string>> changed =
      repo_.ReportConnections(gateway, rows, kConnectionsTtl);
  if (!changed.ok()) return changed.status();
  // The watchers of a store whose count moved get its status (activeConnections) now, not at
  // its next run, on every replica (a store with clients is watched by their gateway).
  // Bounded: a gateway that restarts with many stores publishes at most this many.
  constexpr size_t kMaxPublished = 1000;
  for (size_t i = 0; i < changed->size() && i < kMaxPublished; ++i) {
    rpc_pool_.Submit([this, id = (*changed)[i]] { PublishStatus(id); });
  }
  return absl::OkStatus();
}

// ---- Runs ----

absl::StatusOr<autosync::v1::TriggerSyncResponse> SchedulerCore::TriggerSync(
    const autosync::v1::TriggerSyncRequest& request, const AuditEntry* audit) {
  if (absl::Status s = common::ValidateStoreId(request.store_id()); !s.ok()) return s;
  autosync::v1::Trigger trigger = request.trigger();
  if (trigger == autosync::v1::TRIGGER_CRON) {
    return absl::InvalidArgumentError("trigger: CRON is for the schedule; use MANUAL or API");
  }
  if (trigger != autosync::v1::TRIGGER_MANUAL) trigger = autosync::v1::TRIGGER_API;
  absl::StatusOr<BackfillRange> backfill =
      ParseBackfillRange(request.backfill_from(), request.backfill_to());
  if (!backfill.ok()) return backfill.status();
  if (stopping()) return absl::UnavailableError("this scheduler replica is shutting down");
  const bool is_backfill = !backfill->from.empty();
  absl::StatusOr<EnqueueResult> queued =
      executor_.Enqueue({.store_id = request.store_id(),
                         .run_id = common::NewRunId(),
                         .trigger = trigger,
                         .priority = is_backfill ? RunPriority::kLow : RunPriority::kPerson,
                         .force = request.force(),
                         .types = is_backfill ? kOrdersType : kAllDataTypes,
                         .backfill_from = backfill->from,
                         .backfill_to = backfill->to,
                         .owner = config_.replica_id,
                         .audit = audit});
  if (!queued.ok()) return queued.status();
  if (is_backfill && !queued->queued) {
    return absl::AlreadyExistsError(
        absl::StrCat("a sync of ", request.store_id(), " is already queued or running (run ",
                     queued->run_id, "); queue the backfill after it ends"));
  }
  autosync::v1::TriggerSyncResponse response;
  response.set_run_id(queued->run_id);
  response.set_started(queued->queued);
  if (queued->queued && is_backfill) {
    response.set_message(absl::StrCat("backfill of ", request.store_id(), " (orders created ",
                                      backfill->from, " to ", backfill->to,
                                      ") queued after scheduled runs"));
  } else if (queued->queued) {
    response.set_message(
        absl::StrCat("sync of ", request.store_id(), " queued ahead of scheduled runs"));
  } else if (queued->promoted) {
    response.set_message(absl::StrCat("a sync of ", request.store_id(), " was already queued (run ",
                                      queued->run_id, "); moved ahead of scheduled runs"));
  } else {
    response.set_message(absl::StrCat("a sync of ", request.store_id(),
                                      " is already queued or running (run ", queued->run_id, ")"));
  }
  PublishStatus(request.store_id());
  return response;
}

void SchedulerCore::OnSkips(std::vector<SyncProgress> skips) { AnnounceSkips(std::move(skips)); }

void SchedulerCore::OnQueued() { executor_.Wake(); }

void SchedulerCore::OnNotScheduled(const std::string& store_id) { loop_.Remove(store_id); }

void SchedulerCore::AnnounceSkips(std::vector<SyncProgress> skips) {
  // A few hundred stores a task: the two announce threads share a large boundary.
  constexpr size_t kPerTask = 256;
  for (size_t begin = 0; begin < skips.size(); begin += kPerTask) {
    const size_t end = std::min(skips.size(), begin + kPerTask);
    std::vector<SyncProgress> part(
        std::make_move_iterator(skips.begin() + static_cast<ptrdiff_t>(begin)),
        std::make_move_iterator(skips.begin() + static_cast<ptrdiff_t>(end)));
    auto announce = [this, part = std::move(part)] {
      for (const SyncProgress& progress : part) {
        PublishProgress(progress);
        PublishStatus(progress.store_id());
      }
    };
    // Stopping: announced here (the pool no longer takes work).
    if (!announce_pool_.Submit(announce)) announce();
  }
}

// ---- Relay ----

void SchedulerCore::Publish(const WatchEvent& event) {
  // This replica's watchers get the event at once; other replicas' through NOTIFY, whose echo
  // here is dropped by its origin. PostgreSQL stays off the local path: when it is busy (an
  // ingest in flight) its two process hops made the tail of the end-to-end latency. While the
  // database is unreachable other replicas miss the event; their watchers' status is refreshed
  // when their listener reconnects.
  hub_.Deliver(event);
  std::optional<std::string> payload = EncodeEvent(event, origin_);
  if (!payload.has_value()) return;
  if (absl::Status s = repo_.Notify(kEventsChannel, *payload); !s.ok()) {
    common::LogDebug("event not relayed to other replicas", {{"error", s.message()}});
  }
}

void SchedulerCore::PublishProgress(const SyncProgress& progress) {
  WatchEvent event;
  event.set_store_id(progress.store_id());
  *event.mutable_progress() = progress;
  Publish(event);
}

void SchedulerCore::DeliverLocal(const SyncProgress& progress) {
  WatchEvent event;
  event.set_store_id(progress.store_id());
  *event.mutable_progress() = progress;
  hub_.Deliver(event);
}

std::vector<std::string> SchedulerCore::WatchedStores() { return hub_.WatchedStores(); }

void SchedulerCore::OnRunFailed(const std::string& store_id, const std::string& run_id,
                                const std::string& error) {
  notifier_.Enqueue({.condition = NotifyCondition::kRunFailed,
                     .store_id = store_id,
                     .run_id = run_id,
                     .error = error,
                     .staleness_seconds = 0,
                     .time = clock_.Now()});
}

void SchedulerCore::PublishStatus(const std::string& store_id) {
  absl::StatusOr<autosync::v1::SyncStatus> status = Status(store_id);
  if (!status.ok()) return;
  WatchEvent event;
  event.set_store_id(store_id);
  *event.mutable_status() = *std::move(status);
  Publish(event);
}

void SchedulerCore::OnNotification(const std::string& channel, const std::string& payload) {
  if (channel == kEventsChannel) {
    absl::StatusOr<RelayedEvent> relayed = DecodeEvent(payload);
    if (relayed.ok() && relayed->origin != origin_) hub_.Deliver(relayed->event);
    return;
  }
  if (channel == kStoresChannel && common::ValidateStoreId(payload).ok()) {
    rpc_pool_.Submit([this, payload] { ReloadSchedule(payload); });
  }
}

// ---- Housekeeping: heartbeats, reaping, schedule refresh ----

void SchedulerCore::ExportFreshness() {
  const absl::Time since = clock_.Now() - kSuccessesOverlap;
  absl::StatusOr<std::vector<StoreFreshness>> stores = repo_.LoadFreshness();
  if (!stores.ok()) return;  // keep the last values; the next refresh tries again
  // Deleted or paused stores are not in the new set, so they stop being exported (never alert).
  metrics_.store_freshness->Replace(*std::move(stores));
  successes_since_ = since;
  if (absl::StatusOr<std::vector<NotifyStore>> notify = repo_.LoadNotifyStores(); notify.ok()) {
    notify_stores_ = *std::move(notify);
  }
}

void SchedulerCore::NotifyStaleStores() {
  const absl::Time now = clock_.Now();
  for (const NotifyStore& store : notify_stores_) {
    std::optional<StoreFreshness> row = metrics_.store_freshness->Find(store.store_id);
    if (!row.has_value() ||
        !IsDataStale(row->last_success_unix, store.created_at, row->staleness_seconds, now)) {
      continue;
    }
    // The notifier claims it (once an hour per store, across replicas) or counts it suppressed.
    notifier_.Enqueue({.condition = NotifyCondition::kDataStale,
                       .store_id = store.store_id,
                       .run_id = "",
                       .error = "",
                       .staleness_seconds = row->staleness_seconds,
                       .time = now});
  }
}

void SchedulerCore::Refresh() {
  absl::StatusOr<int64_t> version = repo_.StoresVersion();
  const bool changed = !version.ok() || !loaded_version_.has_value() ||
                       *version != *loaded_version_ ||
                       clock_.Now() - loaded_at_ >= kFullRefreshEvery;
  if (changed) {
    if (LoadEverySchedule(version, /*catch_up=*/false).ok()) {
      metrics_.refreshes_reloaded.Increment();
    }
    ExportFreshness();
    ReleaseFreedMemory();
    NotifyStaleStores();
    return;
  }
  // Nothing changed in the stores: only the runs completed since the last look (and an overlap,
  // for a run whose end committed late) move the gauges.
  const absl::Time since = clock_.Now() - kSuccessesOverlap;
  absl::StatusOr<std::vector<std::pair<std::string, double>>> latest =
      repo_.LoadSuccessesSince(successes_since_);
  if (!latest.ok()) return;  // the next refresh reads from the same point
  metrics_.refreshes_unchanged.Increment();
  metrics_.store_freshness->Advance(*latest);
  successes_since_ = since;
  NotifyStaleStores();
}

void SchedulerCore::ExportQueue() {
  absl::StatusOr<QueueStats> stats = queue_.Stats();
  if (!stats.ok()) return;  // keep the last values
  metrics_.queue_depth_manual.Set(static_cast<double>(stats->depth[0]));
  metrics_.queue_depth_cron.Set(static_cast<double>(stats->depth[1]));
  metrics_.queue_depth_low.Set(static_cast<double>(stats->depth[2]));
  metrics_.queue_oldest_seconds.Set(absl::ToDoubleSeconds(stats->oldest));
  metrics_.queue_overdue_runs.Set(static_cast<double>(stats->overdue));
  metrics_.worker_slots_total.Set(stats->slots);
  metrics_.worker_slots_free.Set(std::max(0, stats->slots - stats->running));
}

void SchedulerCore::Housekeeping() {
  absl::Time next_refresh = clock_.Now() + config_.schedule_refresh;
  ExportFreshness();
  ReleaseFreedMemory();
  NotifyStaleStores();
  while (SleepUnlessStopping(config_.heartbeat_interval())) {
    const std::vector<RunKey> mine = executor_.ActiveRuns();
    if (absl::Status s = repo_.Heartbeat(mine); !s.ok()) {
      common::LogWarn("cannot heartbeat runs", {{"error", s.message()}});
    }
    absl::StatusOr<std::vector<ReapedRun>> reaped =
        repo_.ReapStale(config_.run_stale, kMaxAttempts, config_.replica_id);
    if (reaped.ok()) {
      for (const ReapedRun& r : *reaped) {
        metrics_.runs_reaped.Increment();
        common::LogWarn("run reaped: its owner stopped heartbeating",
                        {{"store", r.store_id}, {"run", r.run_id}});
        SyncProgress p;
        p.set_store_id(r.store_id);
        p.set_run_id(r.run_id);
        p.set_stage(autosync::v1::STAGE_FAILED);
        p.set_message("Sync failed");
        p.set_error(r.error);
        ToProto(clock_.Now(), p.mutable_time());
        PublishProgress(p);
        PublishStatus(r.store_id);
        // The last attempt reaped, nothing after it: failed for good.
        if (r.follow_up_run_id.empty() && r.attempt >= kMaxAttempts) {
          OnRunFailed(r.store_id, r.run_id, r.error);
        }
        if (!r.follow_up_run_id.empty()) {
          metrics_.runs_queued.Increment();
          common::LogInfo("new run queued after a reaped run",
                          {{"store", r.store_id},
                           {"run", r.follow_up_run_id},
                           {"attempt", absl::StrCat(r.attempt + 1)}});
          executor_.Wake();
        }
      }
    }
    ExportQueue();
    claimer_.VerifyLost();
    if (clock_.Now() >= next_refresh) {
      next_refresh = clock_.Now() + config_.schedule_refresh;
      absl::StatusOr<int64_t> pruned =
          queue_.PruneHistory(config_.run_history, kPruneBatch, kPruneBatches);
      if (pruned.ok()) {
        metrics_.runs_pruned.Increment(static_cast<double>(*pruned));
      } else {
        common::LogWarn("cannot prune run history", {{"error", pruned.status().message()}});
      }
      if (absl::StatusOr<int64_t> old = repo_.PruneGroupClaims(kGroupClaimsKept); !old.ok()) {
        common::LogWarn("cannot prune old group claims", {{"error", old.status().message()}});
      }
      Refresh();
    }
  }
}

}  // namespace autosync::scheduler
