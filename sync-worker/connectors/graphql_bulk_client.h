// One Shopify bulk operation over the orders, from start to the last line of its result
// (issue 18): what a store's first GraphQL sync and its backfills use instead of paging.
//
// Run():
//  1. The API allows one bulk query operation per shop and app at a time. One still running
//     (CREATED/RUNNING) is ours (the rule is per app) from a run that was cut off: a store runs one
//     sync at a time, so nothing waits for it. It is cancelled, and followed until it stops.
//  2. bulkOperationRunQuery with BulkOrdersQuery; userErrors fail the run naming them
//     (FAILED_PRECONDITION), except "already in progress" (a race with step 1): step 1 again, once.
//  3. The operation is polled (node(id:)), first after BulkOptions::first_poll, then at growing
//     intervals up to max_poll. COMPLETED goes on; FAILED with ACCESS_DENIED is PERMISSION_DENIED
//     (the token's scopes), other FAILED, EXPIRED and a download that fails are UNAVAILABLE (the
//     scheduler retries; the next run starts a new operation); CANCELED by someone else is
//     ABORTED. Still running after BulkOptions::timeout: cancelled, DEADLINE_EXCEEDED.
//  4. The result is downloaded from its URL (a signed link on another host: the access token is
//     never sent there) and read as it arrives (BulkOrdersReader); complete orders go to
//     `on_orders` in batches. A failed `on_orders` stops the download and is returned as is.
// The run being cancelled (the Sleeper says so) cancels the operation (best effort): CANCELLED.
// Nothing here moves a cursor: the caller decides what a finished operation means.
// Not thread-safe; the transport and sleeper must outlive it.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/bulk_orders.h"
#include "sync-worker/connectors/graphql_orders.h"
#include "sync-worker/connectors/orders_client.h"

namespace autosync::worker {

struct BulkOptions {
  absl::Duration first_poll = absl::Milliseconds(200);
  absl::Duration max_poll = absl::Seconds(10);
  // An operation not finished after this long is cancelled and the run fails. Shopify's own
  // limit for a bulk query is 10 days; a store's whole history normally takes minutes.
  absl::Duration timeout = absl::Hours(2);
  absl::Duration download_timeout = absl::Hours(1);
  size_t max_line_bytes = BulkOrdersReader::kDefaultMaxLineBytes;
  size_t batch_orders = 5000;  // orders per on_orders call (the last may be smaller)
};

class BulkOrdersClient final {
 public:
  // Takes a batch of complete orders and the orders quarantined since the last batch
  // (record_rules.h; either may be empty). It may move them out.
  using OrdersFn = std::function<absl::Status(std::vector<Order>& batch,
                                              std::vector<QuarantinedRecord>& quarantined)>;
  // Told what is happening, for the run's progress events ("Shopify is preparing …").
  using ProgressFn = std::function<void(const std::string& message)>;

  BulkOrdersClient(OrdersClientConfig config, HttpTransport& transport, Sleeper& sleeper,
                   BackoffPolicy backoff = {}, OrdersClientOptions options = {},
                   BulkOptions bulk = {}, std::function<absl::Time()> now = absl::Now);

  // `request`'s updated_min and created bounds choose the orders; first and after are unused.
  absl::Status Run(const GraphqlOrdersRequest& request, const OrdersFn& on_orders,
                   const ProgressFn& on_progress);

  const ConnectorStats& stats() const { return http_.stats(); }
  // After Run: the operation's id and the lines its file had (for logs and counts).
  const std::string& operation_id() const { return operation_id_; }
  int64_t lines() const { return lines_; }

 private:
  // One GraphQL request whose answer fills data.<field>; THROTTLED is waited out.
  absl::StatusOr<BulkAnswer> Call(std::string body, absl::string_view field,
                                  const std::string& label);
  // Cancels `id` and follows it until it is no longer running.
  absl::Status CancelAndWait(const std::string& id);
  absl::StatusOr<BulkOperation> Start(const GraphqlOrdersRequest& request);
  absl::StatusOr<BulkOperation> WaitForResult(const BulkOperation& started,
                                              const ProgressFn& on_progress);
  absl::Status Download(const BulkOperation& done, const OrdersFn& on_orders,
                        const ProgressFn& on_progress);

  OrdersClient http_;
  HttpTransport& transport_;
  OrdersClientOptions options_;
  BulkOptions bulk_;
  std::function<absl::Time()> now_;
  std::string operation_id_;
  int64_t lines_ = 0;
};

}  // namespace autosync::worker
