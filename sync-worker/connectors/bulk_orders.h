// Shopify GraphQL bulk operations for orders (issue 18): the request bodies that start, follow
// and cancel one, their answers, and the JSONL result file read as it downloads. Pure logic; the
// lifecycle (poll, download, cancel) is BulkOrdersClient's (graphql_bulk_client.h).
//
// A bulk operation runs the orders connection without paging and writes one JSON object per line.
// Nested connections become lines of their own that carry `__parentId` and follow their parent.
// Ours: an order line (the fields of GraphqlOrdersQuery without totalRefundedSet, plus
// `refunds: [{id}]`, a list inlined in the order), then each refund transaction as a child line
// whose `__parentId` is its refund's id. The order's refunded amount is the sum of its child
// transactions of kind REFUND and status SUCCESS (REST's rule, orders_page.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sync-worker/connectors/graphql_orders.h"
#include "sync-worker/connectors/orders_page.h"

namespace autosync::worker {

// The query the operation runs, for the search filter `filter` (GraphqlOrdersFilter).
std::string BulkOrdersQuery(absl::string_view filter);

// Request bodies (JSON with the document and its variables).
std::string BulkRunBody(absl::string_view filter);           // bulkOperationRunQuery
std::string BulkPollBody(absl::string_view operation_id);    // node(id:) … on BulkOperation
std::string BulkCurrentBody();                               // currentBulkOperation
std::string BulkCancelBody(absl::string_view operation_id);  // bulkOperationCancel

struct BulkOperation {
  std::string id;          // gid://shopify/BulkOperation/<n>
  std::string status;      // CREATED RUNNING COMPLETED CANCELING CANCELED FAILED EXPIRED
  std::string error_code;  // "" when null (ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT)
  int64_t object_count = 0;
  std::string url;  // the JSONL's download URL; "" until COMPLETED, and when nothing matched

  bool Running() const {
    return status == "CREATED" || status == "RUNNING" || status == "CANCELING";
  }
};

struct BulkAnswer : GraphqlEnvelope {
  std::vector<std::string> user_errors;    // the mutation's userErrors, "field: message"
  std::optional<BulkOperation> operation;  // nullopt when null
};

// The answer to one of the bodies above. `field` is the data member it fills:
// "bulkOperationRunQuery" and "bulkOperationCancel" (data.<field>.bulkOperation and userErrors),
// "node" and "currentBulkOperation" (data.<field> is the operation). DATA_LOSS when the body is
// not JSON, INVALID_ARGUMENT naming the path when it has the wrong shape.
absl::StatusOr<BulkAnswer> ParseBulkAnswer(absl::string_view body, absl::string_view field);

// Reads the JSONL as it arrives, in chunks cut anywhere. An order is handed out only once it is
// complete: when the next order line starts, or at Finish. So a file cut off, or a bad line,
// never yields an order without its children. Errors name the line (1-based):
//   DATA_LOSS         a line that is not JSON, or longer than max_line_bytes (refused as soon as
//                     it is, so a hostile 10 MiB line costs at most max_line_bytes of memory);
//   INVALID_ARGUMENT  a line of the wrong shape, a child before any order, a child whose parent
//                     is not a refund of the order before it (a child ahead of its parent, or a
//                     parent id never seen), a child of another type than a transaction.
// With a `screen`, a complete order breaking a business rule is quarantined instead of handed out
// (record_rules.h); its raw JSON is its order line followed by its child lines.
// After an error the reader stays failed. Not thread-safe.
class BulkOrdersReader final {
 public:
  static constexpr size_t kDefaultMaxLineBytes = size_t{8} << 20;
  explicit BulkOrdersReader(size_t max_line_bytes = kDefaultMaxLineBytes,
                            const RecordScreen* screen = nullptr);

  // Appends the orders `bytes` completed to `complete`.
  absl::Status Feed(absl::string_view bytes, std::vector<Order>& complete);
  // The end of the file: a last line without its newline is read, and the last order completes.
  absl::Status Finish(std::vector<Order>& complete);

  int64_t lines() const { return lines_; }

 private:
  absl::Status Line(absl::string_view line, std::vector<Order>& complete);
  absl::Status Child(simdjson::dom::object child, absl::string_view parent_gid);
  absl::Status Fail(absl::Status status);
  // Hands out the current order (or quarantines it) and forgets it.
  void Complete(std::vector<Order>& complete);
  void KeepRaw(absl::string_view line);

  size_t max_line_bytes_;
  std::string partial_;  // the start of a line whose newline has not arrived
  int64_t lines_ = 0;
  std::optional<Order> current_;          // the last order line, waiting for its children
  std::vector<int64_t> current_refunds_;  // its refunds' ids (its children's parents)
  const RecordScreen* screen_;
  std::string current_raw_;   // with a screen: its lines, up to kMaxRawBytes + 1
  int64_t current_line_ = 0;  // its line number
  absl::Status failed_;
  simdjson::dom::parser parser_;
};

}  // namespace autosync::worker
