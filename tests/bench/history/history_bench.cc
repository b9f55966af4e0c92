// History benchmark (issue 15, "history that stays bounded"): a simulated day of N hourly stores
// written the way the system writes it -- per hour, the boundary's group claims, every store's
// tick record (tick_claims, updated in place) and one completed run per store (sync_runs, with
// its queue, run and outcome columns) -- then the size of each table with its indexes, per run
// row, and projected over --run_history_days; and how fast PgRunQueue::PruneHistory deletes an
// hour of runs past the retention, in its batches. Prints Markdown rows. Nothing is asserted.
#include <cstdio>
#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "scheduler-service/run_queue.h"
#include "tests/support/pg_cluster.h"

ABSL_FLAG(int64_t, stores, 100000, "stores, each on an hourly schedule");
ABSL_FLAG(int32_t, hours, 24, "hours simulated");

namespace autosync::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "history_bench: %s\n", what.c_str());
  std::exit(1);
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t stores = absl::GetFlag(FLAGS_stores);
  const int hours = absl::GetFlag(FLAGS_hours);
  auto cluster = autosync::testing::PgCluster::Start();
  if (!cluster.ok()) Die(cluster.status().ToString());
  auto url = (*cluster)->CreateDatabase();
  if (!url.ok()) Die(url.status().ToString());
  auto pool = common::PgPool::Create({.url = *url, .size = 2});
  if (!pool.ok() || !common::ApplyMigrations(**pool, common::EmbeddedMigrations()).ok()) {
    Die("migration failed");
  }
  pqxx::connection conn(*url);
  {
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO stores (store_id) SELECT 'store-' || i "
        "FROM generate_series(1, $1::bigint) i",
        stores);
    tx.commit();
  }
  // Hour h of the simulated day, ending now: the boundary, then each store's run queued at the
  // boundary, started 0-60 s later and finished 2-30 s after that.
  const absl::Time start = absl::Now();
  for (int h = 0; h < hours; ++h) {
    pqxx::work tx(conn);
    const std::string boundary =
        absl::StrCat("date_trunc('hour', now()) - interval '", hours - 1 - h, " hours'");
    tx.exec(
        absl::StrCat("INSERT INTO tick_group_claims (group_id, boundary, owner, claimed_at) "
                     "SELECT g, ",
                     boundary, ", 'scheduler-0', ", boundary,
                     " + interval '10 ms' "
                     "FROM generate_series(0, 1023) g"));
    tx.exec(
        absl::StrCat("INSERT INTO tick_claims AS c (store_id, boundary, run_id, owner, claimed_at, "
                     "recorded_at) SELECT store_id, ",
                     boundary, ", 'run_' || md5(store_id || '", h, "'), 'scheduler-0', ", boundary,
                     ", ", boundary,
                     " + interval '1 s' FROM stores "
                     "ON CONFLICT (store_id) DO UPDATE SET boundary = excluded.boundary, "
                     "run_id = excluded.run_id, claimed_at = excluded.claimed_at, "
                     "recorded_at = excluded.recorded_at"));
    tx.exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, scheduled_for, "
        "queued_at, started_at, finished_at, heartbeat_at, owner, orders_fetched, "
        "orders_written, ads_fetched, ads_written, cohort_rows, pages, priority, data_as_of) "
        "SELECT 'run_' || substr(md5(store_id || '/",
        h,
        "'), 1, 24), store_id, 'cron', "
        "'completed', 'completed', b, b + interval '1 s', b + (hashtext(store_id) % 60 + 60) * "
        "interval '500 ms', b + interval '90 s', b + interval '90 s', 'scheduler-0', 20, 3, "
        "28, 2, 24, 2, 1, b - interval '1 hour' FROM stores, (SELECT ",
        boundary, " AS b) t"));
    tx.commit();
  }
  const double write_s = absl::ToDoubleSeconds(absl::Now() - start);
  {
    pqxx::nontransaction tx(conn);
    tx.exec("VACUUM ANALYZE sync_runs, tick_claims, tick_group_claims");
  }
  std::printf("history benchmark: %lld hourly stores, %d hours simulated, %s\n",
              static_cast<long long>(stores), hours,
              absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()).c_str());
  std::printf("| table | rows | table | indexes | total | per row |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  int64_t runs_total = 0;
  {
    pqxx::nontransaction tx(conn);
    for (const char* table : {"sync_runs", "tick_claims", "tick_group_claims"}) {
      const pqxx::row r = tx.exec1(absl::StrCat(
          "SELECT (SELECT count(*) FROM ", table, "), pg_relation_size('", table,
          "'), pg_indexes_size('", table, "'), pg_total_relation_size('", table, "')"));
      const int64_t rows = r[0].as<int64_t>();
      const double mb = 1024.0 * 1024.0;
      std::printf("| %s | %lld | %.1f MB | %.1f MB | %.1f MB | %.0f B |\n", table,
                  static_cast<long long>(rows), r[1].as<double>() / mb, r[2].as<double>() / mb,
                  r[3].as<double>() / mb,
                  rows > 0 ? r[3].as<double>() / static_cast<double>(rows) : 0.0);
      if (std::string(table) == "sync_runs") runs_total = r[3].as<int64_t>();
    }
  }
  const double per_day = static_cast<double>(runs_total) * 24.0 / hours;
  std::printf(
      "| sync_runs per day / at 7 days / at 30 days (--run_history_days) | %.2f GB / "
      "%.1f GB / %.1f GB |\n",
      per_day / 1e9, 7 * per_day / 1e9, 30 * per_day / 1e9);
  std::printf(
      "| writing the simulated hours (set-based, one statement a table an hour) | %.1f s |\n",
      write_s);
  // Pruning: the oldest hour moved past a 1-day retention, deleted by the scheduler's own
  // statement in its batches (1000 rows, up to 50 a pass).
  {
    pqxx::work tx(conn);
    tx.exec(
        "UPDATE sync_runs SET queued_at = queued_at - interval '2 days' WHERE queued_at < "
        "(SELECT min(queued_at) FROM sync_runs) + interval '30 minutes'");
    tx.commit();
  }
  scheduler::PgRunQueue queue(**pool);
  const absl::Time prune_start = absl::Now();
  int64_t pruned = 0;
  int passes = 0;
  while (true) {
    absl::StatusOr<int64_t> n = queue.PruneHistory(absl::Hours(24), 1000, 50);
    if (!n.ok()) Die(n.status().ToString());
    pruned += *n;
    ++passes;
    if (*n < 50 * 1000) break;
  }
  const double prune_s = absl::ToDoubleSeconds(absl::Now() - prune_start);
  std::printf(
      "| pruning an hour past the retention (%lld rows, %d passes of <= 50 x 1000) | %.1f s, "
      "%.0f rows/s |\n",
      static_cast<long long>(pruned), passes, prune_s,
      prune_s > 0 ? static_cast<double>(pruned) / prune_s : 0.0);
  return 0;
}

}  // namespace
}  // namespace autosync::bench

int main(int argc, char** argv) { return autosync::bench::Main(argc, argv); }
