// The Shopify orders listing over a StoreData: filters (status, updated/created ranges, since_id,
// ids), sort orders, keyset paging with opaque page_info cursors (filters + position, MAC'd so
// a tampered one is refused), and the order JSON rendering. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/store-sim/store_data.h"

namespace autosync::storesim {

enum class StatusFilter : uint8_t { kOpen, kClosed, kCancelled, kAny };
enum class SortOrder : uint8_t {
  kIdAsc,
  kIdDesc,
  kUpdatedAsc,
  kUpdatedDesc,
  kCreatedAsc,
  kCreatedDesc
};

// Orders created more than this long before the sim clock count as closed (archived), so a
// connector that forgets status=any silently misses them, as it would on the real API.
inline constexpr int64_t kClosedAfterSeconds = 30 * 86400;

// Without the read_all_orders scope, only orders created this long before the sim clock exist.
inline constexpr int64_t kRecentOrdersSeconds = 60 * 86400;

struct OrdersQuery {
  StatusFilter status = StatusFilter::kOpen;
  SortOrder sort = SortOrder::kIdAsc;
  std::optional<int64_t> updated_min, updated_max, created_min, created_max, since_id;
  std::vector<int64_t> ids;  // sorted; empty = no id filter
};

// Position of a row in the sort: (primary sort value, id).
struct SortKey {
  int64_t primary = 0;
  int64_t id = 0;
};

struct PageCursor {
  OrdersQuery query;
  bool backward = false;  // true: the page before `key`; false: the page after it
  SortKey key;
};

// page_info is base64url(payload + 8-byte keyed FNV tag). The tag binds the store id, so a
// cursor from one store is refused by another.
std::string EncodePageInfo(const PageCursor& cursor, uint64_t secret, absl::string_view store_id);
absl::StatusOr<PageCursor> DecodePageInfo(absl::string_view page_info, uint64_t secret,
                                          absl::string_view store_id);

// Parses the listing's query parameters (all but limit/fields/page_info). Errors name the
// parameter. Timestamps without an offset are not accepted; bare dates mean midnight at the
// store's offset.
struct ParsedParam {
  absl::string_view key;
  absl::string_view value;
};
absl::StatusOr<OrdersQuery> ParseOrdersQuery(const std::vector<ParsedParam>& params,
                                             int offset_minutes);

struct OrdersPage {
  std::vector<uint32_t> positions;  // into StoreData::orders(), in response order
  bool has_next = false;
  bool has_previous = false;
};

// `query` narrowed to what an app without read_all_orders sees at sim time `now`: the API simply
// has no older orders.
OrdersQuery WithoutOldOrders(OrdersQuery query, int64_t now);

// Runs one page. `cursor` null: the first page.
OrdersPage RunOrdersQuery(const StoreData& data, const OrdersQuery& query, int limit,
                          const PageCursor* cursor);
// Number of matching orders (orders/count.json).
int64_t CountOrders(const StoreData& data, const OrdersQuery& query);

SortKey KeyOf(const Order& o, SortOrder sort);

// Appends one order as JSON; `fields` empty = all fields, else only the named top-level ones.
void AppendOrderJson(std::string& out, const StoreData& data, const Order& o,
                     const std::vector<std::string>& fields);

}  // namespace autosync::storesim
