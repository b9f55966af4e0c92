// The parts of PgSyncStore (pg_sync_store.cc) that live in their own files: the writes of orders
// and ads (pg_orders_write.cc) and the LTV cohorts (pg_ltv.cc), as functions over the worker's
// connection pool. Internal to the worker's PostgreSQL store: callers use SyncStore
// (sync_store.h, MakePgSyncStore).
//
// Thread-safety: every function takes a connection from `pool` for the duration of one call and
// may be called from any thread, as SyncStore's methods may. Lifetime: `pool` outlives the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker::pg {

// `t` as timestamptz text in UTC, for a query parameter.
inline std::string Timestamp(absl::Time t) {
  // %E4Y: PostgreSQL reads "24-01-01" as a two-digit year and refuses it; years 1-999 need
  // their leading zeros (the parsers accept years 0001-9999, see tests/fuzz).
  return absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone());
}

// `d` as date text, for a query parameter or COPY.
inline std::string Day(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());  // see Timestamp
}

// SyncStore::WriteOrdersPage, DeleteOrders and WriteAdsPage (sync_store.h states their contracts).
absl::StatusOr<int64_t> WriteOrdersPage(common::PgPool& pool, absl::string_view store_id,
                                        absl::string_view run_id, const std::vector<Order>& orders,
                                        absl::Time cursor, bool likely_new);
absl::StatusOr<int64_t> DeleteOrders(common::PgPool& pool, absl::string_view store_id,
                                     absl::string_view run_id,
                                     const std::vector<int64_t>& order_ids, absl::Time cursor);
absl::StatusOr<int64_t> WriteAdsPage(common::PgPool& pool, absl::string_view store_id,
                                     const std::vector<AdRow>& rows);

// SyncStore::RecomputeLtv (rebuild = false: incremental where the change log allows) and
// RebuildLtv (rebuild = true).
absl::StatusOr<int64_t> UpdateLtv(common::PgPool& pool, absl::string_view store_id,
                                  absl::string_view timezone, bool rebuild);

}  // namespace autosync::worker::pg
