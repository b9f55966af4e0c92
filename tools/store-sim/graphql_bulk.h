// Shopify's bulk operations over store-sim's orders, on the GraphQL endpoint of graphql_orders.h:
// the requests that run, poll, find and cancel a bulk query, the JSONL file an operation
// produces, its signed download URL, and the registry that carries each shop's operations
// through their lifecycle. No threads and no sockets here: a BulkJob renders its file when its
// Run() is called (on the Simulator's bulk thread); everything else runs under the Simulator's
// lock with the time passed in.
//
// Requests (POST …/graphql.json, X-Shopify-Access-Token as for the orders connection), told
// apart by the query text (ClassifyBulkRequest):
//   run     mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status }
//             userErrors { field message } } }                       (or a literal string/""")
//           The inner query is an orders connection without first/after, e.g.
//           { orders(query: "updated_at:>='2024-01-01T00:00:00Z'", sortKey: UPDATED_AT) {
//               edges { node { id … refunds { id transactions { edges { node { … } } } } } } } }
//           Only its `query` (the connection's search subset, graphql_request.h) and `sortKey`
//           (UPDATED_AT) arguments are read; the selection set is not.
//   poll    query($id: ID!) { node(id: $id) { ... on BulkOperation { id status … } } }
//   current query { currentBulkOperation { … } }       the shop's latest operation, any status
//   cancel  mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status }
//             userErrors { field message } } }
// Answers are HTTP 200 with "extensions":{"cost":…} (run and cancel cost 10 points, poll and
// current 1; too few points: the connection's THROTTLED answer):
//   run     {"data":{"bulkOperationRunQuery":{"bulkOperation":{"id":"gid://shopify/
//             BulkOperation/<n>","status":"CREATED"},"userErrors":[]}}}; a bad inner query:
//             bulkOperation null, userErrors [{"field":["query"],"message":"Invalid bulk query:
//             <why>"}]; while the shop has an operation CREATED, RUNNING or CANCELING:
//             userErrors [{"field":null,"message":"A bulk query operation for this app and shop
//             is already in progress: <gid>."}].
//   poll    {"data":{"node":<operation>|null}}  (null: unknown id, or another shop's)
//   current {"data":{"currentBulkOperation":<operation>|null}}
//   cancel  {"bulkOperation":{"id","status":"CANCELING"},"userErrors":[]}; finished: field null,
//             "A bulk operation cannot be canceled when it is <status in lower case>"; unknown:
//             field ["id"], "Bulk operation does not exist".
// <operation> always has every member, whatever the selection: {"id","status","errorCode"
// (null|"INTERNAL_SERVER_ERROR"),"createdAt","completedAt" (null until finished),"objectCount"
// (lines so far, a string),"fileSize" (a string once COMPLETED, else null),"url" (once
// COMPLETED, else null),"partialDataUrl":null}.
//
// Lifecycle: CREATED until the bulk thread picks the job up, then RUNNING while it renders and
// until min_duration has passed since the run (objectCount grows with both), then COMPLETED.
// Cancel: CANCELING, and CANCELED at the next poll (node or currentBulkOperation) or one second
// later, whichever comes first. Fault switches chosen at run time: fail renders half the orders
// and ends FAILED (INTERNAL_SERVER_ERROR) once min_duration has passed; stuck renders half and
// stays RUNNING until cancelled. A COMPLETED operation turns EXPIRED when its URL expires
// (completedAt + url_ttl). Each shop keeps its last kBulkKeptPerShop operations; older ones are
// forgotten (node null, downloads 404).
//
// The file (JSONL, "\n" after every line), in (updatedAt, id) order over a snapshot of the
// matching orders taken at run time: per order the GraphQL node of AppendGraphqlOrderMembers
// without totalRefundedSet, plus "refunds":[{"id":"gid://shopify/Refund/<order id>"}] for a
// refunded order (else "refunds":[]); after a refunded order's line its refund's transactions as
// child lines {"id":"gid://shopify/OrderTransaction/<order id * 10 + 2>","kind":"REFUND",
// "status":"SUCCESS","amountSet":{"shopMoney":{"amount","currencyCode":"USD"}},"__parentId":
// "gid://shopify/Refund/<order id>"} for refunded_cents(); when order id % 5 == 0 a FAILURE
// transaction of the same amount (id * 10 + 1) comes first, so only SUCCESS ones add up.
//
// Download: GET http://<Host of the poll>/_bulk/<store>/<n>.jsonl?expires=<unix s>&sig=<16 hex>
// without a token (a signed URL, like Shopify's storage links); Content-Type application/jsonl.
// A bad or missing signature: 403 AccessDenied; past `expires`: 403 ExpiredToken (both XML, as a
// storage service answers); gone: 404 NoSuchKey. Faults: url_expired answers the ExpiredToken
// 403; truncate announces the whole Content-Length and sends about half of it, ending mid-line.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/store-sim/faults.h"
#include "tools/store-sim/graphql_orders.h"
#include "tools/store-sim/graphql_request.h"
#include "tools/store-sim/http_types.h"
#include "tools/store-sim/orders_query.h"
#include "tools/store-sim/store_data.h"

namespace autosync::storesim {

inline constexpr int64_t kBulkRunCost = 10;  // run and cancel
inline constexpr int64_t kBulkPollCost = 1;  // node and currentBulkOperation
inline constexpr int64_t kFirstBulkOperationId = 1000001;
inline constexpr size_t kBulkKeptPerShop = 3;

enum class BulkRequestKind : uint8_t { kNone, kRun, kCancel, kCurrent, kNode };
// Which bulk request a query is, by its text: bulkOperationRunQuery, bulkOperationCancel,
// currentBulkOperation, node( — in that order; kNone for anything else (the orders connection).
BulkRequestKind ClassifyBulkRequest(absl::string_view query);

// The run mutation's inner query, read into an OrdersQuery (status kAny, sort kUpdatedAsc).
// InvalidArgument with the reason (for "Invalid bulk query: <reason>") when the query argument
// is missing, not an orders connection, pages (first/after/last/before), uses variables, or has
// an argument or search term the connection would refuse.
absl::StatusOr<OrdersQuery> ParseBulkRunQuery(const GraphqlBody& body, int offset_minutes);

// The `id` argument of `field` (node or bulkOperationCancel) as an operation number; nullopt
// when the field has none or it is not "gid://shopify/BulkOperation/<digits>".
std::optional<int64_t> ParseBulkOperationId(const GraphqlBody& body, absl::string_view field);

// The lines of one order (parent, then its refund transactions); returns how many.
int64_t AppendBulkOrderLines(std::string& out, const StoreData& data, const Order& o);

// One operation's file being rendered: made under the Simulator's lock from a snapshot of the
// matching orders, rendered by Run() on the bulk thread, watched through atomics by the
// registry. Thread-safe as documented per member; shared by the registry and the bulk thread.
class BulkJob final {
 public:
  // `data` must outlive the job; only its spec is read, so live steps may change its orders
  // meanwhile. `stop_after` >= 0 renders only that many orders and then stops (the file is
  // then discarded: a failing or stuck operation never has a URL); -1 renders them all.
  BulkJob(const StoreData* data, std::vector<Order> orders, int64_t stop_after);

  // Renders the file, publishing progress as it goes (a large one with the help of a second,
  // short-lived thread). Call once, on the bulk thread.
  void Run();
  // Any thread: stop rendering at the next progress step.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

  // Any thread.
  bool started() const { return started_.load(std::memory_order_acquire); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  int64_t lines() const {
    return lines_.load(std::memory_order_acquire) + tail_lines_.load(std::memory_order_acquire);
  }
  // The whole file once finished() and it was neither stopped nor cancelled; else null.
  std::shared_ptr<const std::string> file() const;

 private:
  const StoreData* const data_;
  std::vector<Order> orders_;  // the bulk thread's once Run() starts
  const int64_t stop_after_;
  std::atomic<bool> started_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> lines_{0};
  std::atomic<int64_t> tail_lines_{0};  // a large file's second half, rendered beside the first
  std::shared_ptr<const std::string> file_;  // written before finished_ is set, then read-only
};

enum class BulkStatus : uint8_t {
  kCreated,
  kRunning,
  kCompleted,
  kFailed,
  kCanceling,
  kCanceled,
  kExpired
};
absl::string_view BulkStatusName(BulkStatus status);  // "CREATED", …

struct BulkOperation {
  int64_t id = 0;  // the <n> of gid://shopify/BulkOperation/<n>
  std::string store;
  absl::Time created_at;
  absl::Time completed_at = absl::InfinitePast();  // InfinitePast: not finished
  absl::Time cancel_at = absl::InfinitePast();
  BulkStatus status = BulkStatus::kCreated;
  bool failed_internal = false;  // errorCode INTERNAL_SERVER_ERROR
  bool fail = false;             // fault switches taken at run time
  bool stuck = false;
  int64_t object_count = 0;
  int64_t url_expires = 0;  // unix seconds, once COMPLETED
  std::shared_ptr<BulkJob> job;
  std::shared_ptr<const std::string> file;  // once COMPLETED

  bool InProgress() const {
    return status == BulkStatus::kCreated || status == BulkStatus::kRunning ||
           status == BulkStatus::kCanceling;
  }
};

struct BulkOptions {
  absl::Duration min_duration = absl::Seconds(1);  // --bulk_min_ms
  absl::Duration url_ttl = absl::Hours(24 * 7);    // --bulk_url_ttl_seconds
  uint64_t secret = 0;                             // signs download URLs
};

// Every shop's operations. Not thread-safe (the Simulator locks); the jobs it holds are watched
// through their atomics. Reads refresh an operation's status from its job and `now` first.
class BulkOperations final {
 public:
  explicit BulkOperations(const BulkOptions& options) : options_(options) {}

  const BulkOptions& options() const { return options_; }
  // The shop's operation that is CREATED, RUNNING or CANCELING, if any.
  const BulkOperation* InProgress(const std::string& store, absl::Time now);
  // Registers a new CREATED operation for `job` (which the caller hands to the bulk thread)
  // and forgets the shop's oldest finished ones beyond kBulkKeptPerShop.
  const BulkOperation& Add(const std::string& store, absl::Time now, std::shared_ptr<BulkJob> job,
                           bool fail, bool stuck);
  // The shop's operation `id`, or null. A poll settles a CANCELING operation.
  const BulkOperation* Find(const std::string& store, int64_t id, absl::Time now);
  // The shop's most recent operation, or null; settles CANCELING like Find().
  const BulkOperation* Current(const std::string& store, absl::Time now);
  // Cancels the shop's operation `id`: kCanceling (now CANCELING), kUnknown (no such operation
  // for this shop; operation null) or kFinished (nothing to cancel; operation as it is).
  struct CancelResult {
    enum class Outcome : uint8_t { kCanceling, kUnknown, kFinished };
    Outcome outcome = Outcome::kUnknown;
    const BulkOperation* operation = nullptr;
  };
  CancelResult Cancel(const std::string& store, int64_t id, absl::Time now);
  // The file of a COMPLETED (or EXPIRED) operation still kept, or null.
  std::shared_ptr<const std::string> File(const std::string& store, int64_t id) const;

 private:
  BulkOperation* Get(const std::string& store, int64_t id);
  void Refresh(BulkOperation& op, absl::Time now, bool settle_cancel) const;

  const BulkOptions options_;
  int64_t next_id_ = kFirstBulkOperationId;
  std::map<std::string, std::deque<BulkOperation>> by_store_;  // oldest first
};

// What answering one bulk request needs from the Simulator.
struct BulkContext {
  const StoreData& data;
  BulkOperations& operations;
  QueryCostBucket& bucket;
  Faults& faults;
  absl::Time now;
  std::string host;  // the request's Host, for download URLs
  bool read_all_orders = true;
  // Hands a new job to the thread that renders files.
  std::function<void(std::shared_ptr<BulkJob>)> start;
};
// Answers one bulk request (kind != kNone) for the context's shop; see the top.
GraphqlAnswer AnswerBulkRequest(const GraphqlBody& body, BulkRequestKind kind,
                                BulkContext& context);

// The path and signature of a download URL; the signature binds store, id and expiry.
std::string BulkDownloadTarget(const std::string& store, int64_t id, int64_t expires,
                               uint64_t secret);
// Answers GET /_bulk/<store>/<id>.jsonl?expires=…&sig=… (see the top); `now` is compared with
// the URL's expiry.
Response AnswerBulkDownload(const ParsedTarget& target, const BulkOperations& operations,
                            Faults& faults, absl::Time now);

}  // namespace autosync::storesim
