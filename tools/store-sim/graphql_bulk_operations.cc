// BulkOperations (graphql_bulk.h): each store's bulk operations, their status as time passes, and
// cancellation. The requests, answers and downloads are in graphql_bulk.cc, the JSONL file a job
// renders there too.
#include <algorithm>
#include <string>
#include <utility>

#include "tools/store-sim/graphql_bulk.h"

namespace autosync::storesim {

absl::string_view BulkStatusName(BulkStatus status) {
  switch (status) {
    case BulkStatus::kCreated:
      return "CREATED";
    case BulkStatus::kRunning:
      return "RUNNING";
    case BulkStatus::kCompleted:
      return "COMPLETED";
    case BulkStatus::kFailed:
      return "FAILED";
    case BulkStatus::kCanceling:
      return "CANCELING";
    case BulkStatus::kCanceled:
      return "CANCELED";
    case BulkStatus::kExpired:
      return "EXPIRED";
  }
  return "FAILED";
}

void BulkOperations::Refresh(BulkOperation& op, absl::Time now, bool settle_cancel) const {
  switch (op.status) {
    case BulkStatus::kCompleted:
      if (absl::ToUnixSeconds(now) >= op.url_expires) {
        op.status = BulkStatus::kExpired;
        op.file.reset();
      }
      return;
    case BulkStatus::kFailed:
    case BulkStatus::kCanceled:
    case BulkStatus::kExpired:
      return;
    case BulkStatus::kCanceling:
      if (settle_cancel || now - op.cancel_at >= absl::Seconds(1)) {
        op.status = BulkStatus::kCanceled;
        op.completed_at = now;
        op.job.reset();
      }
      return;
    case BulkStatus::kCreated:
    case BulkStatus::kRunning:
      break;
  }
  const BulkJob& job = *op.job;
  if (!job.started()) return;
  op.status = BulkStatus::kRunning;
  const double elapsed = absl::ToDoubleSeconds(now - op.created_at);
  const double min = absl::ToDoubleSeconds(options_.min_duration);
  const double f = min <= 0 ? 1.0 : std::clamp(elapsed / min, 0.0, 1.0);
  const bool done = job.finished();  // before lines(): once finished, lines() is final
  const int64_t lines = job.lines();
  const int64_t shown = f >= 1.0 ? lines : static_cast<int64_t>(f * static_cast<double>(lines));
  op.object_count = std::max(op.object_count, shown);
  if (!done || f < 1.0 || op.stuck) return;
  op.completed_at = now;
  op.file = job.file();
  if (op.fail || op.file == nullptr) {
    op.status = BulkStatus::kFailed;
    op.failed_internal = true;
    op.file.reset();
  } else {
    op.status = BulkStatus::kCompleted;
    op.url_expires = absl::ToUnixSeconds(now + options_.url_ttl);
  }
  op.job.reset();
}

BulkOperation* BulkOperations::Get(const std::string& store, int64_t id) {
  auto it = by_store_.find(store);
  if (it == by_store_.end()) return nullptr;
  for (BulkOperation& op : it->second) {
    if (op.id == id) return &op;
  }
  return nullptr;
}

const BulkOperation* BulkOperations::InProgress(const std::string& store, absl::Time now) {
  auto it = by_store_.find(store);
  if (it == by_store_.end()) return nullptr;
  for (BulkOperation& op : it->second) {
    Refresh(op, now, /*settle_cancel=*/false);
    if (op.InProgress()) return &op;
  }
  return nullptr;
}

const BulkOperation& BulkOperations::Add(const std::string& store, absl::Time now,
                                         std::shared_ptr<BulkJob> job, bool fail, bool stuck) {
  std::deque<BulkOperation>& ops = by_store_[store];
  // Only finished operations are older than a new one; the files of the forgotten go with them.
  while (ops.size() > kBulkKeptPerShop - 1) ops.pop_front();
  BulkOperation op;
  op.id = next_id_++;
  op.store = store;
  op.created_at = now;
  op.fail = fail;
  op.stuck = stuck;
  op.job = std::move(job);
  ops.push_back(std::move(op));
  return ops.back();
}

const BulkOperation* BulkOperations::Find(const std::string& store, int64_t id, absl::Time now) {
  BulkOperation* op = Get(store, id);
  if (op != nullptr) Refresh(*op, now, /*settle_cancel=*/true);
  return op;
}

const BulkOperation* BulkOperations::Current(const std::string& store, absl::Time now) {
  auto it = by_store_.find(store);
  if (it == by_store_.end() || it->second.empty()) return nullptr;
  BulkOperation& op = it->second.back();
  Refresh(op, now, /*settle_cancel=*/true);
  return &op;
}

BulkOperations::CancelResult BulkOperations::Cancel(const std::string& store, int64_t id,
                                                    absl::Time now) {
  using Outcome = CancelResult::Outcome;
  BulkOperation* op = Get(store, id);
  if (op == nullptr) return {Outcome::kUnknown, nullptr};
  Refresh(*op, now, /*settle_cancel=*/false);
  if (op->status != BulkStatus::kCreated && op->status != BulkStatus::kRunning) {
    return {Outcome::kFinished, op};
  }
  op->status = BulkStatus::kCanceling;
  op->cancel_at = now;
  if (op->job != nullptr) op->job->Cancel();
  return {Outcome::kCanceling, op};
}

std::shared_ptr<const std::string> BulkOperations::File(const std::string& store,
                                                        int64_t id) const {
  auto it = by_store_.find(store);
  if (it == by_store_.end()) return nullptr;
  for (const BulkOperation& op : it->second) {
    if (op.id == id) return op.file;
  }
  return nullptr;
}

}  // namespace autosync::storesim
