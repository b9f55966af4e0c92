// Fleet benchmark (issue 15; the `fleet` row of tests/bench/run): an hourly boundary of a whole
// fleet on one machine -- a throw-away PostgreSQL cluster, store-sim answering every API call
// after --latency_ms (a real API's latency), one sync-worker and one scheduler-service, each the
// real binary.
//
// --mode=herd (default): --stores stores of --orders orders fire at one minute boundary.
//   1. Every store is synced once first (its first sync; runs queued straight into sync_runs,
//      dispatched by the scheduler), so the boundary's runs are hourly runs: the orders lookback
//      window and the trailing 28 days of ads re-read. The worker reads 28 days of ads on a
//      first sync too (--ads_initial_days=28), so this warm-up stays small.
//   2. Each of --manual idle stores is synced alone by TriggerSync(MANUAL), timed through a
//      WatchStore stream opened beforehand (its second sync: the kind of its run in the herd).
//   3. The scheduler restarts with every store's schedule on the boundary's minute (hourly) and
//      a claim of the hour before, as a fleet that has run for a while has.
//   4. At the boundary: at 5%, 15%, ... of the boundary's runs finished, one idle store is
//      triggered by hand and timed the same way; a sampler reads the worker's RSS and its runs
//      in flight; the end is the last run of the boundary finished (bounded).
//   5. CPU of each process over the boundary, the database's growth (bytes, rows written, WAL),
//      the scheduler's and the worker's metrics.
//   With --then_slots, steps 2-5 again at a later boundary with the worker restarted with that
//   many slots (and the scheduler restarted with --then_scheduler_args): what the slots, or the
//   dispatch as it was, cost or buy on the same fleet.
// --mode=claims: --stores stores fire at one boundary with no worker: the claims, each store's
//   tick recorded and the queued run rows, alone (fleet_claims.h).
//
// Prints a Markdown summary and one line `RESULT {json}` (read by tests/bench/run).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <pqxx/pqxx>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "tests/bench/fleet/fleet_claims.h"
#include "tests/bench/fleet/fleet_system.h"
#include "tests/bench/fleet/proc_stats.h"
#include "tests/bench/fleet/watch_timer.h"
#include "tests/support/store_sim.h"

ABSL_FLAG(std::string, mode, "herd", "herd (a boundary of real runs) or claims (no worker)");
ABSL_FLAG(int64_t, stores, 10000, "stores firing at the boundary");
ABSL_FLAG(int32_t, manual, 10, "herd: idle stores triggered by hand during the boundary's runs");
ABSL_FLAG(int32_t, orders, 20, "herd: orders of each store");
ABSL_FLAG(int32_t, latency_ms, 100, "herd: store-sim's delay before every API answer");
ABSL_FLAG(int32_t, slots, 64, "herd: the worker's --max_concurrent_syncs");
ABSL_FLAG(int32_t, then_slots, 0,
          "herd: then a second boundary with the worker restarted with this many slots (0: none)");
ABSL_FLAG(std::string, scheduler_args, "",
          "herd: flags for the scheduler of the first boundary, comma-separated");
ABSL_FLAG(std::string, then_scheduler_args, "",
          "herd, with --then_slots: flags for the restarted scheduler, comma-separated (e.g. "
          "--adaptive_dispatch=false: the dispatch as before the adaptive limit)");
ABSL_FLAG(int32_t, history_runs, 1,
          "claims: completed runs of each store in the hours before (its run history)");
ABSL_FLAG(int32_t, margin_seconds, 15, "the boundary is the first minute at least this far away");
ABSL_FLAG(std::string, boundary, "next",
          "next: the first minute boundary --margin_seconds away (what the figures mean); past: "
          "the minute boundary that just passed, fired by the scheduler's catch-up when it "
          "starts (no minute to wait: for smoke runs)");
ABSL_FLAG(int32_t, stats_wait_seconds, 11,
          "herd: wait before reading the table statistics (PostgreSQL backends publish theirs "
          "within 10 s of going idle); 0 for smoke runs");
ABSL_FLAG(int32_t, timeout_seconds, 900, "bound on each wait (warm-up, boundary)");

namespace autosync::bench {
namespace {

namespace v1 = autosync::v1;

bool PastBoundary() { return absl::GetFlag(FLAGS_boundary) == "past"; }

// ---- --mode=herd ----

// What the sampler saw of the worker during a boundary.
struct WorkerSamples {
  absl::Mutex mu;
  double rss_idle = 0;
  double rss_max = 0;
  double rss_max_full = 0;  // the largest RSS while every slot was busy
  double in_flight_max = 0;
  double in_flight_sum = 0;  // over the samples taken while runs of the boundary were queued
  int samples_backlog = 0;
  int samples = 0;
  int samples_full = 0;
};

void Sample(pid_t worker, int metrics_port, int slots, const std::atomic<bool>& stop,
            const std::atomic<bool>& backlog, WorkerSamples& out) {
  while (!stop.load()) {
    const double rss = RssMib(worker);
    const double in_flight = SumSeries(Scrape(metrics_port), "autosync_worker_active_runs");
    {
      absl::MutexLock lock(&out.mu);
      ++out.samples;
      out.rss_max = std::max(out.rss_max, rss);
      out.in_flight_max = std::max(out.in_flight_max, in_flight);
      if (backlog.load()) {
        out.in_flight_sum += in_flight;
        ++out.samples_backlog;
      }
      if (in_flight >= slots) {
        ++out.samples_full;
        out.rss_max_full = std::max(out.rss_max_full, rss);
      }
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
}

std::string ManualJson(const ManualRun& r) {
  return Json()
      .Str("store", r.store_id)
      .Str("run", r.run_id)
      .Num("started", r.started)
      .Num("completed", r.completed)
      .Num("rpc_ms", r.rpc_ms)
      .Num("first_ms", r.first_ms)
      .Num("total_ms", r.total_ms)
      .Str("error", r.error)
      .Render();
}

std::string JsonArray(const std::vector<std::string>& items) {
  return "[" + absl::StrJoin(items, ",") + "]";
}

// The running fleet: what every boundary measures against.
struct Fleet {
  Cluster cluster;
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<autosync::testing::StoreSim> sim;
  int64_t stores = 0;  // the herd: f1..fN
  int manual = 0;      // the idle stores: m1..mM
  Service worker;
  int slots = 0;
  Service scheduler;
  std::string scheduler_args;  // its flags beyond the defaults
};

// The scheduler with the flags of the boundary being measured (--scheduler_args, then
// --then_scheduler_args); every (re)start uses them.
Service StartFleetScheduler(const Fleet& f) {
  return StartScheduler(f.cluster.url, f.worker.target,
                        absl::StrSplit(f.scheduler_args, ',', absl::SkipEmpty()));
}

Service StartWorker(const std::string& url, int slots) {
  return StartService("sync-worker",
                      {"--database_url=" + url, absl::StrCat("--max_concurrent_syncs=", slots),
                       "--ads_initial_days=28"},
                      {{"SIM_TOKEN", "sim-token"}}, absl::Seconds(30));
}

// Steps 2-5 at the next boundary (see the top of the file): the boundary's figures as JSON, and
// how many of its runs never finished.
std::pair<std::string, int64_t> MeasureBoundary(Fleet& f, bool first) {
  pqxx::connection& conn = *f.conn;
  const int64_t n = f.stores;
  const int manual = f.manual;
  const int slots = f.slots;
  const absl::Duration bound = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  const int stats_wait = absl::GetFlag(FLAGS_stats_wait_seconds);

  // 2. Each idle store alone.
  auto channel = grpc::CreateChannel(f.scheduler.target, grpc::InsecureChannelCredentials());
  auto stub = v1::Scheduler::NewStub(channel);
  std::vector<std::unique_ptr<RunTimer>> timers;
  for (int i = 1; i <= manual; ++i) {
    timers.push_back(std::make_unique<RunTimer>(*stub, absl::StrCat("m", i)));
  }
  absl::SleepFor(absl::Milliseconds(500));  // the streams are open
  std::vector<ManualRun> alone;
  for (auto& timer : timers) {
    alone.push_back(timer->Trigger(absl::Seconds(60)));
    absl::SleepFor(absl::Milliseconds(200));
  }
  timers.clear();

  // 3. The boundary: the herd's stores hourly on its minute. The first time, each gets a claim
  // of the hour before; later boundaries follow the claims of the earlier ones. The scheduler
  // restarts to load the schedules (its counters start from zero).
  Stop(f.scheduler);
  const bool past = PastBoundary();
  // A boundary to come leaves time for the statistics of the runs alone (see step 4).
  const absl::Duration margin =
      std::max(absl::Seconds(absl::GetFlag(FLAGS_margin_seconds)), absl::Seconds(stats_wait + 1));
  const absl::Time boundary = past ? LastBoundary() : NextBoundary(margin);
  const std::string b = Ts(boundary);
  const int minute = absl::ToCivilMinute(boundary, absl::UTCTimeZone()).minute();
  {
    pqxx::work tx(conn);
    // A boundary that has passed is fired by the scheduler's catch-up at start: the stores must
    // have existed then.
    // One schedule for orders and ads (the hourly fleet of the issue), both on the minute.
    tx.exec(absl::StrCat("UPDATE stores SET schedule = '", minute, " * * * *', ads_schedule = '",
                         minute, " * * * *'",
                         past ? absl::StrCat(", created_at = ", b, " - interval '1 hour'") : "",
                         " WHERE store_id LIKE 'f%'"));
    if (first) {
      tx.exec(
          absl::StrCat("INSERT INTO tick_claims (store_id, boundary, run_id, claimed_at, "
                       "recorded_at) SELECT store_id, ",
                       b,
                       " - interval '1 hour', "
                       "'h1-' || store_id, now(), now() FROM stores "
                       "WHERE store_id LIKE 'f%'"));
    }
    tx.commit();
  }
  Say(absl::StrCat(n, " stores fire at ",
                   absl::FormatTime("%H:%M:%S UTC", boundary, absl::UTCTimeZone()),
                   past ? " (passed: fired by the catch-up at the scheduler's start)" : "",
                   "; worker slots ", slots));
  if (!past) {
    f.scheduler = StartFleetScheduler(f);
    if (absl::Now() + absl::Seconds(2) > boundary) Die("set-up took past the boundary");
    absl::SleepFor(boundary - absl::Seconds(1) - absl::Now());
  } else {
    // As long as the margin of a boundary to come leaves at least (see below).
    absl::SleepFor(absl::Seconds(stats_wait));
  }

  // 4. The boundary. The snapshot before is taken late enough for the runs alone to be in the
  // table statistics (--stats_wait_seconds).
  const DbSnapshot db_before = Snapshot(conn);
  const auto sched_before =
      past ? autosync::testing::MetricValues{} : Scrape(f.scheduler.metrics_port);
  const auto worker_before = Scrape(f.worker.metrics_port);
  const pid_t worker_pid = f.worker.process->pid();
  WorkerSamples samples;
  samples.rss_idle = RssMib(worker_pid);
  const double cpu_before[4] = {
      CpuSeconds(worker_pid), past ? 0 : CpuSeconds(f.scheduler.process->pid()),
      ClusterCpuSeconds(f.cluster.postmaster), CpuSeconds(f.sim->process().pid())};
  const absl::Time cpu_start = absl::Now();
  std::atomic<bool> stop_sampling{false};
  std::atomic<bool> backlog{false};  // runs of the boundary are queued
  std::thread sampler(
      [&] { Sample(worker_pid, f.worker.metrics_port, slots, stop_sampling, backlog, samples); });
  if (past) f.scheduler = StartFleetScheduler(f);
  // The herd's manual triggers, each on a WatchStore stream opened before its trigger.
  channel = grpc::CreateChannel(f.scheduler.target, grpc::InsecureChannelCredentials());
  stub = v1::Scheduler::NewStub(channel);
  for (int i = 1; i <= manual; ++i) {
    timers.push_back(std::make_unique<RunTimer>(*stub, absl::StrCat("m", i)));
  }
  if (!past) absl::SleepFor(boundary - absl::Now());

  std::vector<ManualRun> herd(static_cast<size_t>(manual));
  std::vector<int64_t> queued_at_trigger(static_cast<size_t>(manual), -1);
  std::vector<std::thread> triggers;
  const absl::Time deadline = absl::Now() + bound;
  int64_t finished = 0, queued = 0, total = 0;
  double running_sum = 0;
  int running_polls = 0;
  while (absl::Now() < deadline) {
    const pqxx::row r = [&] {
      pqxx::nontransaction tx(conn);
      return tx.exec1(
          "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')), "
          "count(*) FILTER (WHERE status = 'queued'), count(*), "
          "(SELECT count(*) FROM sync_runs WHERE status = 'running') FROM sync_runs "
          "WHERE trigger = 'cron' AND scheduled_for = " +
          b);
    }();
    finished = r[0].as<int64_t>();
    queued = r[1].as<int64_t>();
    total = r[2].as<int64_t>();
    // Runs the dispatcher counts against the slots (taken, their end not yet recorded) while
    // the boundary's runs are still queued: beside the worker's own count of runs executing.
    backlog = queued > 0;
    if (queued > 0) {
      running_sum += static_cast<double>(r[3].as<int64_t>());
      ++running_polls;
    }
    // Manual trigger i at (i + 0.5) / manual of the boundary's runs finished: spread over the
    // herd whatever its speed.
    while (static_cast<int>(triggers.size()) < manual &&
           (static_cast<double>(finished) >=
                (static_cast<double>(triggers.size()) + 0.5) / manual * static_cast<double>(n) ||
            finished >= n)) {
      const size_t i = triggers.size();
      queued_at_trigger[i] = queued;
      triggers.emplace_back([&, i] { herd[i] = timers[i]->Trigger(absl::Seconds(120)); });
    }
    if (finished >= n && static_cast<int>(triggers.size()) == manual) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  for (std::thread& t : triggers) t.join();
  const absl::Time cpu_end = absl::Now();
  const double cpu_after[4] = {CpuSeconds(worker_pid), CpuSeconds(f.scheduler.process->pid()),
                               ClusterCpuSeconds(f.cluster.postmaster),
                               CpuSeconds(f.sim->process().pid())};
  stop_sampling = true;
  sampler.join();
  const auto sched_after = Scrape(f.scheduler.metrics_port);
  const auto worker_after = Scrape(f.worker.metrics_port);
  timers.clear();
  Say(absl::StrCat(finished, " of ", n, " runs of the boundary finished"));

  // 5. What the boundary wrote (after the backends' statistics are published).
  absl::SleepFor(absl::Seconds(stats_wait));
  const DbSnapshot db_after = Snapshot(conn);
  const std::string since = TsMicros(cpu_start);
  const int64_t claimed = Scalar(conn, "SELECT count(*) FROM tick_claims WHERE boundary = " + b);
  const int64_t skipped =
      Scalar(conn, "SELECT count(*) FROM tick_claims WHERE last_skip_at >= " + since);
  const std::string of_boundary = "FROM sync_runs WHERE trigger = 'cron' AND scheduled_for = " + b;
  const int64_t completed =
      Scalar(conn, "SELECT count(*) " + of_boundary + " AND status = 'completed'");
  const int64_t failed = Scalar(conn, "SELECT count(*) " + of_boundary + " AND status = 'failed'");
  const int64_t window_runs =
      Scalar(conn, "SELECT count(*) FROM sync_runs WHERE finished_at >= " + since);
  const int64_t retries =
      Scalar(conn, "SELECT count(*) FROM sync_runs WHERE attempt > 1 AND queued_at >= " + since);
  std::string failures;
  {
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT count(*), left(error, 160) FROM sync_runs WHERE "
                                   "status = 'failed' AND finished_at >= " +
                                   since + " GROUP BY 2 ORDER BY 1 DESC LIMIT 3")) {
      absl::StrAppend(&failures, failures.empty() ? "" : "; ", row[0].as<int64_t>(), "x ",
                      row[1].as<std::string>());
    }
  }
  auto cron = [&](const std::string& expr) {
    return Column(conn, absl::StrCat("SELECT extract(epoch FROM ", expr, ") ", of_boundary));
  };
  const std::vector<double> claim_s = Column(
      conn,
      "SELECT extract(epoch FROM claimed_at - boundary) FROM tick_claims WHERE boundary = " + b);
  const std::vector<double> group_claim_ms = GroupClaimMs(conn, b);
  const std::vector<double> queued_s = cron("queued_at - scheduled_for");
  const std::vector<double> started_s = cron("started_at - scheduled_for");
  const std::vector<double> finished_s = cron("finished_at - scheduled_for");
  const std::vector<double> slot_s = cron("finished_at - started_at");
  const std::vector<double> wait_s = cron("started_at - queued_at");
  auto sum = [&](const char* column) {
    return static_cast<double>(
        Scalar(conn, absl::StrCat("SELECT sum(", column, ") ", of_boundary)));
  };

  auto diff = [](const autosync::testing::MetricValues& a, const autosync::testing::MetricValues& z,
                 const std::string& name) { return SumSeries(z, name) - SumSeries(a, name); };
  Json stages;
  for (const char* stage : {"orders", "ads", "ltv"}) {
    const std::string label = absl::StrCat("{stage=\"", stage, "\"}");
    const double c =
        diff(worker_before, worker_after, "autosync_worker_stage_duration_seconds_count" + label);
    stages.Num(stage, c > 0 ? diff(worker_before, worker_after,
                                   "autosync_worker_stage_duration_seconds_sum" + label) /
                                  c
                            : -1);
  }
  const int64_t lost = n - completed - failed;
  const double dispatched = diff(sched_before, sched_after, "autosync_scheduler_dispatched_total");
  const double refusals =
      diff(sched_before, sched_after, "autosync_scheduler_worker_refusals_total");

  std::printf("fleet boundary: %lld stores, 1 worker (%d slots), %s\n", static_cast<long long>(n),
              slots, absl::FormatTime("%Y-%m-%d %H:%M UTC", boundary, absl::UTCTimeZone()).c_str());
  std::printf("| measurement | value |\n| --- | ---: |\n");
  std::printf("| claimed / completed / failed / lost | %lld / %lld / %lld / %lld of %lld |\n",
              static_cast<long long>(claimed), static_cast<long long>(completed),
              static_cast<long long>(failed), static_cast<long long>(lost),
              static_cast<long long>(n));
  std::printf("| first start / last finish (- boundary) | %.2f s / %.1f s |\n",
              Percentile(started_s, 0), Percentile(finished_s, 1));
  std::printf("| run in its slot p50 / p99 | %.3f / %.3f s |\n", Percentile(slot_s, 0.5),
              Percentile(slot_s, 0.99));
  std::printf("| dispatched / refused | %.0f / %.0f |\n", dispatched, refusals);
  std::printf("| worker RSS idle / max / max with all %d slots busy | %.1f / %.1f / %.1f MiB |\n",
              slots, samples.rss_idle, samples.rss_max, samples.rss_max_full);
  for (size_t i = 0; i < herd.size(); ++i) {
    std::printf(
        "| manual %s: alone first / end, herd first / end (%lld cron runs queued) | "
        "%.0f / %.0f ms, %.0f / %.0f ms |\n",
        herd[i].store_id.c_str(), static_cast<long long>(queued_at_trigger[i]), alone[i].first_ms,
        alone[i].total_ms, herd[i].first_ms, herd[i].total_ms);
  }
  std::vector<std::string> alone_json, herd_json, queued_json;
  for (const ManualRun& r : alone) alone_json.push_back(ManualJson(r));
  for (const ManualRun& r : herd) herd_json.push_back(ManualJson(r));
  for (int64_t q : queued_at_trigger) queued_json.push_back(absl::StrCat(q));
  std::string json =
      Json()
          .Num("slots", slots)
          .Str("scheduler_args", f.scheduler_args)
          .Num("claimed", static_cast<double>(claimed))
          .Num("recorded", static_cast<double>(total))
          .Num("skipped", static_cast<double>(skipped))
          .Num("completed", static_cast<double>(completed))
          .Num("failed", static_cast<double>(failed))
          .Num("lost", static_cast<double>(lost))
          .Num("retries", static_cast<double>(retries))
          .Str("failures", failures)
          .Raw("claim_s", Spread(claim_s))
          .Raw("group_claim_ms", Spread(group_claim_ms))
          .Raw("queued_s", Spread(queued_s))
          .Raw("started_s", Spread(started_s))
          .Raw("finished_s", Spread(finished_s))
          .Raw("slot_s", Spread(slot_s))
          .Raw("wait_s", Spread(wait_s))
          .Num("first_start_s", Percentile(started_s, 0))
          .Num("last_finish_s", Percentile(finished_s, 1))
          .Num("dispatched", dispatched)
          .Num("refusals", refusals)
          .Num("worker_requests",
               diff(worker_before, worker_after, "autosync_worker_source_requests_total"))
          .Num("worker_retries",
               diff(worker_before, worker_after, "autosync_worker_source_retries_total"))
          .Raw("stage_mean_s", stages.Render())
          .Num("orders_written", sum("orders_written"))
          .Num("ads_written", sum("ads_written"))
          .Num("cohort_rows", sum("cohort_rows"))
          .Num("rss_idle_mib", samples.rss_idle)
          .Num("rss_max_mib", samples.rss_max)
          .Num("rss_max_full_mib", samples.rss_max_full)
          .Num("in_flight_max", samples.in_flight_max)
          .Num("in_flight_mean_while_queued",
               samples.samples_backlog > 0 ? samples.in_flight_sum / samples.samples_backlog : -1)
          .Num("running_mean_while_queued", running_polls > 0 ? running_sum / running_polls : -1)
          .Num("samples", samples.samples)
          .Num("samples_full", samples.samples_full)
          .Raw("cpu_s", Json()
                            .Num("window", absl::ToDoubleSeconds(cpu_end - cpu_start))
                            .Num("worker", cpu_after[0] - cpu_before[0])
                            .Num("scheduler", cpu_after[1] - cpu_before[1])
                            .Num("postgres", cpu_after[2] - cpu_before[2])
                            .Num("store_sim", cpu_after[3] - cpu_before[3])
                            .Render())
          .Num("window_runs", static_cast<double>(window_runs))
          .Raw("db", Growth(db_before, db_after))
          .Raw("alone", JsonArray(alone_json))
          .Raw("herd", JsonArray(herd_json))
          .Raw("queued_at_trigger", JsonArray(queued_json))
          .Render();
  return {json, lost};
}

int Herd() {
  Fleet f;
  f.stores = absl::GetFlag(FLAGS_stores);
  f.manual = absl::GetFlag(FLAGS_manual);
  f.slots = absl::GetFlag(FLAGS_slots);
  const int orders = absl::GetFlag(FLAGS_orders);
  const absl::Duration bound = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));

  f.cluster = StartCluster();
  // store-sim serves every store; the whole list is one argument (at most 128 KiB on Linux).
  std::string specs;
  for (int64_t i = 1; i <= f.stores; ++i) absl::StrAppend(&specs, "f", i, ":", orders, ",");
  for (int i = 1; i <= f.manual; ++i) absl::StrAppend(&specs, "m", i, ":", orders, ",");
  specs.pop_back();
  if (specs.size() > 120 * 1024) Die("too many stores for one store-sim argument");
  // History up to the start of today: a live store's data, so the 28 days of ads are current.
  const absl::Time today =
      absl::FromCivil(absl::ToCivilDay(absl::Now(), absl::UTCTimeZone()), absl::UTCTimeZone());
  auto sim = autosync::testing::StoreSim::Start(
      {"--stores=" + specs, absl::StrCat("--latency_ms=", absl::GetFlag(FLAGS_latency_ms)),
       "--end=" + absl::FormatTime(absl::RFC3339_sec, today, absl::UTCTimeZone())});
  if (!sim.ok()) Die(sim.status().ToString());
  f.sim = std::move(*sim);
  f.conn = std::make_unique<pqxx::connection>(f.cluster.url);
  {
    pqxx::work tx(*f.conn);
    // Never fires during the warm-up (1 January); the boundary's schedule is set afterwards.
    for (const auto& [prefix, count] :
         {std::pair<std::string, int64_t>{"f", f.stores}, {"m", f.manual}}) {
      tx.exec_params(
          "INSERT INTO stores (store_id, schedule, staleness_seconds, orders_api_base, "
          "ads_api_base, ad_account_id, credentials_ref) "
          "SELECT $1 || i, '0 0 1 1 *', 0, $2 || '/shops/' || $1 || i, $3, $1 || i, "
          "'env:SIM_TOKEN' FROM generate_series(1, $4::bigint) i",
          prefix, f.sim->base_url(), f.sim->base_url(), count);
    }
    tx.commit();
  }
  f.worker = StartWorker(f.cluster.url, f.slots);
  f.scheduler_args = absl::GetFlag(FLAGS_scheduler_args);
  f.scheduler = StartFleetScheduler(f);

  // 1. Warm-up: every store's first sync, queued at once.
  Say(absl::StrCat("warm-up: first sync of ", f.stores + f.manual, " stores"));
  const absl::Time warm_start = absl::Now();
  Exec(*f.conn,
       "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, priority) "
       "SELECT 'warm-' || store_id, store_id, 'api', 'queued', 'queued', 0 FROM stores");
  int64_t active = 0;
  while (absl::Now() < warm_start + bound) {
    active =
        Scalar(*f.conn, "SELECT count(*) FROM sync_runs WHERE status IN ('queued', 'running')");
    if (active == 0) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  const double warm_s = absl::ToDoubleSeconds(absl::Now() - warm_start);
  if (active != 0) Die(absl::StrCat("warm-up: ", active, " runs unfinished after ", warm_s, " s"));
  const int64_t unsynced = Scalar(*f.conn,
                                  "SELECT count(*) FROM stores s WHERE NOT EXISTS ("
                                  "SELECT 1 FROM sync_runs r WHERE r.store_id = "
                                  "s.store_id AND r.status = 'completed')");
  Say(absl::StrCat("warm-up done in ", absl::StrFormat("%.1f", warm_s), " s; ", unsynced,
                   " stores without a completed sync"));

  std::vector<std::string> boundaries;
  int64_t lost = 0;
  auto [json, lost_first] = MeasureBoundary(f, /*first=*/true);
  boundaries.push_back(json);
  lost += lost_first;
  if (const int then = absl::GetFlag(FLAGS_then_slots); then > 0) {
    Stop(f.worker);
    f.slots = then;
    f.worker = StartWorker(f.cluster.url, f.slots);
    Stop(f.scheduler);
    f.scheduler_args = absl::GetFlag(FLAGS_then_scheduler_args);
    f.scheduler = StartFleetScheduler(f);
    auto [json2, lost_second] = MeasureBoundary(f, /*first=*/false);
    boundaries.push_back(json2);
    lost += lost_second;
  }
  Stop(f.scheduler);
  std::printf("RESULT %s\n", Json()
                                 .Str("mode", "herd")
                                 .Str("boundary", absl::GetFlag(FLAGS_boundary))
                                 .Num("stores", static_cast<double>(f.stores))
                                 .Num("orders", orders)
                                 .Num("latency_ms", absl::GetFlag(FLAGS_latency_ms))
                                 .Num("warm_s", warm_s)
                                 .Num("unsynced", static_cast<double>(unsynced))
                                 .Raw("boundaries", JsonArray(boundaries))
                                 .Render()
                                 .c_str());
  return lost == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_stores) < 1) Die("--stores must be positive");
  if (absl::GetFlag(FLAGS_boundary) != "next" && absl::GetFlag(FLAGS_boundary) != "past") {
    Die("--boundary is next or past");
  }
  if (absl::GetFlag(FLAGS_mode) == "claims") {
    return RunClaims({.stores = absl::GetFlag(FLAGS_stores),
                      .history_runs = absl::GetFlag(FLAGS_history_runs),
                      .past = PastBoundary(),
                      .margin = absl::Seconds(absl::GetFlag(FLAGS_margin_seconds)),
                      .timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds))});
  }
  if (absl::GetFlag(FLAGS_mode) != "herd") Die("--mode is herd or claims");
  if (absl::GetFlag(FLAGS_manual) < 0 || absl::GetFlag(FLAGS_slots) < 1 ||
      absl::GetFlag(FLAGS_then_slots) < 0) {
    Die("--manual and --then_slots must be >= 0, --slots positive");
  }
  if (absl::GetFlag(FLAGS_then_slots) > 0 && PastBoundary()) {
    Die("--then_slots needs --boundary=next (two boundaries that have passed may be one)");
  }
  return Herd();
}

}  // namespace
}  // namespace autosync::bench

int main(int argc, char** argv) { return autosync::bench::Main(argc, argv); }
