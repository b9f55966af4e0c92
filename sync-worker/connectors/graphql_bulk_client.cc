#include "sync-worker/connectors/graphql_bulk_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sync-worker/connectors/graphql_orders_client.h"

namespace autosync::worker {

BulkOrdersClient::BulkOrdersClient(OrdersClientConfig config, HttpTransport& transport,
                                   Sleeper& sleeper, BackoffPolicy backoff,
                                   OrdersClientOptions options, BulkOptions bulk,
                                   std::function<absl::Time()> now)
    : http_(std::move(config), transport, sleeper, backoff, options),
      transport_(transport),
      options_(options),
      bulk_(bulk),
      now_(std::move(now)) {}

absl::StatusOr<BulkAnswer> BulkOrdersClient::Call(std::string body, absl::string_view field,
                                                  const std::string& label) {
  for (int throttles = 0;; ++throttles) {
    HttpRequest request;
    request.url = GraphqlEndpoint(http_.config());
    request.headers = {{"Content-Type", "application/json"}};
    request.post_body = body;
    OrdersPage counts;  // Exchange counts attempts into a page; a bulk call has none
    absl::StatusOr<HttpResponse> response = http_.Exchange(std::move(request), label, &counts);
    if (!response.ok()) return response.status();
    absl::StatusOr<BulkAnswer> answer = ParseBulkAnswer(response->body, field);
    if (!answer.ok()) {
      return http_.Error(absl::StatusCode::kDataLoss,
                         absl::StrCat("orders GraphQL API returned an unreadable answer to ", label,
                                      ": ", answer.status().message()));
    }
    if (!answer->throttled) {
      if (!answer->errors.empty()) {
        return http_.Error(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("orders GraphQL API refused ", label, ": ",
                                        absl::StrJoin(answer->errors, "; "),
                                        " (check the token's read_orders scope and the store's "
                                        "API version)"));
      }
      return answer;
    }
    http_.CountThrottled();
    if (throttles >= options_.max_throttle_waits) {
      return http_.Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("orders GraphQL API throttled ", label, " ", throttles + 1,
                                      " times in a row"));
    }
    absl::Duration wait = options_.default_retry_after;
    if (answer->cost.has_value() && answer->cost->restore_rate > 0) {
      wait = std::min(
          absl::Seconds(std::max(0.0, answer->cost->requested - answer->cost->currently_available) /
                        answer->cost->restore_rate),
          options_.max_retry_after);
    }
    if (!http_.Wait(wait)) {
      return http_.Error(absl::StatusCode::kCancelled, "orders sync cancelled while throttled");
    }
  }
}

absl::Status BulkOrdersClient::CancelAndWait(const std::string& id) {
  absl::StatusOr<BulkAnswer> cancelled =
      Call(BulkCancelBody(id), "bulkOperationCancel", absl::StrCat("the cancel of ", id));
  if (!cancelled.ok()) return cancelled.status();
  // userErrors here mean it stopped meanwhile ("cannot be canceled when it is completed").
  const absl::Time deadline = now_() + bulk_.timeout;
  absl::Duration interval = bulk_.first_poll;
  while (true) {
    absl::StatusOr<BulkAnswer> polled =
        Call(BulkPollBody(id), "node", absl::StrCat("the status of ", id));
    if (!polled.ok()) return polled.status();
    if (!polled->operation.has_value() || !polled->operation->Running()) return absl::OkStatus();
    if (now_() >= deadline) {
      return http_.Error(
          absl::StatusCode::kDeadlineExceeded,
          absl::StrCat("bulk operation ", id, " was cancelled but is still ",
                       polled->operation->status, " after ", absl::FormatDuration(bulk_.timeout)));
    }
    if (!http_.Wait(interval)) {
      return http_.Error(absl::StatusCode::kCancelled,
                         "orders sync cancelled while an old bulk operation stopped");
    }
    interval = std::min(interval * 1.5, bulk_.max_poll);
  }
}

absl::StatusOr<BulkOperation> BulkOrdersClient::Start(const GraphqlOrdersRequest& request) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<BulkAnswer> current =
        Call(BulkCurrentBody(), "currentBulkOperation", "the current bulk operation");
    if (!current.ok()) return current.status();
    if (current->operation.has_value() && current->operation->Running()) {
      // Ours, from a run that was cut off (see the header): nobody waits for its result.
      if (absl::Status s = CancelAndWait(current->operation->id); !s.ok()) return s;
    }
    absl::StatusOr<BulkAnswer> started =
        Call(BulkRunBody(GraphqlOrdersFilter(request)), "bulkOperationRunQuery", "the bulk query");
    if (!started.ok()) return started.status();
    if (started->user_errors.empty() && started->operation.has_value()) {
      return *started->operation;
    }
    const std::string errors = absl::StrJoin(started->user_errors, "; ");
    if (attempt == 0 && absl::StrContains(errors, "already in progress")) continue;
    return http_.Error(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("Shopify refused the bulk query: ",
                                    errors.empty() ? "no operation and no reason" : errors));
  }
}

absl::StatusOr<BulkOperation> BulkOrdersClient::WaitForResult(const BulkOperation& started,
                                                              const ProgressFn& on_progress) {
  const std::string& id = started.id;
  const absl::Time deadline = now_() + bulk_.timeout;
  absl::Duration interval = bulk_.first_poll;
  while (true) {
    if (!http_.Wait(interval)) {
      (void)CancelAndWait(id).ok();  // best effort: the run is going away
      return http_.Error(absl::StatusCode::kCancelled,
                         absl::StrCat("orders sync cancelled; bulk operation ", id, " cancelled"));
    }
    interval = std::min(interval * 1.5, bulk_.max_poll);
    absl::StatusOr<BulkAnswer> polled =
        Call(BulkPollBody(id), "node", absl::StrCat("the status of ", id));
    if (!polled.ok()) return polled.status();
    if (!polled->operation.has_value()) {
      return http_.Error(absl::StatusCode::kUnavailable,
                         absl::StrCat("bulk operation ", id, " is unknown to the shop now"));
    }
    const BulkOperation& op = *polled->operation;
    const std::string summary =
        absl::StrCat("bulk operation ", id, " ", op.status,
                     op.error_code.empty() ? "" : absl::StrCat(" (", op.error_code, ")"), " after ",
                     op.object_count, " objects");
    if (op.status == "COMPLETED") return op;
    if (op.status == "FAILED" && op.error_code == "ACCESS_DENIED") {
      return http_.Error(absl::StatusCode::kPermissionDenied,
                         absl::StrCat(summary,
                                      ": the token needs read_orders, and "
                                      "read_all_orders for orders older than 60 days"));
    }
    if (op.status == "FAILED" || op.status == "EXPIRED") {
      return http_.Error(absl::StatusCode::kUnavailable,
                         absl::StrCat(summary, "; the next run starts a new one"));
    }
    if (op.status == "CANCELED") {
      return http_.Error(absl::StatusCode::kAborted,
                         absl::StrCat(summary,
                                      ": cancelled by someone else (another app run "
                                      "with this token, or a person)"));
    }
    if (now_() >= deadline) {
      (void)CancelAndWait(id).ok();  // best effort; the error below says what happened
      return http_.Error(
          absl::StatusCode::kDeadlineExceeded,
          absl::StrCat(summary, ", still unfinished after ", absl::FormatDuration(bulk_.timeout),
                       ": cancelled; the next run starts a new one"));
    }
    on_progress(absl::StrCat("Shopify is preparing the orders: ", op.object_count,
                             " objects so far (bulk operation ", op.status, ")"));
  }
}

absl::Status BulkOrdersClient::Download(const BulkOperation& done, const OrdersFn& on_orders,
                                        const ProgressFn& on_progress) {
  if (done.url.empty()) return absl::OkStatus();  // no order matched: no file
  if (!absl::StartsWith(done.url, "https://") && !absl::StartsWith(done.url, "http://")) {
    return http_.Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("bulk operation ", done.id, " gave a result URL that is not http(s)"));
  }
  on_progress(
      absl::StrCat("Downloading ", done.object_count, " objects of bulk operation ", done.id));
  std::vector<QuarantinedRecord> quarantined;
  RecordScreen screen;
  screen.now = now_();
  screen.options = options_.rules;
  screen.page = absl::StrCat("bulk operation ", done.id);
  screen.quarantined = &quarantined;
  BulkOrdersReader reader(bulk_.max_line_bytes, &screen);
  std::vector<Order> batch;
  batch.reserve(bulk_.batch_orders);
  absl::Status stopped = absl::OkStatus();  // why the sink stopped the transfer
  const auto flush = [&]() -> bool {
    if (batch.empty() && quarantined.empty()) return true;
    stopped = on_orders(batch, quarantined);
    batch.clear();
    quarantined.clear();
    return stopped.ok();
  };
  const HttpTransport::BodySink sink = [&](absl::string_view piece) {
    if (absl::Status s = reader.Feed(piece, batch); !s.ok()) {
      stopped = s;
      return false;
    }
    return batch.size() < bulk_.batch_orders || flush();
  };
  // A signed link to the file: no token, no Accept of ours.
  HttpRequest request;
  request.url = done.url;
  request.timeout = bulk_.download_timeout;
  const absl::StatusOr<HttpResponse> response = transport_.Stream(request, sink);
  lines_ = reader.lines();
  const std::string where = absl::StrCat("the result of bulk operation ", done.id);
  if (!stopped.ok()) {
    if (stopped.code() == absl::StatusCode::kDataLoss ||
        stopped.code() == absl::StatusCode::kInvalidArgument) {
      return http_.Error(
          absl::StatusCode::kDataLoss,
          absl::StrCat(where, ": ", stopped.message(), "; the orders before that line are stored"));
    }
    return stopped;  // the caller's own error (a write that failed)
  }
  if (!response.ok()) {
    // The orders completed before the cut are kept: they are whole, and upserts are idempotent.
    if (!flush()) return stopped;
    return http_.Error(
        response.status().code() == absl::StatusCode::kCancelled ? absl::StatusCode::kCancelled
                                                                 : absl::StatusCode::kUnavailable,
        absl::StrCat("downloading ", where, " stopped after ", reader.lines(), " lines (",
                     response.status().message(),
                     "); the complete orders before that are stored, the next run starts a new "
                     "operation"));
  }
  if (response->status < 200 || response->status > 299) {
    const bool expired = response->status == 403 && absl::StrContains(response->body, "Expired");
    return http_.Error(absl::StatusCode::kUnavailable,
                       absl::StrCat("downloading ", where, " answered HTTP ", response->status,
                                    expired ? ": the result URL expired" : "",
                                    "; the next run starts a new operation"));
  }
  if (absl::Status s = reader.Finish(batch); !s.ok()) {
    return http_.Error(absl::StatusCode::kDataLoss, absl::StrCat(where, ": ", s.message()));
  }
  lines_ = reader.lines();
  return flush() ? absl::OkStatus() : stopped;
}

absl::Status BulkOrdersClient::Run(const GraphqlOrdersRequest& request, const OrdersFn& on_orders,
                                   const ProgressFn& on_progress) {
  lines_ = 0;
  absl::StatusOr<BulkOperation> started = Start(request);
  if (!started.ok()) return started.status();
  operation_id_ = started->id;
  on_progress(absl::StrCat("Started Shopify bulk operation ", operation_id_));
  absl::StatusOr<BulkOperation> done = WaitForResult(*started, on_progress);
  if (!done.ok()) return done.status();
  return Download(*done, on_orders, on_progress);
}

}  // namespace autosync::worker
