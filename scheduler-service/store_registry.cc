#include "scheduler-service/store_registry.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids.h"
#include "common/log.h"
#include "scheduler-service/fx_rates_csv.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

std::string EncodeToken(absl::string_view text) { return absl::WebSafeBase64Escape(text); }

absl::StatusOr<std::string> DecodeToken(absl::string_view token) {
  std::string out;
  if (token.size() > 512 || !absl::WebSafeBase64Unescape(token, &out)) {
    return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
  }
  return out;
}

}  // namespace

StoreRegistry::StoreRegistry(const SchedulerConfig& config, const Clock& clock,
                             RegistryStore& store, EventChannel& channel, ScheduleLoop& loop,
                             RunExecutor& executor, EventRelay& relay, common::ThreadPool& rpc_pool)
    : config_(config),
      clock_(clock),
      store_(store),
      channel_(channel),
      loop_(loop),
      executor_(executor),
      relay_(relay),
      rpc_pool_(rpc_pool) {}

absl::StatusOr<autosync::v1::UpsertStoreResponse> StoreRegistry::UpsertStore(
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
  auto stored = store_.UpsertStore(*normalized, {.expected_version = request.expected_version(),
                                                 .create_only = request.create_only(),
                                                 .audit = audit});
  if (!stored.ok()) return stored.status();
  autosync::v1::UpsertStoreResponse response;
  *response.mutable_store() = stored->first;
  response.set_created(stored->second);
  StoreChanged(normalized->store_id());
  return response;
}

absl::StatusOr<autosync::v1::Store> StoreRegistry::SetEnabled(const std::string& store_id,
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
  absl::StatusOr<autosync::v1::Store> stored = store_.SetEnabled(store_id, enabled, note, audit);
  if (!stored.ok()) return stored.status();
  StoreChanged(store_id);
  return stored;
}

void StoreRegistry::StoreChanged(const std::string& store_id) {
  ReloadSchedule(store_id);
  // Other replicas reload it too; their periodic refresh is the safety net if this is lost.
  if (absl::Status s = channel_.Notify(kStoresChannel, store_id); !s.ok()) {
    common::LogWarn("other replicas not told of a changed store; their refresh will",
                    {{"store", store_id}, {"error", s.message()}});
  }
  relay_.PublishStatus(store_id);
}

absl::StatusOr<autosync::v1::Store> StoreRegistry::GetStore(const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  return store_.GetStore(store_id);
}

absl::StatusOr<autosync::v1::ListStoresResponse> StoreRegistry::ListStores(
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
  auto stores = store_.ListStores(after, size + 1);
  if (!stores.ok()) return stores.status();
  autosync::v1::ListStoresResponse response;
  const bool more = static_cast<int>(stores->size()) > size;
  if (more) stores->resize(static_cast<size_t>(size));
  for (auto& s : *stores) *response.add_stores() = std::move(s);
  if (more) response.set_next_page_token(EncodeToken(response.stores().rbegin()->store_id()));
  return response;
}

absl::Status StoreRegistry::DeleteStore(const std::string& store_id, const AuditEntry* audit) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  if (absl::Status s = store_.DeleteStore(store_id, audit); !s.ok()) return s;
  loop_.Remove(store_id);
  // A run of this replica for the deleted store has nothing left to write to (its queued runs
  // went with the store's rows).
  executor_.CancelStore(store_id);
  if (absl::Status s = channel_.Notify(kStoresChannel, store_id); !s.ok()) {
    common::LogWarn("other replicas not told of a deleted store; their refresh will",
                    {{"store", store_id}, {"error", s.message()}});
  }
  return absl::OkStatus();
}

void StoreRegistry::ReloadSchedule(const std::string& store_id) {
  absl::StatusOr<std::optional<StoreSchedule>> schedule = store_.LoadSchedule(store_id);
  if (!schedule.ok()) {
    common::LogWarn("cannot reload a changed store's schedule; the refresh will",
                    {{"store", store_id}, {"error", schedule.status().message()}});
    return;
  }
  if (!schedule->has_value()) {
    loop_.Remove(store_id);
  } else {
    loop_.Upsert(**schedule);
  }
}

// ---- Status, runs, LTV, connections ----

absl::StatusOr<autosync::v1::SyncStatus> StoreRegistry::Status(const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  absl::StatusOr<StatusRow> row = store_.LoadStatus(store_id, kConnectionsTtl);
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

absl::StatusOr<autosync::v1::ListRunsResponse> StoreRegistry::ListRuns(
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
  auto runs = store_.ListRuns(request.store_id(), before, size + 1);
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

absl::StatusOr<autosync::v1::ListQuarantineResponse> StoreRegistry::ListQuarantine(
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
  std::optional<QuarantineCursor> after;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodeToken(request.page_token());
    if (!decoded.ok()) return decoded.status();
    std::vector<std::string> parts = absl::StrSplit(*decoded, absl::MaxSplits('|', 2));
    int64_t micros = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &micros) ||
        (parts[1] != "order" && parts[1] != "ad") || parts[2].empty() || parts[2].size() > 200) {
      return absl::InvalidArgumentError("page_token: is malformed (pass back next_page_token)");
    }
    after = QuarantineCursor{absl::FromUnixMicros(micros), parts[1], parts[2]};
  }
  auto page = store_.ListQuarantine(request.store_id(), kind, after, size + 1);
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

absl::StatusOr<autosync::v1::GetLtvCohortsResponse> StoreRegistry::LtvCohorts(
    const std::string& store_id) {
  if (absl::Status s = common::ValidateStoreId(store_id); !s.ok()) return s;
  return store_.LtvCohorts(store_id);
}

absl::StatusOr<autosync::v1::ImportFxRatesResponse> StoreRegistry::ImportFxRates(
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
  absl::StatusOr<int64_t> stored = store_.ImportFxRates(*table, audit);
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

absl::StatusOr<autosync::v1::ListAuditResponse> StoreRegistry::ListAudit(
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
  auto entries = store_.ListAudit(query);
  if (!entries.ok()) return entries.status();
  autosync::v1::ListAuditResponse response;
  const bool more = static_cast<int>(entries->size()) > limit;
  if (more) entries->resize(static_cast<size_t>(limit));
  for (auto& e : *entries) *response.add_entries() = std::move(e);
  if (more) response.set_next_page_token(absl::StrCat(response.entries().rbegin()->id()));
  return response;
}

absl::Status StoreRegistry::ReportConnections(
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
      store_.ReportConnections(gateway, rows, kConnectionsTtl);
  if (!changed.ok()) return changed.status();
  // The watchers of a store whose count moved get its status (activeConnections) now, not at
  // its next run, on every replica (a store with clients is watched by their gateway).
  // Bounded: a gateway that restarts with many stores publishes at most this many.
  constexpr size_t kMaxPublished = 1000;
  for (size_t i = 0; i < changed->size() && i < kMaxPublished; ++i) {
    rpc_pool_.Submit([this, id = (*changed)[i]] { relay_.PublishStatus(id); });
  }
  return absl::OkStatus();
}

// ---- Runs ----

absl::StatusOr<autosync::v1::TriggerSyncResponse> StoreRegistry::TriggerSync(
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
  if (stopping_.load()) return absl::UnavailableError("this scheduler replica is shutting down");
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
  relay_.PublishStatus(request.store_id());
  return response;
}

}  // namespace autosync::scheduler
