// PgRepository: the cron tick SQL (migrations 0004-0006). A boundary's ticks are claimed per
// (tick group, boundary) in tick_group_claims (ClaimGroups), then recorded per store
// (RecordTicks: the store's tick_claims row moves to the boundary -- the once-only guard --, the
// tick is decided, a skip counted there or a run queued). See repository.h for the contracts.
#include <pqxx/pqxx>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pg_pool.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/repository.h"

namespace autosync::scheduler {
namespace {

using pg::TextArray;
using pg::TimeFrom;

// Ticks as the record statement takes them ($1 store ids, $2 run ids, $3 boundaries and $5
// group claim times in microseconds, $6 the data types due (DataTypes bits), as array literals).
struct TickArrays {
  std::string store_ids;
  std::string run_ids;
  std::string boundaries;
  std::string claimed;
  std::string types;
};

std::string MicrosArray(const std::vector<int64_t>& micros) {
  return absl::StrCat("{", absl::StrJoin(micros, ","), "}");
}

TickArrays ToArrays(const std::vector<TickRequest>& ticks) {
  std::vector<std::string> store_ids;
  std::vector<std::string> run_ids;
  std::vector<int64_t> boundaries;
  std::vector<int64_t> claimed;
  std::vector<int64_t> types;
  store_ids.reserve(ticks.size());
  run_ids.reserve(ticks.size());
  boundaries.reserve(ticks.size());
  claimed.reserve(ticks.size());
  for (const TickRequest& t : ticks) {
    store_ids.push_back(t.store_id);
    run_ids.push_back(t.run_id);
    boundaries.push_back(absl::ToUnixMicros(t.scheduled_for));
    claimed.push_back(t.claimed_at == absl::InfinitePast() ? 0 : absl::ToUnixMicros(t.claimed_at));
    types.push_back(t.types);
  }
  return {TextArray(store_ids), TextArray(run_ids), MicrosArray(boundaries), MicrosArray(claimed),
          MicrosArray(types)};
}

// The group claim: one insert per (group, boundary), in key order (two replicas claiming the
// same boundary lock the keys in the same order); the second inserter of a key waits for the
// first's commit and gets no row back. A replica claiming a key it already holds (a boundary
// larger than one pass of the schedule loop comes in several) gets it back. The time returned
// is the row's claim time for a new row (xmax = 0: inserted), else when this call took the key.
constexpr char kClaimGroups[] =
    "INSERT INTO tick_group_claims AS c (group_id, boundary, owner, claimed_at) "
    "SELECT DISTINCT ON (t.g, t.us) t.g, 'epoch'::timestamptz + t.us * interval '1 microsecond', "
    "  $3, clock_timestamp() "
    "FROM unnest($1::int[], $2::bigint[]) AS t(g, us) ORDER BY t.g, t.us "
    "ON CONFLICT (group_id, boundary) DO UPDATE SET owner = excluded.owner "
    "WHERE c.owner = excluded.owner "
    "RETURNING group_id, " AUTOSYNC_MICROS("boundary") ", "
    "  CASE WHEN c.xmax = 0 THEN " AUTOSYNC_MICROS("c.claimed_at") " ELSE " AUTOSYNC_MICROS(
        "clock_timestamp()") " END";
// Prepared on each connection when first used.
constexpr char kClaimGroupsName[] = "claim_tick_groups";

}  // namespace

absl::StatusOr<std::vector<GroupClaim>> PgRepository::ClaimGroups(
    const std::vector<GroupTick>& keys, absl::string_view owner) {
  std::vector<GroupClaim> out(keys.size());
  if (keys.empty()) return out;
  std::vector<std::string> groups;
  std::vector<int64_t> micros;
  groups.reserve(keys.size());
  micros.reserve(keys.size());
  absl::flat_hash_map<std::pair<int, int64_t>, size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    groups.push_back(absl::StrCat(keys[i].group));
    micros.push_back(absl::ToUnixMicros(keys[i].boundary));
    index.emplace(std::make_pair(keys[i].group, micros.back()), i);
  }
  const std::string group_array = absl::StrCat("{", absl::StrJoin(groups, ","), "}");
  const std::string micros_array = MicrosArray(micros);
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) -> absl::Status {
    c.prepare(kClaimGroupsName, kClaimGroups);
    pqxx::work tx(c);
    const pqxx::result r =
        tx.exec_prepared(kClaimGroupsName, group_array, micros_array, std::string(owner));
    for (const auto& row : r) {
      auto it = index.find(std::make_pair(row[0].as<int>(), row[1].as<int64_t>()));
      if (it == index.end()) continue;
      out[it->second] = {true, TimeFrom(row[2])};
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgRepository::WarmClaimConnections(int n) {
  return pool_.Warm(n, [](pqxx::connection_base& c) -> absl::Status {
    c.prepare(kClaimGroupsName, kClaimGroups);
    pqxx::work tx(c);
    // No keys: plans the statement and loads what it touches into the backend's caches.
    tx.exec_prepared(kClaimGroupsName, "{}", "{}", "");
    tx.abort();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<TickRequest>> PgRepository::UnrecordedTicks(
    const std::vector<TickRequest>& ticks) {
  std::vector<TickRequest> out;
  if (ticks.empty()) return out;
  const TickArrays arrays = ToArrays(ticks);
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    const pqxx::result r = tx.exec_params(
        "SELECT t.store_id, t.run_id, t.at_us, t.types "
        "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[]) "
        "  AS t(store_id, run_id, at_us, types) "
        "LEFT JOIN tick_claims c ON c.store_id = t.store_id "
        "WHERE c.boundary IS NULL OR "
        "  c.boundary < 'epoch'::timestamptz + t.at_us * interval '1 microsecond' "
        "ORDER BY t.store_id",
        arrays.store_ids, arrays.run_ids, arrays.boundaries, arrays.types);
    for (const auto& row : r) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                     absl::FromUnixMicros(row[2].as<int64_t>()), absl::InfinitePast(),
                     static_cast<DataTypes>(row[3].as<int>())});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> PgRepository::PruneGroupClaims(absl::Duration older_than) {
  int64_t deleted = 0;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    deleted =
        static_cast<int64_t>(tx.exec_params("DELETE FROM tick_group_claims WHERE claimed_at < "
                                            "now() - $1 * interval '1 microsecond'",
                                            absl::ToInt64Microseconds(older_than))
                                 .affected_rows());
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return deleted;
}

absl::StatusOr<TickClaim> PgRepository::RecordTick(const TickRequest& tick,
                                                   absl::string_view owner) {
  // The batch statement for one tick, so both paths decide alike. It is rolled back when a run
  // of the store is queued after its snapshot (ALREADY_EXISTS) or the store is deleted
  // meanwhile (ABORTED); the next attempt sees that commit and decides overlap or not
  // scheduled. Another rollback needs yet another concurrent commit for the same store, so a
  // few attempts do.
  const std::vector<TickRequest> one = {tick};
  absl::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<std::vector<TickClaim>> decided = RecordTicks(one, owner);
    if (decided.ok()) return std::move(decided->front());
    last = decided.status();
    if (last.code() != absl::StatusCode::kAlreadyExists &&
        last.code() != absl::StatusCode::kAborted) {
      break;
    }
  }
  return last;
}

absl::StatusOr<std::vector<TickClaim>> PgRepository::RecordTicks(
    const std::vector<TickRequest>& ticks, absl::string_view owner) {
  std::vector<TickClaim> out(ticks.size());
  if (ticks.empty()) return out;
  const TickArrays arrays = ToArrays(ticks);
  absl::flat_hash_map<std::string, size_t> index;
  index.reserve(ticks.size());
  for (size_t i = 0; i < ticks.size(); ++i) index.emplace(ticks[i].run_id, i);
  // One statement decides the whole batch, as RecordTick does row by row:
  //  - decided: per tick, not scheduled (the store is disabled or gone), fresh (each data type
  //    due at this boundary had a completed run within its staleness; the ages in the detail),
  //    overlap (a run queued or in flight), else queue, for the due types whose data is stale
  //    -- looked up with the statement's snapshot. A type that never synced is due at every
  //    fire (a new store's ads need not wait hours for their first schedule);
  //  - gate: the store's tick_claims row moves to this boundary, only if it is later than the
  //    one recorded (so each store's tick is recorded once, whoever records it: the group's
  //    winner, or a replica that lost the group and found the tick unrecorded), with the group
  //    claim's time, the record's time and, for a skip, the counter, time and reason (a skip
  //    writes no sync_runs row). Rows go in in store order (concurrent recorders lock them in
  //    the same order and cannot deadlock); a store twice in one batch is recorded for its
  //    latest boundary, the other request is lost;
  //  - ins: a queued run for each gated tick to run. If a run of that store was queued after our
  //    snapshot (a manual trigger), sync_runs_one_active raises a unique violation for the
  //    whole statement (ALREADY_EXISTS; the caller retries row by row); a store deleted after
  //    the snapshot fails the foreign key (ABORTED; likewise).
  // queued_at and recorded_at are clock_timestamp(): when each row was written.
  // A type's last success is the last completed run that synced it (sync_runs.data_types).
  constexpr char kRecord[] =
      "WITH req AS ("
      "  SELECT t.store_id, t.run_id, t.at_us, t.claimed_us, t.types FROM unnest($1::text[], "
      "    $2::text[], $3::bigint[], $5::bigint[], $6::int[]) "
      "    AS t(store_id, run_id, at_us, claimed_us, types)), "
      "looked AS ("
      "  SELECT r.*, l.store_id AS live, l.staleness_seconds AS so, "
      "    l.ads_staleness_seconds AS sa, fo.t AS o_ok, fa.t AS a_ok, "
      "    x.active_id, x.active_status, "
      "    ((r.types & 1) <> 0 OR fo.t IS NULL) AND NOT coalesce(fo.t > now() - "
      "      l.staleness_seconds * interval '1 second', false) AS o_due, "
      "    ((r.types & 2) <> 0 OR fa.t IS NULL) AND NOT coalesce(fa.t > now() - "
      "      l.ads_staleness_seconds * interval '1 second', false) AS a_due "
      "  FROM req r LEFT JOIN stores l ON l.store_id = r.store_id AND l.enabled "
      "  LEFT JOIN LATERAL ("
      "    SELECT p.finished_at AS t FROM sync_runs p "
      "    WHERE p.store_id = r.store_id AND p.status = 'completed' "
      "    AND 'orders' = ANY (p.data_types) ORDER BY p.finished_at DESC LIMIT 1) fo ON true "
      "  LEFT JOIN LATERAL ("
      "    SELECT p.finished_at AS t FROM sync_runs p "
      "    WHERE p.store_id = r.store_id AND p.status = 'completed' "
      "    AND 'ads' = ANY (p.data_types) ORDER BY p.finished_at DESC LIMIT 1) fa ON true "
      "  LEFT JOIN LATERAL ("
      "    SELECT q.run_id AS active_id, q.status AS active_status FROM sync_runs q "
      "    WHERE q.store_id = r.store_id AND q.status IN ('queued', 'running') LIMIT 1) x "
      "  ON true), "
      "decided AS ("
      "  SELECT k.run_id, k.store_id, k.at_us, k.claimed_us, "
      "    array_remove(ARRAY[CASE WHEN k.o_due THEN 'orders' END, "
      "      CASE WHEN k.a_due THEN 'ads' END], NULL) AS run_types, "
      "    coalesce(least(CASE WHEN k.o_due THEN coalesce(k.o_ok, '-infinity') END, "
      "      CASE WHEN k.a_due THEN coalesce(k.a_ok, '-infinity') END), '-infinity') "
      "      AS data_as_of, "
      "    CASE WHEN k.live IS NULL THEN 3 WHEN NOT (k.o_due OR k.a_due) THEN 1 "
      "    WHEN k.active_id IS NOT NULL THEN 2 ELSE 0 END AS kind, "
      "    CASE WHEN k.live IS NULL THEN '' "
      "    WHEN NOT (k.o_due OR k.a_due) THEN "
      "      CASE WHEN k.types = 3 AND k.so = k.sa THEN "
      "        'skipped: data is fresh (last success ' || "
      "        floor(extract(epoch FROM now() - least(k.o_ok, k.a_ok)))::bigint || "
      "        ' s ago, staleness threshold ' || k.so || ' s)' "
      "      ELSE 'skipped: data is fresh (' || concat_ws('; ', "
      "        CASE WHEN (k.types & 1) <> 0 THEN 'orders: last success ' || "
      "          floor(extract(epoch FROM now() - k.o_ok))::bigint || "
      "          ' s ago, staleness threshold ' || k.so || ' s' END, "
      "        CASE WHEN (k.types & 2) <> 0 THEN 'ads: last success ' || "
      "          floor(extract(epoch FROM now() - k.a_ok))::bigint || "
      "          ' s ago, staleness threshold ' || k.sa || ' s' END) || ')' END "
      "    WHEN k.active_id IS NOT NULL THEN 'skipped: run ' || k.active_id || ' was still ' || "
      "      CASE WHEN k.active_status = 'queued' THEN 'queued' ELSE 'in flight' END "
      "    ELSE '' END AS detail "
      "  FROM looked k), "
      "gate AS ("
      "  INSERT INTO tick_claims AS c (store_id, boundary, run_id, owner, claimed_at, "
      "    recorded_at, skipped_fires, last_skip_at, last_skip_reason) "
      "  SELECT DISTINCT ON (d.store_id COLLATE \"C\") d.store_id, "
      "    'epoch'::timestamptz + d.at_us * interval '1 microsecond', d.run_id, $4, "
      "    CASE WHEN d.claimed_us = 0 THEN clock_timestamp() "
      "      ELSE 'epoch'::timestamptz + d.claimed_us * interval '1 microsecond' END, "
      "    clock_timestamp(), CASE WHEN d.kind IN (1, 2) THEN 1 ELSE 0 END, "
      "    CASE WHEN d.kind IN (1, 2) THEN clock_timestamp() END, d.detail "
      "  FROM decided d WHERE EXISTS (SELECT 1 FROM stores s WHERE s.store_id = d.store_id) "
      "  ORDER BY d.store_id COLLATE \"C\", d.at_us DESC "
      "  ON CONFLICT (store_id) DO UPDATE SET boundary = excluded.boundary, "
      "    run_id = excluded.run_id, owner = excluded.owner, claimed_at = excluded.claimed_at, "
      "    recorded_at = excluded.recorded_at, "
      "    skipped_fires = c.skipped_fires + excluded.skipped_fires, "
      "    last_skip_at = coalesce(excluded.last_skip_at, c.last_skip_at), "
      "    last_skip_reason = CASE WHEN excluded.skipped_fires > 0 "
      "      THEN excluded.last_skip_reason ELSE c.last_skip_reason END "
      "  WHERE c.boundary < excluded.boundary "
      "  RETURNING c.run_id), "
      "ins AS ("
      "  INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, scheduled_for, owner, "
      "    queued_at, heartbeat_at, priority, data_as_of, data_types) "
      "  SELECT d.run_id, d.store_id, 'cron', 'queued', 'queued', "
      "    'epoch'::timestamptz + d.at_us * interval '1 microsecond', $4, clock_timestamp(), "
      "    clock_timestamp(), 1, d.data_as_of, d.run_types "
      "  FROM decided d JOIN gate g ON g.run_id = d.run_id WHERE d.kind = 0 "
      "  ORDER BY d.store_id "
      "  ON CONFLICT (store_id, scheduled_for) WHERE trigger = 'cron' DO NOTHING "
      "  RETURNING run_id) "
      "SELECT d.run_id, d.kind, d.detail, g.run_id IS NOT NULL AND "
      "  (d.kind <> 0 OR i.run_id IS NOT NULL) "
      "FROM decided d LEFT JOIN gate g ON g.run_id = d.run_id "
      "LEFT JOIN ins i ON i.run_id = d.run_id";
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) -> absl::Status {
    pqxx::work tx(c);
    pqxx::result r;
    try {
      r = tx.exec_params(kRecord, arrays.store_ids, arrays.run_ids, arrays.boundaries,
                         std::string(owner), arrays.claimed, arrays.types);
    } catch (const pqxx::foreign_key_violation& e) {
      return absl::AbortedError(absl::StrCat("a store was deleted during the record: ", e.what()));
    }
    for (const auto& row : r) {
      auto it = index.find(row[0].as<std::string>());
      if (it == index.end()) continue;
      TickClaim& claim = out[it->second];
      const int kind = row[1].as<int>();
      if (kind == 3) {
        claim.outcome = TickOutcome::kNotScheduled;
      } else if (!row[3].as<bool>()) {
        claim.outcome = TickOutcome::kLost;
      } else if (kind == 0) {
        claim.outcome = TickOutcome::kQueued;
      } else {
        claim.outcome = kind == 1 ? TickOutcome::kSkippedFresh : TickOutcome::kSkippedOverlap;
        claim.detail = row[2].as<std::string>();
      }
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace autosync::scheduler
