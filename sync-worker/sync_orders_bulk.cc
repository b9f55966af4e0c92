// The orders stage of SyncPipeline through a GraphQL bulk operation: the download and parse on
// their own thread hand batches of orders to the run's thread, which writes them.
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

}  // namespace autosync::worker
