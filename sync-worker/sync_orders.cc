// The orders stage of SyncPipeline: pages of orders (REST or GraphQL) fetched one ahead while
// the current one is written, the deletions since the last run, quarantine of invalid records and
// the late-change sweep's bookkeeping. The GraphQL bulk download is in sync_orders_bulk.cc.
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
#include "sync-worker/sync_pipeline.h"
#include "sync-worker/sync_run_state.h"

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

}  // namespace autosync::worker
