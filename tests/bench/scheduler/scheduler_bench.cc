// Scheduler benchmark (issue #4 / #9): N stores with hourly schedules, F of which share the next
// minute boundary. Prints the scheduler's start-up time with N schedules, its RSS, its idle CPU
// between boundaries, and the fire lateness at the boundary: the time each tick was claimed in
// PostgreSQL minus the boundary (tick_claims.claimed_at - boundary), as percentiles; and the
// same for the record after the claim (tick_claims.recorded_at - boundary: the moment the tick
// was decided and its skip counted, or its run queued). Every store's data is fresh, so fires
// are claimed and recorded as skipped (counted on the store): no worker is involved.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

ABSL_FLAG(int64_t, stores, 100000, "stores with an hourly schedule");
ABSL_FLAG(int64_t, firing, 10000,
          "of which fire at the next minute boundary (0: measure start-up, RSS and idle CPU only)");
ABSL_FLAG(int32_t, margin_seconds, 100,
          "the boundary is the first minute at least this far away (start-up + idle fit before)");
ABSL_FLAG(int32_t, idle_seconds, 10,
          "how long idle CPU is measured (with --firing=0: after the first minute refresh; "
          "longer than --refresh_seconds, so the window holds one)");
ABSL_FLAG(int32_t, refresh_seconds, 60, "the scheduler's --schedule_refresh_seconds");

namespace autosync::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "scheduler_bench: %s\n", what.c_str());
  std::exit(1);
}

struct ProcStat {
  double cpu_seconds = 0;
  double rss_mb = 0;
};

ProcStat Stat(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  const size_t close = content.rfind(')');
  if (close == std::string::npos) Die("cannot read /proc stat");
  std::vector<std::string> f = absl::StrSplit(content.substr(close + 2), ' ');
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(std::stod(f[11]) + std::stod(f[12])) / ticks,
          std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0)};
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t stores = absl::GetFlag(FLAGS_stores);
  const int64_t firing = std::min(absl::GetFlag(FLAGS_firing), stores);

  auto cluster = autosync::testing::PgCluster::Start();
  if (!cluster.ok()) Die(cluster.status().ToString());
  auto url = (*cluster)->CreateDatabase();
  if (!url.ok()) Die(url.status().ToString());
  {
    auto pool = common::PgPool::Create({.url = *url, .size = 1});
    if (!pool.ok() || !common::ApplyMigrations(**pool, common::EmbeddedMigrations()).ok()) {
      Die("migration failed");
    }
  }
  // The boundary: the first minute far enough away that start-up and idle measurement fit.
  const absl::Time boundary = absl::FromCivil(
      absl::CivilMinute(absl::ToCivilMinute(
          absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_margin_seconds)), absl::UTCTimeZone())) +
          1,
      absl::UTCTimeZone());
  const int boundary_minute = absl::ToCivilMinute(boundary, absl::UTCTimeZone()).minute();
  {
    pqxx::connection conn(*url);
    pqxx::work tx(conn);
    // Firing stores use the boundary's minute; the rest spread over the other 59 minutes. With
    // --firing=0 every store uses the boundary's minute, so none fires while idle is measured.
    tx.exec_params(
        "INSERT INTO stores (store_id, schedule, staleness_seconds, enabled) "
        "SELECT 's' || i, CASE WHEN i <= $2 THEN $3::int "
        "ELSE (($3::int + 1 + (i % 59)) % 60) END || ' * * * *', 86400, true "
        "FROM generate_series(1, $1::bigint) i",
        stores, firing == 0 ? stores : firing, boundary_minute);
    // One schedule for both data types: no ads-only fires beside the measured ones.
    tx.exec("UPDATE stores SET ads_schedule = schedule");
    // Every store synced a moment ago: fires are claimed and skipped as fresh.
    tx.exec(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
        "finished_at) SELECT 'seed-' || store_id, store_id, 'manual', 'completed', 'completed', "
        "now() - interval '10 minutes', now() - interval '10 minutes' FROM stores");
    tx.commit();
  }

  const int port = autosync::testing::FreePort();
  const int metrics_port = autosync::testing::FreePort();
  const absl::Time start = absl::Now();
  auto scheduler = autosync::testing::ChildProcess::Start(
      autosync::testing::BinaryPath("scheduler-service"),
      {.args = {
           "--database_url=" + *url, "--insecure_grpc", absl::StrCat("--listen=127.0.0.1:", port),
           absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port), "--log_level=warn",
           "--worker_target=127.0.0.1:1", "--database_pool_size=8",
           absl::StrCat("--schedule_refresh_seconds=", absl::GetFlag(FLAGS_refresh_seconds))}});
  if (!scheduler.ok()) Die(scheduler.status().ToString());
  const std::string target = absl::StrCat("127.0.0.1:", port);
  if (!autosync::testing::WaitForServing(target, absl::Seconds(60)).ok()) {
    Die(absl::StrCat("scheduler not serving: ", (*scheduler)->Output()));
  }
  const double startup_s = absl::ToDoubleSeconds(absl::Now() - start);

  // Idle: 10 s well before the boundary, and between two minute boundaries. The other stores'
  // schedules spread over the other 59 minutes, so about 1/60 of them fire at every minute; a
  // window across one of those minutes measures their claims and skip announcements, not idle
  // time. Such a window is moved to just after that minute's work (5 s after it), when that
  // still ends before the measured boundary (small --margin_seconds may not leave room).
  absl::SleepFor(absl::Seconds(2));
  if (firing == 0) {
    // Idle is the steady state: after start-up's own work (the first full freshness export) and
    // the first minute refresh (due --refresh_seconds after start), so the window holds
    // refreshes like every later one. Not polled: a scrape of /metrics, with two per-store
    // series, costs the scheduler more CPU than the idle being measured.
    absl::SleepFor(start + absl::Seconds(absl::GetFlag(FLAGS_refresh_seconds) + 5) - absl::Now());
  }
  const absl::Duration idle = absl::Seconds(absl::GetFlag(FLAGS_idle_seconds));
  const absl::Time next_minute = absl::FromCivil(
      absl::ToCivilMinute(absl::Now(), absl::UTCTimeZone()) + 1, absl::UTCTimeZone());
  if (firing > 0 && absl::Now() + idle + absl::Seconds(1) > next_minute &&
      next_minute + absl::Seconds(5) + idle + absl::Seconds(2) < boundary) {
    absl::SleepFor(next_minute + absl::Seconds(5) - absl::Now());
  }
  const ProcStat idle_a = Stat((*scheduler)->pid());
  const absl::Time idle_start = absl::Now();
  absl::SleepFor(idle);
  const ProcStat idle_b = Stat((*scheduler)->pid());
  const double idle_cores =
      (idle_b.cpu_seconds - idle_a.cpu_seconds) / absl::ToDoubleSeconds(absl::Now() - idle_start);
  if (absl::Now() >= boundary) Die("start-up took past the boundary; rerun");
  if (firing == 0) {
    // Memory and idle CPU only (the 1M-stores row): no boundary to wait for.
    std::printf("scheduler benchmark: %lld stores, none firing, %s\n",
                static_cast<long long>(stores),
                absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()).c_str());
    std::printf("| measurement | value |\n| --- | ---: |\n");
    std::printf("| start-up to SERVING with all schedules loaded | %.2f s |\n", startup_s);
    std::printf("| RSS idle | %.1f MB |\n", idle_b.rss_mb);
    std::printf("| idle CPU between boundaries | %.4f cores |\n", idle_cores);
    // After the window: what the refreshes did, and what one scrape costs at this size.
    const ProcStat scrape_a = Stat((*scheduler)->pid());
    const absl::Time scrape_start = absl::Now();
    absl::StatusOr<autosync::testing::MetricValues> m =
        autosync::testing::ScrapeMetrics(metrics_port, absl::Seconds(120));
    const double scrape_s = absl::ToDoubleSeconds(absl::Now() - scrape_start);
    const ProcStat scrape_b = Stat((*scheduler)->pid());
    if (!m.ok()) Die(absl::StrCat("cannot scrape the scheduler: ", m.status().ToString()));
    auto refreshes = [&](const char* outcome) {
      return autosync::testing::SeriesValue(
          *m,
          absl::StrCat("autosync_scheduler_schedule_refreshes_total{outcome=\"", outcome, "\"}"));
    };
    std::printf("| minute refreshes since start: reloaded / unchanged | %.0f / %.0f |\n",
                refreshes("reloaded"), refreshes("unchanged"));
    std::printf("| one /metrics scrape: series / s / scheduler CPU s | %zu / %.2f / %.2f |\n",
                m->size(), scrape_s, scrape_b.cpu_seconds - scrape_a.cpu_seconds);
    return 0;
  }

  // Wait for every firing store's claim and record (bounded), then read the lateness from the
  // database: the claim (tick_claims.claimed_at, the measure) and, after it, the record
  // (tick_claims.recorded_at: the skip counted, which the API and dashboard show).
  pqxx::connection conn(*url);
  // No polling while the boundary is being claimed: each poll counts rows in two tables, work
  // PostgreSQL would do on the same 2 cores as the claims it measures.
  absl::SleepFor(boundary + absl::Seconds(2) - absl::Now());
  const absl::Time deadline = boundary + absl::Seconds(120);
  int64_t claimed = 0;
  int64_t recorded = 0;
  while (absl::Now() < deadline) {
    pqxx::nontransaction tx(conn);
    const pqxx::row counts = tx.exec_params1(
        "SELECT (SELECT count(*) FROM tick_claims WHERE boundary = to_timestamp($1)), "
        "(SELECT count(*) FROM tick_claims WHERE boundary = to_timestamp($1) AND "
        "recorded_at IS NOT NULL)",
        absl::ToUnixSeconds(boundary));
    claimed = counts[0].as<int64_t>();
    recorded = counts[1].as<int64_t>();
    if (claimed >= firing && recorded >= firing) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  const ProcStat after = Stat((*scheduler)->pid());
  pqxx::nontransaction tx(conn);
  auto percentiles = [&](const char* sql) {
    const pqxx::result p = tx.exec_params(sql, absl::ToUnixSeconds(boundary));
    if (p[0][0].is_null()) Die("no fires were claimed");
    const std::string text = p[0][0].c_str();
    std::vector<std::string> q = absl::StrSplit(text.substr(1, text.size() - 2), ',');
    if (q.size() != 4) Die("no fires were claimed");
    return q;
  };
  const std::vector<std::string> q = percentiles(
      "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99, 1.0]) WITHIN GROUP (ORDER BY "
      "extract(epoch FROM claimed_at - boundary) * 1000) FROM tick_claims "
      "WHERE boundary = to_timestamp($1)");
  const std::vector<std::string> rec = percentiles(
      "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99, 1.0]) WITHIN GROUP (ORDER BY "
      "extract(epoch FROM recorded_at - boundary) * 1000) FROM tick_claims "
      "WHERE boundary = to_timestamp($1) AND recorded_at IS NOT NULL");

  // The earliest claim: what the timer wake-up, popping the due fires and the first statement
  // cost before any tick is claimed (the rest of the lateness is the claims themselves).
  const double first_ms = tx.exec_params1(
                                "SELECT extract(epoch FROM min(claimed_at) - "
                                "to_timestamp($1)) * 1000 FROM tick_claims "
                                "WHERE boundary = to_timestamp($1)",
                                absl::ToUnixSeconds(boundary))[0]
                              .as<double>();

  std::printf("scheduler benchmark: %lld stores, %lld firing at %s, %s\n",
              static_cast<long long>(stores), static_cast<long long>(firing),
              absl::FormatTime("%H:%M UTC", boundary, absl::UTCTimeZone()).c_str(),
              absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()).c_str());
  std::printf("| measurement | value |\n| --- | ---: |\n");
  std::printf("| start-up to SERVING with all schedules loaded | %.2f s |\n", startup_s);
  std::printf("| RSS idle / after the boundary | %.1f MB / %.1f MB |\n", idle_b.rss_mb,
              after.rss_mb);
  std::printf("| idle CPU between boundaries | %.4f cores |\n", idle_cores);
  std::printf("| ticks claimed at the boundary | %lld of %lld |\n", static_cast<long long>(claimed),
              static_cast<long long>(firing));
  std::printf("| ticks recorded (skip counted or run queued) | %lld of %lld |\n",
              static_cast<long long>(recorded), static_cast<long long>(firing));
  std::printf(
      "| fire lateness p50 / p90 / p99 / max (claim - boundary) | %.0f / %.0f / %.0f / %.0f ms |\n",
      std::stod(q[0]), std::stod(q[1]), std::stod(q[2]), std::stod(q[3]));
  std::printf("| first claim (earliest claim - boundary) | %.1f ms |\n", first_ms);
  const pqxx::row gap = tx.exec_params1(
      "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM recorded_at - "
      "claimed_at) * 1000), max(extract(epoch FROM recorded_at - claimed_at) * 1000) "
      "FROM tick_claims WHERE boundary = to_timestamp($1) AND recorded_at IS NOT NULL",
      absl::ToUnixSeconds(boundary));
  std::printf("| record after its claim p50 / max | %.0f / %.0f ms |\n", gap[0].as<double>(),
              gap[1].as<double>());
  std::printf(
      "| run row p50 / p90 / p99 / max (tick recorded - boundary) | %.0f / %.0f / %.0f / %.0f ms "
      "|\n",
      std::stod(rec[0]), std::stod(rec[1]), std::stod(rec[2]), std::stod(rec[3]));
  return claimed >= firing && recorded >= firing ? 0 : 1;
}

}  // namespace
}  // namespace autosync::bench

int main(int argc, char** argv) { return autosync::bench::Main(argc, argv); }
