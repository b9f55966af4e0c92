// PgSyncStore: the worker's SQL, behind SyncStore. This file holds the store's configuration,
// cursors, quarantine and stage bookkeeping; the writes of orders and ads are in
// pg_orders_write.cc, the LTV cohorts in pg_ltv.cc. All values are parameters, never spliced into
// SQL.
#include <cmath>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "sync-worker/pg_sync_store_parts.h"
#include "sync-worker/sync_store.h"

namespace autosync::worker {
namespace {

using pg::Day;
using pg::Timestamp;

class PgSyncStore final : public SyncStore {
 public:
  explicit PgSyncStore(common::PgPool& pool) : pool_(pool) {}

  absl::StatusOr<StoreConfig> LoadStore(absl::string_view store_id) override {
    StoreConfig config;
    bool found = false;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT store_id, timezone, orders_api_base, orders_api_version, ads_api_base, "
          "ads_api_version, ad_account_id, credentials_ref, orders_api FROM stores "
          "WHERE store_id = $1",
          std::string(store_id));
      if (r.empty()) return absl::OkStatus();
      found = true;
      config.store_id = r[0][0].as<std::string>();
      config.timezone = r[0][1].as<std::string>();
      config.orders_api_base = r[0][2].as<std::string>();
      config.orders_api_version = r[0][3].as<std::string>();
      config.ads_api_base = r[0][4].as<std::string>();
      config.ads_api_version = r[0][5].as<std::string>();
      config.ad_account_id = r[0][6].as<std::string>();
      config.credentials_ref = r[0][7].as<std::string>();
      config.orders_api = r[0][8].as<std::string>();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (!found)
      return absl::NotFoundError(absl::StrCat("no store \"", store_id, "\" is registered"));
    return config;
  }

  absl::StatusOr<std::optional<absl::Time>> OrdersCursor(absl::string_view store_id) override {
    std::optional<absl::Time> cursor;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT extract(epoch FROM cursor_at)::float8 FROM sync_tracking "
          "WHERE store_id = $1 AND stage = 'orders' AND cursor_at IS NOT NULL",
          std::string(store_id));
      if (!r.empty()) cursor = absl::FromUnixMicros(std::llround(r[0][0].as<double>() * 1e6));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return cursor;
  }

  absl::StatusOr<int64_t> WriteOrdersPage(absl::string_view store_id, absl::string_view run_id,
                                          const std::vector<Order>& orders, absl::Time cursor,
                                          bool likely_new) override {
    return pg::WriteOrdersPage(pool_, store_id, run_id, orders, cursor, likely_new);
  }

  absl::StatusOr<std::optional<absl::Time>> DeletionsCursor(absl::string_view store_id) override {
    return CursorTime(store_id, "deletions");
  }

  absl::StatusOr<std::optional<absl::Time>> SweptAt(absl::string_view store_id,
                                                    absl::string_view kind) override {
    return CursorTime(store_id, absl::StrCat(kind, "_sweep"));
  }

  absl::Status MarkSwept(absl::string_view store_id, absl::string_view kind,
                         absl::string_view run_id, absl::Time at) override {
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "swept");
      tx.exec_params(
          "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_run_id, last_success_at, "
          "updated_at) VALUES ($1, $2, $3::timestamptz, $4, now(), now()) "
          "ON CONFLICT (store_id, stage) DO UPDATE SET "
          "cursor_at = GREATEST(sync_tracking.cursor_at, excluded.cursor_at), "
          "last_run_id = excluded.last_run_id, last_success_at = now(), updated_at = now()",
          std::string(store_id), absl::StrCat(kind, "_sweep"), Timestamp(at), std::string(run_id));
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> DeleteOrders(absl::string_view store_id, absl::string_view run_id,
                                       const std::vector<int64_t>& order_ids,
                                       absl::Time cursor) override {
    return pg::DeleteOrders(pool_, store_id, run_id, order_ids, cursor);
  }

  absl::StatusOr<std::optional<absl::CivilDay>> AdsCursor(absl::string_view store_id) override {
    std::optional<absl::CivilDay> cursor;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT to_char(cursor_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM sync_tracking "
          "WHERE store_id = $1 AND stage = 'ads' AND cursor_at IS NOT NULL",
          std::string(store_id));
      if (!r.empty()) {
        absl::CivilDay day;
        if (absl::ParseCivilTime(r[0][0].as<std::string>(), &day)) cursor = day;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return cursor;
  }

  absl::StatusOr<int64_t> WriteAdsPage(absl::string_view store_id,
                                       const std::vector<AdRow>& rows) override {
    return pg::WriteAdsPage(pool_, store_id, rows);
  }

  absl::Status Quarantine(absl::string_view store_id, absl::string_view run_id,
                          const std::vector<QuarantinedRecord>& records) override {
    if (records.empty()) return absl::OkStatus();
    const std::string store(store_id);
    const std::string run(run_id);
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "quarantine");
      for (const QuarantinedRecord& q : records) {
        tx.exec_params(
            "INSERT INTO quarantined_records AS q (store_id, kind, record_key, rule, detail, "
            "run_id, source, raw, raw_truncated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
            "ON CONFLICT (store_id, kind, record_key) DO UPDATE SET rule = excluded.rule, "
            "detail = excluded.detail, run_id = excluded.run_id, source = excluded.source, "
            "raw = excluded.raw, raw_truncated = excluded.raw_truncated, last_seen = now(), "
            "times_seen = q.times_seen + 1",
            store, q.kind, q.record_key, q.rule, q.detail, run, q.source, q.raw, q.raw_truncated);
      }
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::Status MarkStageDone(absl::string_view store_id, absl::string_view stage,
                             absl::string_view run_id,
                             std::optional<absl::CivilDay> ads_until) override {
    return pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c, "stage_done");
      const std::optional<std::string> until =
          ads_until ? std::optional<std::string>(Day(*ads_until)) : std::nullopt;
      tx.exec_params(
          "INSERT INTO sync_tracking (store_id, stage, cursor_at, last_success_at, last_run_id, "
          "updated_at) VALUES ($1, $2, $3::date::timestamp AT TIME ZONE 'UTC', now(), $4, now()) "
          "ON CONFLICT (store_id, stage) DO UPDATE SET "
          "cursor_at = coalesce(excluded.cursor_at, sync_tracking.cursor_at), "
          "last_success_at = now(), last_run_id = excluded.last_run_id, updated_at = now()",
          std::string(store_id), std::string(stage), until, std::string(run_id));
      tx.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> RecomputeLtv(absl::string_view store_id,
                                       absl::string_view timezone) override {
    return pg::UpdateLtv(pool_, store_id, timezone, /*rebuild=*/false);
  }

  absl::StatusOr<int64_t> RebuildLtv(absl::string_view store_id,
                                     absl::string_view timezone) override {
    return pg::UpdateLtv(pool_, store_id, timezone, /*rebuild=*/true);
  }

 private:
  // The store's `stage` cursor in sync_tracking as an instant (microseconds), if set.
  absl::StatusOr<std::optional<absl::Time>> CursorTime(absl::string_view store_id,
                                                       const std::string& stage) {
    std::optional<absl::Time> at;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      at.reset();
      pqxx::read_transaction tx(c);
      const pqxx::result r = tx.exec_params(
          "SELECT (extract(epoch FROM cursor_at) * 1000000)::bigint FROM sync_tracking "
          "WHERE store_id = $1 AND stage = $2 AND cursor_at IS NOT NULL",
          std::string(store_id), stage);
      if (!r.empty()) at = absl::FromUnixMicros(r[0][0].as<int64_t>());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return at;
  }

  common::PgPool& pool_;
};

}  // namespace

std::unique_ptr<SyncStore> MakePgSyncStore(common::PgPool& pool) {
  return std::make_unique<PgSyncStore>(pool);
}

}  // namespace autosync::worker
