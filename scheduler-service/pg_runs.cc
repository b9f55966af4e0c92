// PgRepository: the SQL of run rows -- progress, outcome, heartbeats, reaping (with the follow-up
// queued in the same statement), the run history, and a store's status. Contracts: repository.h.
#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pg_pool.h"
#include "common/run_stage.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::Run;
using autosync::v1::StageCounts;

#define MICROS(col) AUTOSYNC_MICROS(col)
using pg::TextArray;
using pg::TimeFrom;
using pg::TimeParam;

constexpr char kRunColumns[] =
    "run_id, store_id, trigger, status, stage, " MICROS("started_at") ", " MICROS(
        "finished_at") ", orders_fetched, orders_written, ads_fetched, ads_written, cohort_rows, "
                       "pages, error, " MICROS("scheduled_for") ", owner, " MICROS(
                           "queued_at") ", attempt, CASE WHEN not_before > now() THEN " MICROS("not_before") " END, "
    "array_to_string(data_types, ','), force, coalesce(backfill_from::text, ''), "
    "coalesce(backfill_to::text, ''), orders_quarantined, ads_quarantined, orders_deleted";

Run RunFromRow(const pqxx::row& r) {
  Run run;
  run.set_run_id(r[0].as<std::string>());
  run.set_store_id(r[1].as<std::string>());
  run.set_trigger(common::TriggerFromName(r[2].as<std::string>()));
  run.set_status(r[3].as<std::string>());
  run.set_stage(common::StageFromName(r[4].as<std::string>()));
  if (!r[5].is_null()) ToProto(TimeFrom(r[5]), run.mutable_started_at());
  if (!r[6].is_null()) ToProto(TimeFrom(r[6]), run.mutable_finished_at());
  StageCounts* c = run.mutable_counts();
  c->set_orders_fetched(r[7].as<int64_t>());
  c->set_orders_written(r[8].as<int64_t>());
  c->set_ads_fetched(r[9].as<int64_t>());
  c->set_ads_written(r[10].as<int64_t>());
  c->set_cohort_rows(r[11].as<int64_t>());
  c->set_pages(r[12].as<int64_t>());
  c->set_orders_quarantined(r[23].as<int64_t>());
  c->set_ads_quarantined(r[24].as<int64_t>());
  c->set_orders_deleted(r[25].as<int64_t>());
  run.set_error(r[13].as<std::string>());
  if (!r[14].is_null()) ToProto(TimeFrom(r[14]), run.mutable_scheduled_for());
  run.set_owner(r[15].as<std::string>());
  ToProto(TimeFrom(r[16]), run.mutable_queued_at());
  run.set_attempt(r[17].as<int>());
  if (!r[18].is_null()) ToProto(TimeFrom(r[18]), run.mutable_not_before());
  for (absl::string_view type : absl::StrSplit(r[19].as<std::string>(), ',', absl::SkipEmpty())) {
    run.add_data_types(std::string(type));
  }
  run.set_force(r[20].as<bool>());
  run.set_backfill_from(r[21].as<std::string>());
  run.set_backfill_to(r[22].as<std::string>());
  return run;
}

}  // namespace
absl::Status PgRepository::UpdateRun(const RunKey& run, autosync::v1::Stage stage,
                                     const StageCounts& counts) {
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE sync_runs SET stage = $2, orders_fetched = $3, orders_written = $4, "
        "ads_fetched = $5, ads_written = $6, cohort_rows = $7, pages = $8, "
        "orders_quarantined = $9, ads_quarantined = $10, orders_deleted = $11, "
        "heartbeat_at = now() WHERE store_id = $12 AND run_id = $1 AND status = 'running'",
        run.run_id, std::string(common::StageName(stage)), counts.orders_fetched(),
        counts.orders_written(), counts.ads_fetched(), counts.ads_written(), counts.cohort_rows(),
        counts.pages(), counts.orders_quarantined(), counts.ads_quarantined(),
        counts.orders_deleted(), run.store_id);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status PgRepository::FinishRun(const RunKey& run, absl::string_view status,
                                     autosync::v1::Stage stage, const StageCounts& counts,
                                     absl::string_view error) {
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE sync_runs SET status = $2, stage = $3, orders_fetched = $4, orders_written = $5, "
        "ads_fetched = $6, ads_written = $7, cohort_rows = $8, pages = $9, error = $10, "
        "orders_quarantined = $11, ads_quarantined = $12, orders_deleted = $13, "
        "finished_at = now(), heartbeat_at = now() "
        "WHERE store_id = $14 AND run_id = $1 AND status = 'running'",
        run.run_id, std::string(status), std::string(common::StageName(stage)),
        counts.orders_fetched(), counts.orders_written(), counts.ads_fetched(),
        counts.ads_written(), counts.cohort_rows(), counts.pages(), std::string(error),
        counts.orders_quarantined(), counts.ads_quarantined(), counts.orders_deleted(),
        run.store_id);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status PgRepository::Heartbeat(const std::vector<RunKey>& runs) {
  if (runs.empty()) return absl::OkStatus();
  std::vector<std::string> store_ids, run_ids;
  store_ids.reserve(runs.size());
  run_ids.reserve(runs.size());
  for (const RunKey& run : runs) {
    store_ids.push_back(run.store_id);
    run_ids.push_back(run.run_id);
  }
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE sync_runs r SET heartbeat_at = now() "
        "FROM unnest($1::text[], $2::text[]) AS k(store_id, run_id) "
        "WHERE r.store_id = k.store_id AND r.run_id = k.run_id AND r.status = 'running'",
        TextArray(store_ids), TextArray(run_ids));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<ReapedRun>> PgRepository::ReapStale(absl::Duration stale,
                                                               int max_attempts,
                                                               absl::string_view owner) {
  std::vector<ReapedRun> out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    const double seconds = absl::ToDoubleSeconds(stale);
    // The follow-up of each reaped run (attempt + 1, while attempts remain) is queued in the
    // same statement, so a replica that dies right after reaping loses no run. Its id has the
    // shape of common::NewRunId ("run_" and 24 hex digits).
    const pqxx::result r = tx.exec_params(
        "WITH reaped AS ("
        "  UPDATE sync_runs SET status = 'failed', finished_at = now(), error = "
        "  'the scheduler replica ' || CASE WHEN owner = '' THEN '(unknown)' ELSE owner END || "
        "  ' that owned this run stopped heartbeating (none for ' || $2 || ' s); marked failed "
        "so the store can be scheduled again' "
        "  WHERE status = 'running' AND heartbeat_at < now() - $1 * interval '1 second' "
        "  RETURNING run_id, store_id, error, trigger, attempt, priority, force, data_types, "
        "    backfill_from, backfill_to), "
        "next AS ("
        "  INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, queued_at, "
        "    priority, data_as_of, attempt, force, data_types, backfill_from, backfill_to) "
        "  SELECT 'run_' || substr(md5(random()::text || clock_timestamp()::text || r.run_id), "
        "    1, 24), r.store_id, r.trigger, 'queued', 'queued', $4, clock_timestamp(), "
        "    r.priority, " +
            pg::DataAsOf("r.store_id") +
            ", r.attempt + 1, r.force, "
            "    r.data_types, r.backfill_from, r.backfill_to "
            "  FROM reaped r WHERE r.attempt < $3 ORDER BY r.store_id "
            "  ON CONFLICT DO NOTHING RETURNING run_id, store_id) "
            "SELECT r.run_id, r.store_id, r.error, r.trigger, r.attempt, n.run_id "
            "FROM reaped r LEFT JOIN next n ON n.store_id = r.store_id",
        seconds, absl::StrCat(static_cast<int64_t>(seconds)), max_attempts, std::string(owner));
    for (const auto& row : r) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     common::TriggerFromName(row[3].as<std::string>()), row[4].as<int>(),
                     row[5].is_null() ? "" : row[5].as<std::string>()});
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<Run>> PgRepository::ListRuns(
    absl::string_view store_id, std::optional<std::pair<absl::Time, std::string>> before,
    int limit) {
  std::vector<Run> out;
  absl::Status s =
      pg::ReadOneStore(pool_, store_id, [&](pqxx::read_transaction& tx, const std::string& id) {
        pqxx::result r;
        if (before.has_value()) {
          r = tx.exec_params(absl::StrCat("SELECT ", kRunColumns,
                                          " FROM sync_runs WHERE store_id = $1 AND "
                                          "(queued_at, run_id) < (",
                                          TimeParam(2),
                                          ", $3) "
                                          "ORDER BY queued_at DESC, run_id DESC LIMIT $4"),
                             id, absl::ToUnixMicros(before->first), before->second, limit);
        } else {
          r = tx.exec_params(absl::StrCat("SELECT ", kRunColumns,
                                          " FROM sync_runs WHERE store_id = $1 "
                                          "ORDER BY queued_at DESC, run_id DESC LIMIT $2"),
                             id, limit);
        }
        for (const auto& row : r) out.push_back(RunFromRow(row));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<StatusRow> PgRepository::LoadStatus(absl::string_view store_id,
                                                   absl::Duration connections_ttl) {
  StatusRow out;
  bool found = false;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    const std::string id(store_id);
    const pqxx::result store = tx.exec_params(
        "SELECT schedule, timezone, enabled, jitter_seconds, ads_schedule FROM stores "
        "WHERE store_id = $1",
        id);
    if (store.empty()) return absl::OkStatus();
    found = true;
    autosync::v1::SyncStatus& st = out.status;
    st.set_schedule(store[0][0].as<std::string>());
    st.set_timezone(store[0][1].as<std::string>());
    st.set_enabled(store[0][2].as<bool>());
    out.jitter_seconds = store[0][3].as<int64_t>();
    st.set_ads_schedule(store[0][4].as<std::string>());
    const pqxx::result active = tx.exec_params(
        absl::StrCat("SELECT ", kRunColumns,
                     " FROM sync_runs WHERE store_id = $1 AND status IN ('queued', 'running')"),
        id);
    if (!active.empty()) {
      Run run = RunFromRow(active[0]);
      if (run.status() == "running") {
        st.set_is_syncing(true);
        *st.mutable_current_run() = std::move(run);
      } else {
        const pqxx::row place = tx.exec_params1(pg::kQueuePosition, run.run_id(), run.store_id());
        st.set_queued(true);
        st.set_queue_position(static_cast<int32_t>(place[0].as<int64_t>()));
        *st.mutable_queued_run() = std::move(run);
      }
    }
    const pqxx::result skips = tx.exec_params(
        "SELECT skipped_fires, " MICROS("last_skip_at") ", last_skip_reason FROM tick_claims "
        "WHERE store_id = $1",
        id);
    if (!skips.empty()) {
      st.set_skipped_fires(skips[0][0].as<int64_t>());
      if (!skips[0][1].is_null()) ToProto(TimeFrom(skips[0][1]), st.mutable_last_skip_time());
      st.set_last_skip_reason(skips[0][2].as<std::string>());
    }
    const pqxx::result last = tx.exec_params(
        absl::StrCat("SELECT ", kRunColumns,
                     " FROM sync_runs WHERE store_id = $1 AND status NOT IN ('queued', 'running') "
                     "ORDER BY queued_at DESC, run_id DESC LIMIT 1"),
        id);
    if (!last.empty()) *st.mutable_last_run() = RunFromRow(last[0]);
    const pqxx::result synced = tx.exec_params(
        "SELECT " MICROS("finished_at") ", status, error FROM sync_runs WHERE store_id = $1 AND "
        "status IN ('completed', 'failed') ORDER BY finished_at DESC LIMIT 1",
        id);
    if (!synced.empty()) {
      ToProto(TimeFrom(synced[0][0]), st.mutable_last_sync_time());
      if (synced[0][1].as<std::string>() == "failed") {
        st.set_last_error(synced[0][2].as<std::string>());
      }
    }
    const pqxx::result success = tx.exec_params(
        "SELECT " MICROS("finished_at") " FROM sync_runs WHERE store_id = $1 AND "
        "status = 'completed' ORDER BY finished_at DESC LIMIT 1",
        id);
    if (!success.empty()) ToProto(TimeFrom(success[0][0]), st.mutable_last_success_time());
    const pqxx::result conns = tx.exec_params(
        "SELECT coalesce(sum(connections), 0)::bigint FROM gateway_connections "
        "WHERE store_id = $1 AND reported_at > now() - $2 * interval '1 second'",
        id, absl::ToDoubleSeconds(connections_ttl));
    st.set_active_connections(
        static_cast<int32_t>(std::min<int64_t>(conns[0][0].as<int64_t>(), INT32_MAX)));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return pg::NoStore(store_id);
  return out;
}

}  // namespace autosync::scheduler
