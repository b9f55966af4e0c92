#include "sync-worker/sync_pipeline.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "sync-worker/connectors/ads_client.h"
#include "sync-worker/connectors/graphql_orders_client.h"
#include "sync-worker/connectors/orders_client.h"

namespace autosync::worker {

using autosync::v1::Stage;
using autosync::v1::SyncProgress;

namespace {

// A run reads at most this many pages of deletion events (250 each); the rest waits for the
// next run (the cursor has moved to the last one applied).
constexpr int kMaxDeletionPages = 400;

// Fetches (HTTP + JSON parse) the next orders page on its own thread while the run's thread
// writes the current one: the store API, this process and PostgreSQL then work at the same time
// instead of taking turns (issue #9). Pages are still written strictly in order, so the cursor
// semantics are unchanged. One fetch in flight at a time; the client is used by one thread at a
// time (the caller starts a fetch, then touches the client only after Take()).
class PageFetcher final {
 public:
  explicit PageFetcher(OrdersSource& client) : client_(client), thread_([this] { Loop(); }) {}
  ~PageFetcher() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();  // an in-flight fetch ends within its request timeout (or at cancellation)
  }
  PageFetcher(const PageFetcher&) = delete;
  PageFetcher& operator=(const PageFetcher&) = delete;

  void Start(std::string next_url) {
    absl::MutexLock lock(&mu_);
    request_ = std::move(next_url);
  }

  // Waits for the page Start asked for.
  absl::StatusOr<OrdersPage> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::optional<absl::StatusOr<OrdersPage>>* r) { return r->has_value(); }, &result_));
    absl::StatusOr<OrdersPage> page = *std::move(result_);
    result_.reset();
    return page;
  }

 private:
  void Loop() {
    while (true) {
      std::string url;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &PageFetcher::HasWork));
        if (!request_.has_value()) return;  // stopping, nothing asked
        url = *std::move(request_);
        request_.reset();
      }
      absl::StatusOr<OrdersPage> page = client_.NextPage(url);
      absl::MutexLock lock(&mu_);
      result_ = std::move(page);
    }
  }
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return request_.has_value() || stopping_;
  }

  OrdersSource& client_;
  absl::Mutex mu_;
  std::optional<std::string> request_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::StatusOr<OrdersPage>> result_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after the members it reads
};

}  // namespace

// The state of the run in progress.
struct SyncPipeline::RunState {
  autosync::v1::RunSyncRequest request;
  bool orders = true;  // the data types this run syncs
  bool ads = true;
  // A backfill: orders created within this range are re-read; the cursor stays.
  std::optional<OrdersClient::CreatedRange> backfill;
  StoreConfig store;
  Credentials credentials;
  std::unique_ptr<HttpTransport> transport;
  autosync::v1::StageCounts counts;
  const EmitFn* emit = nullptr;
  absl::Time started;
  // This run re-reads the orders / ad days of the late-change sweep, or reads everything (a
  // first or forced sync): either is recorded as a sweep at the end of the stage.
  bool orders_sweep = false;
  bool ads_sweep = false;
  // Progress never goes back on the wire: a stage's phases (an async report's preparation, then
  // its pages) each measure their own share, and a dashboard's bar must only move forward.
  int last_progress = 0;

  void Emit(Stage stage, int progress, std::string message, std::string error = "",
            bool retryable = false) {
    SyncProgress p;
    p.set_store_id(request.store_id());
    p.set_run_id(request.run_id());
    p.set_stage(stage);
    last_progress = std::max(last_progress, std::clamp(progress, 0, 100));
    p.set_progress(last_progress);
    p.set_message(std::move(message));
    p.set_error(std::move(error));
    p.set_retryable(retryable);
    p.set_trigger(request.trigger());
    if (stage == autosync::v1::STAGE_STARTING) {
      if (orders) p.add_data_types("orders");
      if (ads) p.add_data_types("ads");
    }
    *p.mutable_counts() = counts;
    *p.mutable_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
    (*emit)(p);
  }
};

SyncPipeline::SyncPipeline(SyncStore& store, TransportFactory transports, Sleeper& sleeper,
                           const std::atomic<bool>& cancelled, PipelineOptions options,
                           WorkerMetrics* metrics)
    : store_(store),
      transports_(std::move(transports)),
      sleeper_(sleeper),
      cancelled_(cancelled),
      options_(options),
      metrics_(metrics) {}

absl::StatusOr<OrdersClient::CreatedRange> BackfillRange(absl::string_view from,
                                                         absl::string_view to,
                                                         absl::string_view timezone) {
  absl::CivilDay days[2];
  const absl::string_view values[2] = {from, to};
  const absl::string_view fields[2] = {"backfill_from", "backfill_to"};
  for (int i = 0; i < 2; ++i) {
    if (values[i].size() != 10 || !absl::ParseCivilTime(values[i], &days[i]) ||
        absl::FormatCivilTime(days[i]) != values[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(fields[i], ": is not a date YYYY-MM-DD (both are needed)"));
    }
  }
  if (days[1] < days[0]) {
    return absl::InvalidArgumentError("backfill_to: is before backfill_from");
  }
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!timezone.empty() && !absl::LoadTimeZone(std::string(timezone), &tz)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store's time zone \"", timezone, "\" is unknown to this worker"));
  }
  // Whole local days: from the first day's midnight to the last instant before the day after.
  return OrdersClient::CreatedRange{absl::FromCivil(days[0], tz),
                                    absl::FromCivil(days[1] + 1, tz) - absl::Seconds(1)};
}

void SyncPipeline::ReportSource(const RunState& run, absl::string_view api,
                                const ConnectorStats& stats) {
  if (metrics_ == nullptr) return;
  for (const std::string& notice : metrics_->SourceStats(api, stats, run.store.store_id)) {
    common::LogWarn(notice, {{"store", run.store.store_id}, {"api", api}});
  }
}

absl::Status SyncPipeline::CheckCancelled() const {
  if (cancelled_.load()) {
    return absl::CancelledError(
        "the run was cancelled; every page committed so far is kept and the next run resumes "
        "from the stored cursor");
  }
  return absl::OkStatus();
}

absl::Status SyncPipeline::Run(const autosync::v1::RunSyncRequest& request, const EmitFn& emit) {
  if (absl::Status s = common::ValidateStoreId(request.store_id()); !s.ok()) return s;
  RunState run;
  run.request = request;
  if (run.request.run_id().empty()) run.request.set_run_id(common::NewRunId());
  if (absl::Status s = common::ValidateRunId(run.request.run_id()); !s.ok()) return s;
  run.emit = &emit;
  run.started = absl::Now();

  if (!request.data_types().empty()) {
    run.orders = run.ads = false;
    for (const std::string& type : request.data_types()) {
      bool& flag = type == "orders" ? run.orders : run.ads;
      if ((type != "orders" && type != "ads") || flag) {
        return absl::InvalidArgumentError(absl::StrCat(
            "data_types: \"", type.substr(0, 40), "\" is unknown or repeated (use orders, ads)"));
      }
      flag = true;
    }
  }

  absl::StatusOr<StoreConfig> store = store_.LoadStore(request.store_id());
  if (!store.ok()) return store.status();
  run.store = *std::move(store);
  if (!request.backfill_from().empty() || !request.backfill_to().empty()) {
    absl::StatusOr<OrdersClient::CreatedRange> range =
        BackfillRange(request.backfill_from(), request.backfill_to(), run.store.timezone);
    if (!range.ok()) return range.status();
    run.backfill = *range;
    run.orders = true;
    run.ads = false;
  }

  std::string what = run.orders && run.ads ? "orders, ads" : run.orders ? "orders" : "ads";
  if (run.backfill.has_value()) {
    what = absl::StrCat("orders created ", request.backfill_from(), " to ", request.backfill_to(),
                        " (backfill)");
  }
  run.Emit(autosync::v1::STAGE_STARTING, 0,
           absl::StrCat("Starting sync of ", run.store.store_id, ": ", what,
                        request.force() ? " (full re-fetch)" : ""));

  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<Credentials> credentials = ResolveCredentials(run.store.credentials_ref);
    if (!credentials.ok()) return credentials.status();
    run.credentials = *std::move(credentials);
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport = transports_();
    if (!transport.ok()) return transport.status();
    run.transport = *std::move(transport);
    if (run.orders) {
      if (absl::Status s = SyncOrders(run); !s.ok()) return s;
      if (absl::Status s = EndSweep(run, "orders", run.orders_sweep); !s.ok()) return s;
    }
    if (run.ads) {
      if (absl::Status s = SyncAds(run); !s.ok()) return s;
      if (absl::Status s = EndSweep(run, "ads", run.ads_sweep); !s.ok()) return s;
    }
    // Every run recomputes the cohorts (incrementally: customers whose orders did not change
    // cost nothing), so a run that follows one cut off before its LTV stage completes it.
    return SyncLtv(run);
  }();

  const double seconds = absl::ToDoubleSeconds(absl::Now() - run.started);
  if (status.ok()) {
    const int64_t quarantined = run.counts.orders_quarantined() + run.counts.ads_quarantined();
    run.Emit(
        autosync::v1::STAGE_COMPLETED, 100,
        absl::StrCat(
            absl::StrFormat("Sync completed%s in %.1fs: %d orders written, %d ad rows "
                            "written, %d cohort rows",
                            quarantined > 0 ? " with warnings" : "", seconds,
                            run.counts.orders_written(), run.counts.ads_written(),
                            run.counts.cohort_rows()),
            quarantined > 0
                ? absl::StrFormat("; %d orders and %d ad rows broke a data rule and are in "
                                  "quarantine, not in the figures",
                                  run.counts.orders_quarantined(), run.counts.ads_quarantined())
                : ""));
    if (metrics_ != nullptr) metrics_->RunFinished("completed");
  } else {
    const bool cancelled = status.code() == absl::StatusCode::kCancelled;
    // Causes that pass on their own (the source or the database was unavailable, timed out
    // or throttled past its budget): the scheduler queues a retry with backoff. Bad
    // credentials, unknown shops and pages that do not parse need a person instead.
    const bool retryable = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kDeadlineExceeded ||
                           status.code() == absl::StatusCode::kResourceExhausted ||
                           status.code() == absl::StatusCode::kAborted;
    run.Emit(autosync::v1::STAGE_FAILED, 100, cancelled ? "Sync cancelled" : "Sync failed",
             std::string(status.message()), retryable && !cancelled);
    if (metrics_ != nullptr) metrics_->RunFinished(cancelled ? "cancelled" : "failed");
  }
  return absl::OkStatus();
}

absl::Status SyncPipeline::SyncOrders(RunState& run) {
  const absl::Time stage_start = absl::Now();
  if (run.store.orders_api_base.empty()) {
    return absl::FailedPreconditionError(
        "the store has no orders_api_base; set it with UpsertStore");
  }
  absl::StatusOr<std::optional<absl::Time>> cursor = store_.OrdersCursor(run.store.store_id);
  if (!cursor.ok()) return cursor.status();
  absl::Time from = absl::UnixEpoch();
  // Everything is read (no cursor, or forced): that is a sweep too.
  run.orders_sweep = !run.backfill.has_value() && (!cursor->has_value() || run.request.force());
  if (cursor->has_value() && !run.request.force() && !run.backfill.has_value()) {
    from = **cursor - options_.orders_lookback;
    absl::StatusOr<bool> due = SweepDue(run, "orders");
    if (!due.ok()) return due.status();
    if (*due && **cursor > absl::UnixEpoch()) {
      from = std::min(from, **cursor - options_.orders_sweep);
      run.orders_sweep = true;
      run.Emit(autosync::v1::STAGE_ORDERS, 5,
               absl::StrCat("Daily sweep: re-reading the orders updated in the ",
                            absl::FormatDuration(options_.orders_sweep),
                            " before the cursor, for changes that arrived late"));
    }
  }
  const absl::Time now = absl::Now();

  // REST or GraphQL Admin API, as the store says: the same pages of the same rows.
  const OrdersClientConfig api{.base_url = run.store.orders_api_base,
                               .api_version = run.store.orders_api_version,
                               .access_token = run.credentials.orders_token};
  // Everything (a first sync: no cursor, or only the epoch a cut-off bulk read left; a forced
  // full re-fetch) or a backfill's slice: a GraphQL store reads it as one bulk operation.
  const bool everything =
      !cursor->has_value() || **cursor <= absl::UnixEpoch() || run.request.force();
  if (run.store.orders_api == "graphql" && options_.graphql_bulk &&
      (everything || run.backfill.has_value())) {
    return EndOrdersStage(
        run, api, stage_start,
        SyncOrdersBulk(run, api,
                       !cursor->has_value() && !run.backfill.has_value() && !run.request.force()));
  }
  std::unique_ptr<OrdersSource> source;
  if (run.store.orders_api == "graphql") {
    source = std::make_unique<GraphqlOrdersClient>(api, *run.transport, sleeper_, options_.backoff,
                                                   options_.orders_client);
  } else {
    source = std::make_unique<OrdersClient>(api, *run.transport, sleeper_, options_.backoff,
                                            options_.orders_client);
  }
  OrdersSource& client = *source;
  run.Emit(autosync::v1::STAGE_ORDERS, 5,
           run.backfill.has_value()
               ? absl::StrCat("Fetching orders created ", run.request.backfill_from(), " to ",
                              run.request.backfill_to())
               : absl::StrCat(
                     "Fetching orders updated since ",
                     from == absl::UnixEpoch()
                         ? std::string("the beginning")
                         : absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", from, absl::UTCTimeZone())));

  // A store that never committed a page has no orders of ours yet: its pages can go straight
  // into the table (the store falls back to merging if one does not).
  bool likely_new = !cursor->has_value() && !run.backfill.has_value();
  int hint_misses = 0;
  absl::StatusOr<OrdersPage> page = client.FirstPage(from, options_.orders_page_size, run.backfill);
  absl::Status result = absl::OkStatus();
  absl::Time high_water = from;
  // Declared after `client`, so it is joined before the client goes away.
  std::optional<PageFetcher> fetcher;
  bool fetching = false;
  while (true) {
    if (!page.ok()) {
      result = absl::Status(
          page.status().code(),
          absl::StrCat("orders page ", run.counts.pages() + 1, ": ", page.status().message()));
      break;
    }
    if (page->next.has_value() && !cancelled_.load()) {
      if (!fetcher.has_value()) fetcher.emplace(client);
      fetcher->Start(*page->next);
      fetching = true;
    }
    // Quarantined orders do not move the cursor: one dated in the future would skip the rest.
    if (result = KeepQuarantined(run, page->quarantined); !result.ok()) break;
    for (const Order& o : page->orders) high_water = std::max(high_water, o.updated_at);
    // A backfill's pages are a slice by creation date: moving the cursor to their newest update
    // would skip the changes of other orders in between. The cursor only moves forward, so the
    // epoch leaves it where it is.
    absl::StatusOr<int64_t> written = store_.WriteOrdersPage(
        run.store.store_id, run.request.run_id(), page->orders,
        run.backfill.has_value() ? absl::UnixEpoch() : high_water, likely_new);
    if (!written.ok()) {
      result = absl::Status(written.status().code(),
                            absl::StrCat("writing orders page ", run.counts.pages() + 1, ": ",
                                         written.status().message()));
      break;
    }
    // A wrong hint costs a refused insert per page: after a few pages whose orders were not all
    // new, stop giving it (one order changing while we page is no reason to).
    if (likely_new) {
      hint_misses = *written < static_cast<int64_t>(page->orders.size()) ? hint_misses + 1 : 0;
      if (hint_misses >= 3) likely_new = false;
    }
    run.counts.set_pages(run.counts.pages() + 1);
    run.counts.set_orders_fetched(run.counts.orders_fetched() +
                                  static_cast<int64_t>(page->orders.size()));
    run.counts.set_orders_written(run.counts.orders_written() + *written);
    // Pages come in updated_at order, so the share of the time range covered is the progress.
    const double span = std::max(1.0, absl::ToDoubleSeconds(now - from));
    const double done = std::clamp(absl::ToDoubleSeconds(high_water - from) / span, 0.0, 1.0);
    run.Emit(autosync::v1::STAGE_ORDERS, 5 + static_cast<int>(55 * done),
             absl::StrFormat("Fetched %d orders (page %d), %d new or changed",
                             run.counts.orders_fetched(), run.counts.pages(),
                             run.counts.orders_written()));
    if (!page->next.has_value()) break;
    if (result = CheckCancelled(); !result.ok()) break;
    if (fetching) {
      page = fetcher->Take();
      fetching = false;
    } else {
      page = client.NextPage(*page->next);
    }
  }
  // A page fetched ahead of a failed write or a cancellation is dropped unwritten.
  if (fetching) (void)fetcher->Take();
  fetcher.reset();
  ReportSource(run, "orders", client.stats());
  return EndOrdersStage(run, api, stage_start, std::move(result));
}

absl::StatusOr<bool> SyncPipeline::SweepDue(const RunState& run, absl::string_view kind) {
  if (options_.sweep_interval <= absl::ZeroDuration() || run.backfill.has_value()) return false;
  absl::StatusOr<std::optional<absl::Time>> swept = store_.SweptAt(run.store.store_id, kind);
  if (!swept.ok()) return swept.status();
  return !swept->has_value() || absl::Now() - **swept >= options_.sweep_interval;
}

absl::Status SyncPipeline::EndSweep(const RunState& run, absl::string_view kind, bool swept) {
  if (!swept || options_.sweep_interval <= absl::ZeroDuration() || run.backfill.has_value()) {
    return absl::OkStatus();
  }
  return store_.MarkSwept(run.store.store_id, kind, run.request.run_id(), run.started);
}

absl::Status SyncPipeline::KeepQuarantined(RunState& run,
                                           const std::vector<QuarantinedRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  if (absl::Status s = store_.Quarantine(run.store.store_id, run.request.run_id(), records);
      !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("keeping ", records.size(),
                               " records that broke a data rule in quarantine: ", s.message()));
  }
  for (const QuarantinedRecord& q : records) {
    if (q.kind == "order") {
      run.counts.set_orders_quarantined(run.counts.orders_quarantined() + 1);
    } else {
      run.counts.set_ads_quarantined(run.counts.ads_quarantined() + 1);
    }
    if (metrics_ != nullptr) metrics_->RecordQuarantined(q.kind, q.rule);
  }
  const QuarantinedRecord& first = records.front();
  common::LogWarn("records broke a data rule and are kept in quarantine",
                  {{"store_id", run.store.store_id},
                   {"run_id", run.request.run_id()},
                   {"count", absl::StrCat(records.size())},
                   {"first", absl::StrCat(first.kind, " ", first.record_key)},
                   {"rule", first.rule},
                   {"detail", first.detail}});
  return absl::OkStatus();
}

absl::Status SyncPipeline::SyncDeletions(RunState& run, const OrdersClientConfig& api) {
  absl::StatusOr<std::optional<absl::Time>> cursor = store_.DeletionsCursor(run.store.store_id);
  if (!cursor.ok()) return cursor.status();
  if (!cursor->has_value()) {
    // The store's first listing has just been stored: an order deleted before it was not
    // listed, and one deleted since has an event no older than the newest change listed (the
    // source's clock, like every cursor here). Nothing listed yet: the next run starts it.
    absl::StatusOr<std::optional<absl::Time>> orders = store_.OrdersCursor(run.store.store_id);
    if (!orders.ok()) return orders.status();
    if (!orders->has_value() || **orders <= absl::UnixEpoch()) return absl::OkStatus();
    absl::StatusOr<int64_t> none =
        store_.DeleteOrders(run.store.store_id, run.request.run_id(), {}, **orders);
    return none.ok() ? absl::OkStatus() : none.status();
  }
  // Events are read with the orders' lookback: one committed late is still seen.
  OrdersClient client(api, *run.transport, sleeper_, options_.backoff, options_.orders_client);
  absl::StatusOr<DeletionsPage> page =
      client.FirstDeletionsPage(**cursor - options_.orders_lookback);
  absl::Time high_water = **cursor;
  absl::Status result = absl::OkStatus();
  int pages = 0;
  while (true) {
    if (!page.ok()) {
      result = absl::Status(
          page.status().code(),
          absl::StrCat("reading the orders deleted at the source: ", page.status().message()));
      break;
    }
    std::vector<int64_t> ids;
    for (const OrderDeletion& d : page->deletions) {
      ids.push_back(d.order_id);
      high_water = std::max(high_water, d.at);
    }
    absl::StatusOr<int64_t> deleted =
        store_.DeleteOrders(run.store.store_id, run.request.run_id(), ids, high_water);
    if (!deleted.ok()) {
      result = absl::Status(
          deleted.status().code(),
          absl::StrCat("removing orders deleted at the source: ", deleted.status().message()));
      break;
    }
    run.counts.set_orders_deleted(run.counts.orders_deleted() + *deleted);
    if (!page->next.has_value() || ++pages >= kMaxDeletionPages) break;
    if (result = CheckCancelled(); !result.ok()) break;
    page = client.NextDeletionsPage(*page->next);
  }
  ReportSource(run, "orders", client.stats());
  if (result.ok() && run.counts.orders_deleted() > 0) {
    run.Emit(
        autosync::v1::STAGE_ORDERS, 60,
        absl::StrFormat("Removed %d orders deleted at the source", run.counts.orders_deleted()));
  }
  return result;
}

absl::Status SyncPipeline::EndOrdersStage(RunState& run, const OrdersClientConfig& api,
                                          absl::Time stage_start, absl::Status result) {
  // Deletions are read after the listing (a backfill reads a slice and leaves them to the
  // regular syncs).
  if (result.ok() && options_.orders_deletions && !run.backfill.has_value()) {
    result = SyncDeletions(run, api);
  }
  if (metrics_ != nullptr) {
    metrics_->RecordsFetched("orders", run.counts.orders_fetched());
    metrics_->RecordsWritten("orders", run.counts.orders_written());
    metrics_->StageDuration("orders", absl::ToDoubleSeconds(absl::Now() - stage_start));
  }
  if (!result.ok()) return result;
  return store_.MarkStageDone(run.store.store_id, "orders", run.request.run_id(), std::nullopt);
}

namespace {

// Batches of complete orders (and progress notes) from a bulk download's thread to the run's
// thread, which writes them: the download, the parse and PostgreSQL work at the same time. At
// most `capacity` batches wait, so a slow database slows the download instead of filling memory.
class BulkHandoff final {
 public:
  struct Item {
    std::vector<Order> batch;
    std::vector<QuarantinedRecord> quarantined;  // broke a rule: kept before `batch` is written
    std::string note;                            // set: a progress message instead of a batch
  };

  explicit BulkHandoff(size_t capacity) : capacity_(capacity) {}

  // Download side: waits for room; the writer's error once it stopped.
  absl::Status Push(Item item) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BulkHandoff::HasRoomOrStopped));
    if (!writer_status_.ok()) return writer_status_;
    items_.push_back(std::move(item));
    return absl::OkStatus();
  }
  void Finish(absl::Status download_status) {
    absl::MutexLock lock(&mu_);
    download_status_ = std::move(download_status);
    finished_ = true;
  }

  // Writer side: the next item, or nullopt once the download finished and nothing is left.
  std::optional<Item> Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &BulkHandoff::HasItemOrFinished));
    if (items_.empty()) return std::nullopt;
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  // The writer stopped (a failed write, a cancellation): the download stops at its next batch.
  void StopWriter(absl::Status status) {
    absl::MutexLock lock(&mu_);
    writer_status_ = std::move(status);
    items_.clear();
  }
  absl::Status download_status() {
    absl::MutexLock lock(&mu_);
    return download_status_;
  }

 private:
  bool HasRoomOrStopped() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return items_.size() < capacity_ || !writer_status_.ok();
  }
  bool HasItemOrFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !items_.empty() || finished_;
  }

  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<Item> items_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status download_status_ ABSL_GUARDED_BY(mu_);
  absl::Status writer_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status SyncPipeline::SyncOrdersBulk(RunState& run, const OrdersClientConfig& api,
                                          bool likely_new) {
  GraphqlOrdersRequest request;
  request.updated_min = absl::UnixEpoch();
  if (run.backfill.has_value()) {
    request.created_min = run.backfill->min;
    request.created_max = run.backfill->max;
  }
  run.Emit(autosync::v1::STAGE_ORDERS, 5,
           run.backfill.has_value()
               ? absl::StrCat("Asking Shopify for the orders created ", run.request.backfill_from(),
                              " to ", run.request.backfill_to(), " (bulk operation)")
               : std::string("Asking Shopify for every order (bulk operation)"));
  BulkOrdersClient client(api, *run.transport, sleeper_, options_.backoff, options_.orders_client,
                          options_.bulk);
  BulkHandoff handoff(3);
  std::thread download([&] {
    absl::Status s = client.Run(
        request,
        [&](std::vector<Order>& batch, std::vector<QuarantinedRecord>& quarantined) {
          return handoff.Push(
              {.batch = std::move(batch), .quarantined = std::move(quarantined), .note = ""});
        },
        [&](const std::string& note) {
          (void)handoff.Push({.batch = {}, .quarantined = {}, .note = note}).ok();
        });
    handoff.Finish(std::move(s));
  });

  absl::Status written_status = absl::OkStatus();
  absl::Time high_water = absl::UnixEpoch();
  int hint_misses = 0;
  int notes = 0;
  while (std::optional<BulkHandoff::Item> item = handoff.Pop()) {
    if (written_status.ok()) written_status = CheckCancelled();
    if (!written_status.ok()) {
      handoff.StopWriter(written_status);
      continue;  // drain until the download thread has seen it
    }
    if (!item->note.empty()) {
      run.Emit(autosync::v1::STAGE_ORDERS, std::min(15, 5 + ++notes), item->note);
      continue;
    }
    if (absl::Status s = KeepQuarantined(run, item->quarantined); !s.ok()) {
      written_status = std::move(s);
      handoff.StopWriter(written_status);
      continue;
    }
    const std::vector<Order>& batch = item->batch;
    if (batch.empty()) continue;
    for (const Order& o : batch) high_water = std::max(high_water, o.updated_at);
    // Bulk results come in no promised order: the cursor moves only once all of it is stored.
    absl::StatusOr<int64_t> written = store_.WriteOrdersPage(
        run.store.store_id, run.request.run_id(), batch, absl::UnixEpoch(), likely_new);
    if (!written.ok()) {
      written_status =
          absl::Status(written.status().code(),
                       absl::StrCat("writing orders of bulk operation ", client.operation_id(),
                                    ": ", written.status().message()));
      handoff.StopWriter(written_status);
      continue;
    }
    if (likely_new) {
      hint_misses = *written < static_cast<int64_t>(batch.size()) ? hint_misses + 1 : 0;
      if (hint_misses >= 3) likely_new = false;
    }
    run.counts.set_pages(run.counts.pages() + 1);
    run.counts.set_orders_fetched(run.counts.orders_fetched() + static_cast<int64_t>(batch.size()));
    run.counts.set_orders_written(run.counts.orders_written() + *written);
    run.Emit(autosync::v1::STAGE_ORDERS, 15 + std::min(44, static_cast<int>(run.counts.pages())),
             absl::StrFormat("Stored %d orders from the bulk operation, %d new or changed",
                             run.counts.orders_fetched(), run.counts.orders_written()));
  }
  download.join();
  ReportSource(run, "orders", client.stats());
  if (!written_status.ok()) return written_status;
  if (absl::Status s = handoff.download_status(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("orders: ", s.message()));
  }
  // All of it is stored: the cursor moves to the newest change read (a backfill leaves it).
  if (!run.backfill.has_value() && high_water > absl::UnixEpoch()) {
    absl::StatusOr<int64_t> moved =
        store_.WriteOrdersPage(run.store.store_id, run.request.run_id(), {}, high_water, false);
    if (!moved.ok()) return moved.status();
  }
  return absl::OkStatus();
}

absl::Status SyncPipeline::SyncAds(RunState& run) {
  const absl::Time stage_start = absl::Now();
  if (absl::Status s = CheckCancelled(); !s.ok()) return s;
  if (run.store.ad_account_id.empty() || run.store.ads_api_base.empty()) {
    run.Emit(autosync::v1::STAGE_ADS, 80, "No ad account configured; ad spend skipped");
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<absl::CivilDay>> cursor = store_.AdsCursor(run.store.store_id);
  if (!cursor.ok()) return cursor.status();
  absl::TimeZone tz = absl::UTCTimeZone();
  (void)absl::LoadTimeZone(run.store.timezone, &tz);  // validated at UpsertStore; UTC if not
  const absl::CivilDay until = absl::ToCivilDay(absl::Now(), tz);
  absl::CivilDay since = until - (options_.ads_initial_days - 1);
  run.ads_sweep = !cursor->has_value() || run.request.force();  // everything: a sweep too
  if (cursor->has_value() && !run.request.force()) {
    since = std::min(**cursor, until) - (options_.ads_window_days - 1);
    absl::StatusOr<bool> due = SweepDue(run, "ads");
    if (!due.ok()) return due.status();
    if (*due && options_.ads_sweep_days > options_.ads_window_days) {
      since = std::min(since, until - (options_.ads_sweep_days - 1));
      run.ads_sweep = true;
      run.Emit(autosync::v1::STAGE_ADS, 60,
               absl::StrCat("Daily sweep: re-reading ", options_.ads_sweep_days,
                            " days of ad spend for restatements beyond the ",
                            options_.ads_window_days, "-day window"));
    }
  }

  AdsClient client({.base_url = run.store.ads_api_base,
                    .api_version = run.store.ads_api_version,
                    .ad_account_id = run.store.ad_account_id,
                    .access_token = run.credentials.ads_token},
                   *run.transport, sleeper_, options_.backoff, options_.ads_client);
  run.Emit(autosync::v1::STAGE_ADS, 60,
           absl::StrCat("Fetching ad spend from ", absl::FormatCivilTime(since), " to ",
                        absl::FormatCivilTime(until)));
  // A long range as one of Meta's async report runs; the trailing window stays synchronous.
  absl::StatusOr<InsightsPage> page =
      options_.ads_async && until - since + 1 > options_.ads_window_days
          ? AdsReport(run, client, since, until)
          : client.FirstPage(since, until);
  absl::Status result = absl::OkStatus();
  int pages = 0;
  absl::CivilDay reached = since;
  while (true) {
    if (!page.ok()) {
      result = absl::Status(page.status().code(),
                            absl::StrCat("ads page ", pages + 1, ": ", page.status().message()));
      break;
    }
    if (result = KeepQuarantined(run, page->quarantined); !result.ok()) break;
    absl::StatusOr<int64_t> written = store_.WriteAdsPage(run.store.store_id, page->rows);
    if (!written.ok()) {
      result = absl::Status(
          written.status().code(),
          absl::StrCat("writing ads page ", pages + 1, ": ", written.status().message()));
      break;
    }
    ++pages;
    for (const AdRow& row : page->rows) reached = std::max(reached, row.date);
    run.counts.set_ads_fetched(run.counts.ads_fetched() + static_cast<int64_t>(page->rows.size()));
    run.counts.set_ads_written(run.counts.ads_written() + *written);
    const double span = std::max<double>(1, until - since);
    run.Emit(autosync::v1::STAGE_ADS,
             60 + static_cast<int>(20 * std::clamp((reached - since) / span, 0.0, 1.0)),
             absl::StrFormat("Fetched %d ad rows (page %d), %d new or changed",
                             run.counts.ads_fetched(), pages, run.counts.ads_written()));
    if (!page->next_url.has_value()) break;
    if (result = CheckCancelled(); !result.ok()) break;
    page = client.NextPage(*page->next_url);
  }
  ReportSource(run, "ads", client.stats());
  if (metrics_ != nullptr) {
    metrics_->RecordsFetched("ads", run.counts.ads_fetched());
    metrics_->RecordsWritten("ads", run.counts.ads_written());
    metrics_->StageDuration("ads", absl::ToDoubleSeconds(absl::Now() - stage_start));
  }
  if (!result.ok()) return result;
  return store_.MarkStageDone(run.store.store_id, "ads", run.request.run_id(), until);
}

absl::StatusOr<InsightsPage> SyncPipeline::AdsReport(RunState& run, AdsClient& client,
                                                     absl::CivilDay since, absl::CivilDay until) {
  absl::StatusOr<std::string> id = client.StartReport(since, until);
  if (!id.ok()) return id.status();
  const absl::Time deadline = absl::Now() + options_.ads_async_timeout;
  absl::Duration interval = options_.ads_async_first_poll;
  AsyncReportStatus report;
  while (true) {
    if (!sleeper_.SleepFor(interval)) {
      return absl::CancelledError(
          absl::StrCat("ads sync cancelled while Meta prepared async report ", *id));
    }
    interval = std::min(interval * 1.5, options_.ads_async_max_poll);
    absl::StatusOr<AsyncReportStatus> polled = client.PollReport(*id);
    if (!polled.ok()) return polled.status();
    report = *std::move(polled);
    const std::string where =
        absl::StrCat("Meta's async report ", *id, " for ", absl::FormatCivilTime(since), "..",
                     absl::FormatCivilTime(until), " says \"", report.status.substr(0, 40),
                     "\" at ", report.percent, "%");
    if (report.status == "Job Completed") break;
    if (report.status == "Job Failed" || report.status == "Job Skipped") {
      return absl::UnavailableError(
          absl::StrCat(where,
                       "; the next run asks again (if it keeps failing, lower the worker's "
                       "--ads_initial_days)"));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, " after ", absl::FormatDuration(options_.ads_async_timeout),
                       "; the next run asks again"));
    }
    run.Emit(autosync::v1::STAGE_ADS, 60 + report.percent / 20,
             absl::StrCat("Meta is preparing the ad report: ", report.percent, "%"));
  }
  return client.ReportFirstPage(*id);
}

absl::Status SyncPipeline::SyncLtv(RunState& run) {
  const absl::Time stage_start = absl::Now();
  if (absl::Status s = CheckCancelled(); !s.ok()) return s;
  run.Emit(autosync::v1::STAGE_LTV, 80, "Recomputing LTV cohorts");
  absl::StatusOr<int64_t> rows = store_.RecomputeLtv(run.store.store_id, run.store.timezone);
  if (!rows.ok()) {
    return absl::Status(rows.status().code(),
                        absl::StrCat("recomputing LTV cohorts: ", rows.status().message()));
  }
  run.counts.set_cohort_rows(*rows);
  run.Emit(autosync::v1::STAGE_LTV, 98, absl::StrFormat("Wrote %d cohort rows", *rows));
  if (metrics_ != nullptr) {
    metrics_->RecordsWritten("cohorts", *rows);
    metrics_->StageDuration("ltv", absl::ToDoubleSeconds(absl::Now() - stage_start));
  }
  return store_.MarkStageDone(run.store.store_id, "ltv", run.request.run_id(), std::nullopt);
}

}  // namespace autosync::worker
