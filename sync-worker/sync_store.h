// The worker's view of PostgreSQL: load a store, read cursors, write pages of orders and ads
// (each page with its cursor in one transaction), recompute LTV cohorts. An interface so the
// pipeline's ordering and cancellation logic can be tested with a fake; PgSyncStore is the real
// one (pg_sync_store.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/insights_page.h"
#include "sync-worker/connectors/orders_page.h"
#include "sync-worker/connectors/record_rules.h"
#include "sync-worker/store_config.h"

namespace autosync::common {
class PgPool;
}

namespace autosync::worker {

class SyncStore {
 public:
  virtual ~SyncStore() = default;

  // NOT_FOUND when the store is not registered.
  virtual absl::StatusOr<StoreConfig> LoadStore(absl::string_view store_id) = 0;

  // The highest order updated_at committed so far, if any.
  virtual absl::StatusOr<std::optional<absl::Time>> OrdersCursor(absl::string_view store_id) = 0;

  // Upserts `orders` (a row changes only when the incoming updated_at is newer) and advances
  // the orders cursor to `cursor` (never backwards), in one transaction; an order of the page
  // that was quarantined leaves quarantine (it arrived valid). Returns the number of
  // rows inserted or changed. `likely_new`: the caller expects none of these orders to be stored
  // yet (a store's first sync), so the store may try a plain insert first; the result is the
  // same either way.
  virtual absl::StatusOr<int64_t> WriteOrdersPage(absl::string_view store_id,
                                                  absl::string_view run_id,
                                                  const std::vector<Order>& orders,
                                                  absl::Time cursor, bool likely_new) = 0;

  // The newest order deletion event applied (sync_tracking stage 'deletions'), if any.
  virtual absl::StatusOr<std::optional<absl::Time>> DeletionsCursor(absl::string_view store_id) = 0;

  // Deletes the orders the source deleted (and their quarantined versions) and advances the
  // deletions cursor to `cursor` (never backwards), in one transaction; the LTV change log sees
  // the deletes like any other change. Returns how many orders were stored and are now gone.
  virtual absl::StatusOr<int64_t> DeleteOrders(absl::string_view store_id, absl::string_view run_id,
                                               const std::vector<int64_t>& order_ids,
                                               absl::Time cursor) = 0;

  // When the late-change sweep of `kind` ("orders" | "ads") last completed, if ever.
  virtual absl::StatusOr<std::optional<absl::Time>> SweptAt(absl::string_view store_id,
                                                            absl::string_view kind) = 0;
  virtual absl::Status MarkSwept(absl::string_view store_id, absl::string_view kind,
                                 absl::string_view run_id, absl::Time at) = 0;

  // The last ad day fetched, if any.
  virtual absl::StatusOr<std::optional<absl::CivilDay>> AdsCursor(absl::string_view store_id) = 0;

  // Upserts ad rows by (store, date, campaign); a row changes only when a value differs. A row
  // of the page that was quarantined leaves quarantine.
  virtual absl::StatusOr<int64_t> WriteAdsPage(absl::string_view store_id,
                                               const std::vector<AdRow>& rows) = 0;

  // Keeps records that broke a business rule (record_rules.h) in quarantine, one row per
  // (kind, record_key): a record seen again replaces its row (rule, detail, run, source, raw)
  // and counts the sighting. Nothing is written to `orders` or `ads`. Call it before the write
  // of the page the records came from, so a cursor never passes a record not kept anywhere.
  virtual absl::Status Quarantine(absl::string_view store_id, absl::string_view run_id,
                                  const std::vector<QuarantinedRecord>& records) = 0;

  // Records a stage's success (and, for ads, the last day fetched).
  virtual absl::Status MarkStageDone(absl::string_view store_id, absl::string_view stage,
                                     absl::string_view run_id,
                                     std::optional<absl::CivilDay> ads_until) = 0;

  // Replaces the store's customer_ltv_cohorts rows atomically; returns how many it wrote.
  virtual absl::StatusOr<int64_t> RecomputeLtv(absl::string_view store_id,
                                               absl::string_view timezone) = 0;

  // RecomputeLtv from every order of the store, discarding whatever it keeps between runs.
  virtual absl::StatusOr<int64_t> RebuildLtv(absl::string_view store_id,
                                             absl::string_view timezone) = 0;
};

std::unique_ptr<SyncStore> MakePgSyncStore(common::PgPool& pool);

}  // namespace autosync::worker
