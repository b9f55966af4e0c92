// Fault: one of two scheduler replicas is SIGKILLed in the middle of a herd (issue 15). 36 stores
// are triggered at once, half through each replica, against one worker with 2 slots and a slow
// source, so most of the herd waits 'queued' in sync_runs. Replica a dies while it streams runs.
// The run queue must lose no run and duplicate none:
//  - the survivor dispatches every run that was queued when a died (none stays queued);
//  - a's running runs are reaped once their heartbeat is --run_stale_seconds old (the error
//    names a and the heartbeat), and each is followed by one new run (attempt 2) that completes;
//  - every store ends with exactly one completed run: its trigger's run, or the follow-up of it;
//    runs = stores + reaped runs; no run was dispatched twice or changed after it ended;
//  - at no moment were more runs 'running' fleet-wide than the worker's slots;
//  - every store's orders equal the source, and the last run that wrote a store is the one
//    recorded completed.
#include <atomic>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/faults/fault_system.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr int kStores = 36;
constexpr int kSlots = 2;  // the one worker's --max_concurrent_syncs
// Two pages of orders per store at 300 ms a request: a run holds a slot for about a second, so
// the herd takes ~18 s and a run that started a moment ago is still going when a is killed.
constexpr int kOrdersPerStore = 300;
constexpr int kLatencyMs = 300;
constexpr int kRunStaleSeconds = 4;

std::string StoreId(int i) { return absl::StrFormat("q%02d", i); }

bool IsActive(const std::string& status) { return status == "queued" || status == "running"; }

// Watches sync_runs from its own thread (one snapshot every ~25 ms, each in one statement, so the
// running count is consistent) and checks, across snapshots, what no final state can show:
//  - at most kSlots runs running at once, fleet-wide;
//  - a run is dispatched once: a run seen running again with another started_at must have been
//    refused by the worker in between (refusals grew; the queue gave it back);
//  - a finished run never changes status again.
class QueueMonitor {
 public:
  explicit QueueMonitor(FaultSystem& sys) : sys_(sys) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~QueueMonitor() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Valid after Stop().
  int max_running() const { return max_running_; }
  int max_queued() const { return max_queued_; }
  int64_t snapshots() const { return snapshots_; }
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  struct Seen {
    std::string status;
    std::string started;       // of the last time it was seen running
    int refusals_started = 0;  // refusals then
  };

  void Loop() {
    while (!stop_.load()) {
      absl::StatusOr<std::string> rows = sys_.Text(
          "SELECT string_agg(run_id || ' ' || status || ' ' || "
          "  coalesce((extract(epoch FROM started_at) * 1000000)::bigint::text, '-') || ' ' || "
          "  refusals, ',') FROM sync_runs");
      if (rows.ok()) Observe(*rows);
      absl::SleepFor(absl::Milliseconds(25));  // polled state has no event to wait on
    }
  }

  void Observe(const std::string& rows) {
    ++snapshots_;
    int running = 0;
    int queued = 0;
    for (absl::string_view row : absl::StrSplit(rows, ',', absl::SkipEmpty())) {
      const std::vector<std::string> f = absl::StrSplit(row, ' ');
      if (f.size() != 4) continue;
      const std::string& run = f[0];
      const std::string& status = f[1];
      int refusals = 0;
      (void)absl::SimpleAtoi(f[3], &refusals);
      running += status == "running";
      queued += status == "queued";
      auto [it, fresh] = seen_.try_emplace(run);
      Seen& s = it->second;
      if (!fresh && !IsActive(s.status) && status != s.status) {
        Violation(absl::StrCat("run ", run, " changed after it ended: ", s.status, " -> ", status));
      }
      if (status == "running") {
        if (!s.started.empty() && s.started != f[2] && refusals == s.refusals_started) {
          Violation(absl::StrCat("run ", run, " dispatched twice (started_at ", s.started, " then ",
                                 f[2], ") without a refusal in between"));
        }
        s.started = f[2];
        s.refusals_started = refusals;
      }
      s.status = status;
    }
    if (running > kSlots) {
      Violation(absl::StrCat(running, " runs running at once, the worker has ", kSlots, " slots"));
    }
    max_running_ = std::max(max_running_, running);
    max_queued_ = std::max(max_queued_, queued);
  }

  // Kept to the first few: a broken rule tends to show in every snapshot after.
  void Violation(std::string what) {
    if (violations_.size() < 10) violations_.push_back(std::move(what));
  }

  FaultSystem& sys_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // Owned by the monitor's thread until Stop() joins it.
  std::map<std::string, Seen> seen_;
  std::vector<std::string> violations_;
  int max_running_ = 0;
  int max_queued_ = 0;
  int64_t snapshots_ = 0;
};

double Series(int metrics_port, const std::string& series) {
  absl::StatusOr<MetricValues> m = ScrapeMetrics(metrics_port);
  return m.ok() ? SeriesValue(*m, series) : -1;
}

TEST(QueueCrashTest, KilledReplicaMidHerdLosesNoQueuedRunAndDuplicatesNone) {
  FaultSystem sys(FreshDatabaseUrl());
  ASSERT_FALSE(sys.db_url().empty());
  std::string stores = "--stores=";
  for (int i = 0; i < kStores; ++i) {
    absl::StrAppend(&stores, i ? "," : "", StoreId(i), ":", kOrdersPerStore);
  }
  absl::Status started = sys.StartSim(
      {stores, "--leak_per_second=0", "--seed=15", absl::StrCat("--latency_ms=", kLatencyMs)});
  ASSERT_TRUE(started.ok()) << started;
  const std::vector<std::string> scheduler_args = {
      absl::StrCat("--run_stale_seconds=", kRunStaleSeconds), "--schedule_refresh_seconds=2"};
  started = sys.StartScheduler("a", scheduler_args);  // migrates
  ASSERT_TRUE(started.ok()) << started;
  started = sys.StartWorker(0, {absl::StrCat("--max_concurrent_syncs=", kSlots)});
  ASSERT_TRUE(started.ok()) << started;
  started = sys.StartScheduler("b", scheduler_args);
  ASSERT_TRUE(started.ok()) << started;
  for (int i = 0; i < kStores; ++i) {
    ASSERT_TRUE(sys.Upsert(sys.StoreFor(StoreId(i), "0 0 1 1 *", /*with_ads=*/false)).ok());
  }
  // Dispatch waits for the worker's slots to be published (worker_slots, every 2 s).
  ASSERT_TRUE(WaitUntil(
      [&] { return sys.Scalar("SELECT sum(slots) FROM worker_slots").value_or(0) == kSlots; },
      absl::Seconds(10)));

  QueueMonitor monitor(sys);
  const auto count = [&](const std::string& where) {
    return sys.ScalarOrDie(absl::StrCat("SELECT count(*) FROM sync_runs WHERE ", where));
  };
  // What a query's rows (folded by string_agg) name; "" when none.
  const auto names = [&](const std::string& sql) -> std::string {
    absl::StatusOr<std::string> s = sys.Text(sql);
    if (s.ok()) return *s;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound) << s.status();
    return "";
  };

  // The herd: every store triggered once, alternately through a and b, so both replicas'
  // dispatchers race for the 2 slots from the start.
  const absl::Time herd_start = absl::Now();
  std::map<std::string, std::string> first_run;  // store -> its trigger's run id
  std::set<std::string> run_ids;
  for (int i = 0; i < kStores; ++i) {
    v1::TriggerSyncResponse r;
    const grpc::Status s = sys.Trigger(StoreId(i), &r, /*replica=*/i % 2);
    ASSERT_TRUE(s.ok()) << StoreId(i) << ": " << s.error_message();
    ASSERT_TRUE(r.started()) << StoreId(i) << ": " << r.message();
    first_run[StoreId(i)] = r.run_id();
    run_ids.insert(r.run_id());
  }
  ASSERT_EQ(run_ids.size(), static_cast<size_t>(kStores));

  // Kill a while it streams a run that started a moment ago (so it cannot finish before the
  // kill: a run takes at least two 300 ms requests) and most of the herd is still queued.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return count(
                   "status = 'running' AND owner = 'a' AND "
                   "started_at > clock_timestamp() - interval '250 milliseconds'") > 0 &&
               count("status = 'queued'") >= kStores / 2;
      },
      absl::Seconds(30)))
      << count("status = 'queued'") << " queued, " << count("status = 'running' AND owner = 'a'")
      << " running on a\n"
      << sys.scheduler(0).process->Output();
  sys.scheduler(0).process->Signal(SIGKILL);
  ASSERT_TRUE(sys.scheduler(0).process->Wait(absl::Seconds(10)).ok());
  const absl::Time killed_at = absl::Now();
  // What a left behind (no row of a changes any more; reaping takes kRunStaleSeconds).
  const std::string orphans = names(
      "SELECT string_agg(run_id, ',' ORDER BY run_id) FROM sync_runs "
      "WHERE status = 'running' AND owner = 'a'");
  const std::set<std::string> orphaned = absl::StrSplit(orphans, ',', absl::SkipEmpty());
  // The runs queued at the kill, kept for the end (one statement: b keeps dispatching).
  ASSERT_TRUE(sys.Exec("CREATE TABLE queued_at_kill AS "
                       "SELECT run_id FROM sync_runs WHERE status = 'queued'")
                  .ok());
  const int64_t queued_at_kill = sys.ScalarOrDie("SELECT count(*) FROM queued_at_kill");
  ASSERT_FALSE(orphaned.empty());
  std::cout << "killed a " << absl::FormatDuration(killed_at - herd_start)
            << " into the herd: " << orphaned.size() << " of its runs running, " << queued_at_kill
            << " runs queued, " << count("status = 'completed'") << " completed" << std::endl;

  // The survivor drains the queue: a's runs reaped and followed, everything else dispatched.
  const bool drained = WaitUntil(
      [&] {
        // >=: a store completed twice fails below, at once, rather than at the deadline.
        return count("status IN ('queued', 'running')") == 0 &&
               count("status = 'completed'") >= kStores;
      },
      absl::Seconds(90));
  ASSERT_TRUE(drained) << count("status = 'queued'") << " queued, " << count("status = 'running'")
                       << " running, " << count("status = 'completed'") << " completed\n"
                       << sys.scheduler(1).process->Output();
  std::cout << "herd done " << absl::FormatDuration(absl::Now() - killed_at) << " after the kill"
            << std::endl;
  // Nothing more comes: no late follow-up or second run of any store.
  const int64_t runs = count("true");
  EXPECT_FALSE(WaitUntil([&] { return count("true") != runs; }, absl::Seconds(2)))
      << "runs appeared after the queue drained";
  monitor.Stop();

  // The monitor's view across the whole herd.
  std::cout << "monitor: " << monitor.snapshots() << " snapshots, at most " << monitor.max_running()
            << " running and " << monitor.max_queued() << " queued" << std::endl;
  EXPECT_GT(monitor.snapshots(), 50);  // it did watch the herd
  EXPECT_LE(monitor.max_running(), kSlots);
  EXPECT_EQ(monitor.max_running(), kSlots);  // the herd did fill the worker
  EXPECT_GE(monitor.max_queued(), kStores / 2);
  EXPECT_THAT(monitor.violations(), ::testing::IsEmpty());

  // Each run that was queued when a died was dispatched by b and completed.
  EXPECT_EQ(names("SELECT string_agg(r.run_id || ' ' || r.status || ' by ' || r.owner, ', ') "
                  "FROM queued_at_kill k JOIN sync_runs r USING (run_id) "
                  "WHERE r.status <> 'completed' OR r.owner <> 'b'"),
            "");
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM queued_at_kill k JOIN sync_runs r "
                            "USING (run_id)"),
            queued_at_kill);

  // a's orphaned runs, and only they, were reaped, with the reason.
  EXPECT_EQ(names("SELECT string_agg(run_id, ',' ORDER BY run_id) FROM sync_runs "
                  "WHERE status <> 'completed'"),
            orphans);
  for (const std::string& run : orphaned) {
    absl::StatusOr<std::string> error = sys.Text(
        absl::StrCat("SELECT status || ': ' || error FROM sync_runs WHERE run_id = '", run, "'"));
    ASSERT_TRUE(error.ok()) << error.status();
    EXPECT_THAT(*error, HasSubstr("failed: the scheduler replica a that owned this run stopped "
                                  "heartbeating"));
  }
  EXPECT_EQ(
      Series(sys.scheduler(1).metrics_port, "autosync_scheduler_runs_total{result=\"reaped\"}"),
      static_cast<double>(orphaned.size()));

  // Exactly once per store: one completed run each; the runs are the triggers' runs plus one
  // follow-up per reaped run. A store whose run was reaped completed its follow-up (attempt 2);
  // every other store completed its trigger's own run.
  EXPECT_EQ(names("SELECT string_agg(store_id || ' x' || n, ', ') FROM ("
                  "  SELECT s.store_id, count(r.run_id) FILTER (WHERE r.status = 'completed') n "
                  "  FROM stores s LEFT JOIN sync_runs r USING (store_id) GROUP BY 1) t "
                  "WHERE n <> 1"),
            "");
  EXPECT_EQ(runs, kStores + static_cast<int64_t>(orphaned.size()));
  EXPECT_EQ(count("attempt = 2"), static_cast<int64_t>(orphaned.size()));
  for (const auto& [store, run] : first_run) {
    absl::StatusOr<std::string> completed =
        sys.Text(absl::StrCat("SELECT run_id || ' ' || attempt || ' ' || trigger FROM sync_runs "
                              "WHERE status = 'completed' AND store_id = '",
                              store, "'"));
    ASSERT_TRUE(completed.ok()) << store << ": " << completed.status();
    if (orphaned.contains(run)) {
      EXPECT_THAT(*completed, ::testing::EndsWith(" 2 manual")) << store;
      // Queued after its predecessor was reaped, never alongside it.
      EXPECT_EQ(count(absl::StrCat("store_id = '", store,
                                   "' AND attempt = 2 AND queued_at < "
                                   "(SELECT finished_at FROM sync_runs WHERE run_id = '",
                                   run, "')")),
                0)
          << store;
    } else {
      EXPECT_EQ(*completed, absl::StrCat(run, " 1 manual")) << store;
    }
    // The last run that wrote the store is the one recorded completed, and it left the store
    // equal to the source.
    EXPECT_EQ(names(absl::StrCat(
                  "SELECT last_run_id FROM sync_tracking WHERE stage = 'ltv' AND store_id = '",
                  store, "'")),
              completed->substr(0, completed->find(' ')))
        << store;
    EXPECT_EQ(sys.CompareWithSource(store), "") << store;
  }

  // The worker ran no run twice: it completed each store once (plus, at most, a run of a that
  // finished on the worker while a was dying), and started no more runs than there are rows.
  const int worker_port = sys.worker(0).metrics_port;
  const double completed = Series(worker_port, "autosync_worker_runs_total{result=\"completed\"}");
  const double cancelled = Series(worker_port, "autosync_worker_runs_total{result=\"cancelled\"}");
  const double failed = Series(worker_port, "autosync_worker_runs_total{result=\"failed\"}");
  std::cout << "worker: " << completed << " completed, " << cancelled << " cancelled, " << failed
            << " failed, " << Series(worker_port, "autosync_worker_runs_total{result=\"rejected\"}")
            << " refused; runs given back after a refusal: "
            << sys.ScalarOrDie("SELECT coalesce(sum(refusals), 0) FROM sync_runs") << std::endl;
  EXPECT_GE(completed, kStores);
  EXPECT_LE(completed + cancelled + failed, static_cast<double>(runs));
  EXPECT_EQ(failed, 0);

  v1::SyncStatus st;
  ASSERT_TRUE(sys.Status(StoreId(0), &st, /*replica=*/1).ok());
  EXPECT_FALSE(st.is_syncing());
}

}  // namespace
}  // namespace autosync::testing
