#include "tests/bench/fleet/fleet_claims.h"

#include <algorithm>
#include <cstdio>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "tests/bench/fleet/fleet_system.h"
#include "tests/bench/fleet/proc_stats.h"

namespace autosync::bench {

int RunClaims(const ClaimsOptions& options) {
  const int64_t n = options.stores;
  Cluster cluster = StartCluster();
  const bool past = options.past;
  const absl::Time boundary = past ? LastBoundary() : NextBoundary(options.margin);
  const int minute = absl::ToCivilMinute(boundary, absl::UTCTimeZone()).minute();
  pqxx::connection conn(cluster.url);
  {
    // Hourly stores on the boundary's minute, each with a claim of the hour before and a run
    // history of completed hourly runs (the steady state of a fleet; staleness 0 so every fire
    // queues a run). No worker: nothing is dispatched. Created an hour before, so that a boundary
    // that has passed is caught up.
    pqxx::work tx(conn);
    tx.exec(
        absl::StrCat("INSERT INTO stores (store_id, schedule, ads_schedule, staleness_seconds, "
                     "created_at) SELECT 's' || i, '",
                     minute, " * * * *', '", minute, " * * * *', 0, ",
                     Ts(boundary - absl::Hours(1)), " FROM generate_series(1, ", n, ") i"));
    tx.exec(absl::StrCat(
        "INSERT INTO tick_claims (store_id, boundary, run_id, claimed_at, "
        "recorded_at) SELECT store_id, ",
        Ts(boundary - absl::Hours(1)), ", 'h1-' || store_id, ", Ts(boundary - absl::Hours(1)), ", ",
        Ts(boundary - absl::Hours(1)), " FROM stores"));
    tx.exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, scheduled_for, "
        "queued_at, started_at, finished_at) "
        "SELECT 'h' || h || '-' || store_id, store_id, 'cron', 'completed', 'completed', t, t, "
        "t, t + interval '1 second' FROM stores, generate_series(1, ",
        options.history_runs, ") h, LATERAL (SELECT ", Ts(boundary),
        " - h * interval '1 hour' AS t) x"));
    tx.commit();
    Exec(conn, "ANALYZE");
  }
  Service scheduler = StartScheduler(cluster.url, "127.0.0.1:1");
  if (!past && absl::Now() >= boundary) {
    Die("set-up took past the boundary; raise --margin_seconds");
  }
  Say(absl::StrCat(n, " stores fire at ",
                   absl::FormatTime("%H:%M:%S UTC", boundary, absl::UTCTimeZone()),
                   past ? " (passed: fired by the catch-up at the scheduler's start)" : ""));
  // No polling while the boundary is claimed (it would share the 2 cores with the claims).
  absl::SleepFor(std::max(boundary, absl::Now()) + absl::Seconds(2) - absl::Now());
  const absl::Time deadline = absl::Now() + options.timeout;
  int64_t recorded = 0, queued = 0;
  const std::string b = Ts(boundary);
  while (absl::Now() < deadline) {
    recorded = Scalar(conn, "SELECT count(*) FROM tick_claims WHERE boundary = " + b);
    queued = Scalar(conn,
                    "SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND "
                    "scheduled_for = " +
                        b);
    if (recorded >= n && queued >= n) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  const std::vector<double> claim_ms =
      Column(conn,
             "SELECT extract(epoch FROM claimed_at - boundary) * 1000 FROM tick_claims "
             "WHERE boundary = " +
                 b);
  const std::vector<double> recorded_ms =
      Column(conn,
             "SELECT extract(epoch FROM recorded_at - boundary) * 1000 FROM tick_claims "
             "WHERE boundary = " +
                 b);
  const std::vector<double> queued_ms =
      Column(conn,
             "SELECT extract(epoch FROM queued_at - scheduled_for) * 1000 FROM sync_runs "
             "WHERE trigger = 'cron' AND scheduled_for = " +
                 b);
  const std::vector<double> group_ms = GroupClaimMs(conn, b);
  const double rss = RssMib(scheduler.process->pid());
  Stop(scheduler);

  auto row = [](const char* what, const std::vector<double>& v) {
    std::printf("| %s - boundary p50 / p99 / max | %.0f / %.0f / %.0f ms |\n", what,
                Percentile(v, 0.5), Percentile(v, 0.99), Percentile(v, 1));
  };
  std::printf(
      "fleet claims: %lld stores firing at one boundary, no worker, %d history run(s) "
      "each, %s\n",
      static_cast<long long>(n), options.history_runs,
      absl::FormatTime("%Y-%m-%d %H:%M UTC", boundary, absl::UTCTimeZone()).c_str());
  std::printf("| measurement | value |\n| --- | ---: |\n");
  std::printf("| ticks recorded / run rows queued | %lld / %lld of %lld |\n",
              static_cast<long long>(recorded), static_cast<long long>(queued),
              static_cast<long long>(n));
  if (!group_ms.empty()) row("claim per tick group", group_ms);
  row("claim (tick_claims.claimed_at)", claim_ms);
  row("tick recorded", recorded_ms);
  row("run row queued", queued_ms);
  std::printf("| scheduler RSS after | %.1f MiB |\n", rss);
  std::printf("RESULT %s\n", Json()
                                 .Str("mode", "claims")
                                 .Str("boundary", past ? "past" : "next")
                                 .Num("stores", static_cast<double>(n))
                                 .Num("history_runs", options.history_runs)
                                 .Num("claimed", static_cast<double>(recorded))
                                 .Num("queued", static_cast<double>(queued))
                                 .Raw("group_claim_ms", Spread(group_ms))
                                 .Raw("claim_ms", Spread(claim_ms))
                                 .Raw("recorded_ms", Spread(recorded_ms))
                                 .Raw("queued_ms", Spread(queued_ms))
                                 .Num("scheduler_rss_mib", rss)
                                 .Render()
                                 .c_str());
  return recorded >= n && queued >= n ? 0 : 1;
}

}  // namespace autosync::bench
