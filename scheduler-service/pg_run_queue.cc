// PgRunQueue: the run queue's SQL (migration 0005). See run_queue.h for the rules.
#include <optional>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/pg_pool.h"
#include "common/run_stage.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/run_queue.h"

namespace autosync::scheduler {
namespace {

using pg::TimeFrom;

// Serializes dispatch across replicas: counting the running runs and taking queued ones must
// be one decision, or two replicas would both fill the same free slots. Held for one short
// transaction. (The key is "autoqueu" in ASCII; the migrations use "autosync".)
constexpr int64_t kDispatchLock = 0x6175746f71756575;

constexpr char kOrder[] = "priority, data_as_of, queued_at, run_id";

// The live workers' slots and the runs running now (fleet-wide).
std::pair<int, int> Capacity(pqxx::transaction_base& tx) {
  const pqxx::row r = tx.exec_params1(
      "SELECT (SELECT coalesce(sum(slots), 0) FROM worker_slots "
      "        WHERE seen_at > now() - $1 * interval '1 microsecond')::int, "
      "       (SELECT count(*) FROM sync_runs WHERE status = 'running')::int",
      absl::ToInt64Microseconds(kWorkerTtl));
  return {r[0].as<int>(), r[1].as<int>()};
}

}  // namespace

absl::StatusOr<EnqueueResult> PgRunQueue::Enqueue(const EnqueueRequest& request) {
  EnqueueResult out;
  bool found = false;
  const std::string types = pg::TextArray(DataTypeNames(request.types));
  const bool backfill = !request.backfill_from.empty();
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) -> absl::Status {
    pqxx::work tx(c);
    // KEY SHARE: a concurrent DeleteStore waits for this instead of racing it.
    const pqxx::result store =
        tx.exec_params("SELECT 1 FROM stores WHERE store_id = $1 FOR KEY SHARE", request.store_id);
    found = !store.empty();
    if (!found) return absl::OkStatus();
    // sync_runs_one_active decides; a run that ends between the INSERT and the SELECT makes us
    // try again.
    for (int attempt = 0; attempt < 5; ++attempt) {
      const pqxx::result inserted = tx.exec_params(
          "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, queued_at, "
          "  priority, data_as_of, not_before, attempt, force, data_types, backfill_from, "
          "  backfill_to) "
          "SELECT $1, $2, $3, 'queued', 'queued', $4, clock_timestamp(), $5, " +
              pg::DataAsOf("$2") + ", coalesce(" + pg::TimeParam(6) +
              ", '-infinity'), $7, $8, $9::text[], nullif($10, '')::date, "
              "nullif($11, '')::date "
              "ON CONFLICT DO NOTHING RETURNING 1",
          request.run_id, request.store_id, std::string(common::TriggerName(request.trigger)),
          request.owner, static_cast<int>(request.priority),
          request.not_before == absl::InfinitePast()
              ? std::optional<int64_t>()
              : std::optional<int64_t>(absl::ToUnixMicros(request.not_before)),
          request.attempt, request.force, types, request.backfill_from, request.backfill_to);
      if (!inserted.empty()) {
        out = {request.run_id, true, false};
        out.position = static_cast<int>(
            tx.exec_params1(pg::kQueuePosition, out.run_id, request.store_id)[0].as<int64_t>());
        pg::InsertAudit(tx, request.audit,
                        absl::StrCat("{\"run_id\":\"", out.run_id, "\",\"queued\":true}"));
        tx.commit();
        return absl::OkStatus();
      }
      // A person's trigger moves the store's queued run ahead -- to its priority, and out of
      // a retry's backoff --, makes it a full re-fetch when asked and adds the data types it
      // lacks; a running run is answered as it is. A backfill (its own range of work) and a
      // queued backfill (likewise) are never merged: the active run is only answered.
      const pqxx::result active = tx.exec_params(
          "WITH a AS (SELECT run_id, status, priority, not_before, backfill_from FROM sync_runs "
          "  WHERE store_id = $1 AND status IN ('queued', 'running') FOR UPDATE), "
          "up AS (UPDATE sync_runs r SET priority = least(r.priority, $2), "
          "  force = r.force OR $3, not_before = '-infinity', "
          "  data_types = ARRAY(SELECT DISTINCT t FROM unnest(r.data_types || $4::text[]) t "
          "    ORDER BY t DESC) FROM a "
          "  WHERE r.store_id = $1 AND r.run_id = a.run_id AND a.status = 'queued' AND NOT $5 AND "
          "  a.backfill_from IS NULL AND "
          "  (a.priority > $2 OR ($2 = 0 AND a.not_before > now()) OR "
          "   NOT r.data_types @> $4::text[] OR ($3 AND NOT r.force)) "
          "  RETURNING r.run_id) "
          "SELECT a.run_id, (SELECT count(*) FROM up) > 0 FROM a",
          request.store_id, static_cast<int>(request.priority), request.force, types, backfill);
      if (!active.empty()) {
        out = {active[0][0].as<std::string>(), false, active[0][1].as<bool>()};
        if (out.promoted) {
          out.position = static_cast<int>(
              tx.exec_params1(pg::kQueuePosition, out.run_id, request.store_id)[0].as<int64_t>());
        }
        tx.commit();
        return absl::OkStatus();
      }
    }
    return absl::AbortedError("the store's run state kept changing; try again");
  });
  if (!s.ok()) return s;
  if (!found) {
    return absl::NotFoundError(absl::StrCat("store \"", request.store_id, "\" is not registered"));
  }
  return out;
}

absl::StatusOr<Dispatch> PgRunQueue::Take(absl::string_view owner, int limit) {
  Dispatch out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) -> absl::Status {
    pqxx::work tx(c);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kDispatchLock);
    std::tie(out.slots, out.running) = Capacity(tx);
    const int take = std::min(limit, out.slots - out.running);
    if (take <= 0) {
      tx.commit();
      return absl::OkStatus();
    }
    // SKIP LOCKED: a row another transaction holds (a promotion, a store being deleted) is
    // passed over rather than waited for.
    const pqxx::result r = tx.exec_params(
        absl::StrCat(
            "WITH picked AS (SELECT store_id, run_id FROM sync_runs "
            "  WHERE status = 'queued' AND not_before <= now() ORDER BY ",
            kOrder,
            "  LIMIT $2 FOR UPDATE SKIP LOCKED) "
            "UPDATE sync_runs r SET status = 'running', stage = 'starting', "
            "  started_at = clock_timestamp(), heartbeat_at = clock_timestamp(), owner = $1 "
            "FROM picked p WHERE r.store_id = p.store_id AND r.run_id = p.run_id "
            "RETURNING r.run_id, r.store_id, r.trigger, r.force, r.attempt, r.refusals, ",
            AUTOSYNC_MICROS("r.queued_at"),
            ", array_to_string(r.data_types, ','), coalesce(r.backfill_from::text, ''), "
            "coalesce(r.backfill_to::text, '')"),
        std::string(owner), take);
    out.runs.reserve(r.size());
    for (const auto& row : r) {
      DispatchedRun run;
      run.run_id = row[0].as<std::string>();
      run.store_id = row[1].as<std::string>();
      run.trigger = common::TriggerFromName(row[2].as<std::string>());
      run.force = row[3].as<bool>();
      run.attempt = row[4].as<int>();
      run.refusals = row[5].as<int>();
      run.queued_at = TimeFrom(row[6]);
      // The column's CHECK holds these to known names.
      std::vector<std::string> names =
          absl::StrSplit(row[7].as<std::string>(), ',', absl::SkipEmpty());
      run.types = ParseDataTypes(names, "data_types").value_or(kAllDataTypes);
      run.backfill_from = row[8].as<std::string>();
      run.backfill_to = row[9].as<std::string>();
      out.runs.push_back(std::move(run));
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgRunQueue::GiveBack(const RunKey& run, absl::Time not_before) {
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE sync_runs SET status = 'queued', stage = 'queued', started_at = NULL, "
        "refusals = refusals + 1, not_before = " +
            pg::TimeParam(2) + " WHERE store_id = $3 AND run_id = $1 AND status = 'running'",
        run.run_id, absl::ToUnixMicros(not_before), run.store_id);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<QueuePlace>> PgRunQueue::Places(
    const std::vector<std::string>& store_ids) {
  std::vector<QueuePlace> out;
  if (store_ids.empty()) return out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    // One walk of the queue's index for every watched store (not one count per store).
    const pqxx::result r =
        tx.exec_params(absl::StrCat("SELECT store_id, run_id, trigger, pos FROM ("
                                    "  SELECT store_id, run_id, trigger, "
                                    "    row_number() OVER (ORDER BY ",
                                    kOrder,
                                    ") AS pos "
                                    "  FROM sync_runs WHERE status = 'queued') q "
                                    "WHERE store_id = ANY($1::text[])"),
                       pg::TextArray(store_ids));
    for (const auto& row : r) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                     common::TriggerFromName(row[2].as<std::string>()), row[3].as<int>()});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<QueueStats> PgRunQueue::Stats() {
  QueueStats out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec("SELECT priority, count(*), "
                                   "  extract(epoch FROM now() - min(queued_at))::float8 "
                                   "FROM sync_runs WHERE status = 'queued' GROUP BY priority")) {
      const int p = row[0].as<int>();
      if (p >= 0 && p < kPriorities) out.depth[p] = row[1].as<int64_t>();
      out.oldest = std::max(out.oldest, absl::Seconds(row[2].as<double>()));
    }
    out.overdue = tx.exec1(
                        "SELECT count(*) FROM sync_runs q JOIN stores s USING (store_id) "
                        "WHERE q.status = 'queued' AND q.queued_at < "
                        "  now() - s.staleness_seconds * interval '1 second'")[0]
                      .as<int64_t>();
    std::tie(out.slots, out.running) = Capacity(tx);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> PgRunQueue::PruneHistory(absl::Duration older_than, int batch,
                                                 int max_batches) {
  int64_t total = 0;
  for (int i = 0; i < max_batches; ++i) {
    int64_t deleted = 0;
    absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
      pqxx::work tx(c);
      // Oldest first; each store's newest run stays (its last outcome and success).
      deleted = static_cast<int64_t>(
          tx.exec_params("DELETE FROM sync_runs WHERE (store_id, run_id) IN ("
                         "  SELECT o.store_id, o.run_id FROM sync_runs o "
                         "  WHERE o.queued_at < now() - $1 * interval '1 microsecond' "
                         "  AND o.status NOT IN ('queued', 'running') "
                         "  AND EXISTS (SELECT 1 FROM sync_runs n WHERE n.store_id = o.store_id "
                         "              AND n.queued_at > o.queued_at) "
                         "  ORDER BY o.queued_at LIMIT $2)",
                         absl::ToInt64Microseconds(older_than), batch)
              .affected_rows());
      tx.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

}  // namespace autosync::scheduler
