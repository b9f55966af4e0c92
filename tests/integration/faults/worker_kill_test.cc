// Fault: the sync-worker is SIGKILLed at random points of a large store's runs (issue #8).
// Each killed run must be recorded failed with the reason, the scheduler must follow it with a
// new run once a worker answers again, and after that the store's orders must equal the source
// exactly (count and checksum), with no duplicates and no store left "syncing". A worker told
// to stop (SIGTERM) in the middle of a run is treated the same way, the follow-up going to the
// other worker at once.
#include <csignal>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

constexpr char kStore[] = "big";
// Large enough for ~100 pages of 250 orders, so kills land on every stage, and small enough
// that 21 full syncs fit the test's budget under ASan on 2 cores.
constexpr int kOrders = 25000;
constexpr int kKills = 20;

bool IsRunEvent(const v1::WatchEvent& e, const std::string& run_id) {
  return e.has_progress() && e.progress().run_id() == run_id;
}

// Waits until run `run_id` is no longer queued or running; returns its status, or "" when it still
// was (or could not be read) after `timeout`.
std::string WaitForRunEnd(FaultSystem& sys, const std::string& run_id, absl::Duration timeout) {
  std::string status;
  const bool ended = WaitUntil(
      [&] {
        auto s =
            sys.Text(absl::StrCat("SELECT status FROM sync_runs WHERE run_id = '", run_id, "'"));
        status = s.ok() ? *s : "";
        return status != "queued" && status != "running" && !status.empty();
      },
      timeout);
  return ended ? status : "";
}

// The newest run of kStore started after run `run_id`, as "<run id> <trigger> <status>".
struct FollowUp {
  bool finished = false;  // completed or failed within the timeout
  std::string row;        // the last seen ("" when there was none)
};
FollowUp WaitForFollowUp(FaultSystem& sys, const std::string& run_id, absl::Duration timeout) {
  FollowUp f;
  f.finished = WaitUntil(
      [&] {
        auto s = sys.Text(absl::StrCat(
            "SELECT run_id || ' ' || trigger || ' ' || status FROM sync_runs WHERE store_id = '",
            kStore, "' AND started_at > (SELECT started_at FROM sync_runs WHERE run_id = '", run_id,
            "') ORDER BY started_at DESC LIMIT 1"));
        f.row = s.ok() ? *s : "";
        return absl::EndsWith(f.row, " completed") || absl::EndsWith(f.row, " failed");
      },
      timeout);
  return f;
}

TEST(WorkerKillTest, KilledMidRunIsRecordedFailedFollowedAndLosesNothing) {
  std::mt19937_64 rng(FaultSeed());
  FaultSystem sys(FreshDatabaseUrl());
  ASSERT_FALSE(sys.db_url().empty());
  ASSERT_TRUE(sys.StartSim({absl::StrCat("--stores=", kStore, ":", kOrders), "--leak_per_second=0",
                            "--seed=11"})
                  .ok());
  // The scheduler migrates the database; the worker needs the tables, so it starts second.
  ASSERT_TRUE(sys.StartScheduler("a", {"--run_stale_seconds=5"}).ok());
  ASSERT_TRUE(sys.StartWorker(0, {"--max_concurrent_syncs=2"}).ok());
  // Paged REST: each killed run keeps the pages it committed, so the kills land on every stage
  // of a sync that moves on. (A first GraphQL sync is one bulk operation that starts over after
  // a kill; worker_sync_test kills a worker in one and checks the next run.)
  v1::Store store = sys.StoreFor(kStore);
  store.set_orders_api("rest");
  ASSERT_TRUE(sys.Upsert(store).ok());
  Watcher watcher(sys.stub(), kStore);

  // A clean first run: how many events a full sync sends, so kill points spread over all of it.
  v1::TriggerSyncResponse first;
  ASSERT_TRUE(sys.Trigger(kStore, &first).ok());
  ASSERT_TRUE(watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsRunEvent(e, first.run_id()) && IsProgress(e, v1::STAGE_COMPLETED);
      },
      absl::Seconds(120)))
      << sys.scheduler(0).process->Output();
  int full_run_events = 0;
  for (const v1::WatchEvent& e : watcher.events()) full_run_events += IsRunEvent(e, first.run_id());
  ASSERT_GT(full_run_events, 20);
  EXPECT_EQ(sys.CompareWithSource(kStore), "");

  int interrupted = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    // Make the run write: forget the cursor (the run re-reads the whole store) and remove a
    // random share of the stored orders (all, half, a third or a quarter of them).
    const int modulus = std::uniform_int_distribution<int>(1, 4)(rng);
    const int residue = std::uniform_int_distribution<int>(0, modulus - 1)(rng);
    ASSERT_TRUE(
        sys.Exec(absl::StrCat("DELETE FROM orders WHERE store_id = '", kStore, "' AND order_id % ",
                              modulus, " = ", residue,
                              "; DELETE FROM sync_tracking WHERE store_id = '", kStore, "'"))
            .ok());
    const int kill_after = std::uniform_int_distribution<int>(1, full_run_events - 1)(rng);
    const int extra_ms = std::uniform_int_distribution<int>(0, 30)(rng);

    v1::TriggerSyncResponse run;
    ASSERT_TRUE(sys.Trigger(kStore, &run).ok());
    ASSERT_TRUE(run.started()) << run.message();
    ASSERT_TRUE(
        watcher.WaitForCount([&](const v1::WatchEvent& e) { return IsRunEvent(e, run.run_id()); },
                             kill_after, absl::Seconds(120)))
        << "kill " << kill << ": the run sent fewer than " << kill_after << " events";
    absl::SleepFor(absl::Milliseconds(extra_ms));  // a random point between two events
    ASSERT_TRUE(sys.KillWorker(0).ok());

    // The killed run ends: failed with the reason, unless it had completed before the kill.
    const std::string status = WaitForRunEnd(sys, run.run_id(), absl::Seconds(20));
    ASSERT_FALSE(status.empty()) << "kill " << kill << ": run " << run.run_id() << " still running";
    if (status == "failed") {
      ++interrupted;
      auto error =
          sys.Text(absl::StrCat("SELECT error FROM sync_runs WHERE run_id = '", run.run_id(), "'"));
      ASSERT_TRUE(error.ok());
      EXPECT_THAT(*error, HasSubstr("sync-worker stopped in the middle of the run"))
          << "kill " << kill;
    } else {
      EXPECT_EQ(status, "completed") << "kill " << kill;
    }

    // A worker comes back; the scheduler's follow-up run (or nothing, if the run had
    // completed) brings the store level with the source.
    ASSERT_TRUE(sys.RestartWorker(0).ok());
    if (status == "failed") {
      const FollowUp followup = WaitForFollowUp(sys, run.run_id(), absl::Seconds(120));
      ASSERT_TRUE(followup.finished)
          << "kill " << kill << ": no finished follow-up run; last: " << followup.row << "\n"
          << sys.scheduler(0).process->Output();
      EXPECT_TRUE(absl::EndsWith(followup.row, " completed"))
          << "kill " << kill << ": " << followup.row;
    }
    EXPECT_EQ(sys.CompareWithSource(kStore), "") << "after kill " << kill;
  }
  std::cout << interrupted << " of " << kKills << " kills interrupted a run" << std::endl;
  // Kill points are drawn before the last event, so nearly all of them interrupt.
  EXPECT_GE(interrupted, kKills * 3 / 4);

  // The end state: exact, no duplicates, nothing running, every failure explained.
  EXPECT_EQ(sys.CompareWithSource(kStore), "");
  EXPECT_EQ(sys.ScalarOrDie(absl::StrCat("SELECT count(*) - count(DISTINCT order_id) FROM orders "
                                         "WHERE store_id = '",
                                         kStore, "'")),
            0);
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM sync_runs WHERE status = 'running'"), 0);
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM sync_runs WHERE status = 'failed'"), interrupted);
  EXPECT_EQ(
      sys.ScalarOrDie("SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error = ''"), 0);
  v1::SyncStatus st;
  ASSERT_TRUE(sys.Status(kStore, &st).ok());
  EXPECT_FALSE(st.is_syncing());
  EXPECT_EQ(st.last_run().status(), "completed");
}

// Kubernetes stops a worker pod with SIGTERM. A run still going when the worker's 3 s grace
// ends is cut off by the worker's gRPC server (the scheduler's call ends UNAVAILABLE, "Cancelling
// all calls"), so the run is recorded failed with the reason and followed at once by a new run on
// the other worker -- not left to the next tick, which may be an hour away -- which brings the
// store level with the source. Seen failing with the follow-up switched off.
TEST(WorkerKillTest, StoppedMidRunIsFollowedOnTheOtherWorkerAtOnce) {
  FaultSystem sys(FreshDatabaseUrl());
  ASSERT_FALSE(sys.db_url().empty());
  ASSERT_TRUE(sys.StartSim({absl::StrCat("--stores=", kStore, ":", kOrders), "--leak_per_second=0",
                            "--seed=12"})
                  .ok());
  sys.WorkerTarget(2);
  ASSERT_TRUE(sys.StartScheduler("a", {"--run_stale_seconds=5"}).ok());
  for (size_t w = 0; w < 2; ++w) ASSERT_TRUE(sys.StartWorker(w).ok());
  ASSERT_TRUE(sys.Upsert(sys.StoreFor(kStore)).ok());
  Watcher watcher(sys.stub(), kStore);
  // Slow pages: the run outlasts the worker's shutdown grace.
  ASSERT_TRUE(sys.sim().SetFaults(R"({"latency_ms":150})").ok());

  v1::TriggerSyncResponse run;
  ASSERT_TRUE(sys.Trigger(kStore, &run).ok());
  ASSERT_TRUE(run.started()) << run.message();
  ASSERT_TRUE(watcher.WaitForCount(
      [&](const v1::WatchEvent& e) { return IsRunEvent(e, run.run_id()); }, 3, absl::Seconds(60)));
  // The worker running it.
  const auto active = [&](size_t w) {
    absl::StatusOr<MetricValues> m = ScrapeMetrics(sys.worker(w).metrics_port);
    return m.ok() ? SeriesValue(*m, "autosync_worker_active_runs") : -1;
  };
  size_t busy = 2;
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (size_t w = 0; w < 2; ++w) {
          if (active(w) == 1) busy = w;
        }
        return busy < 2;
      },
      absl::Seconds(10)));
  const size_t other = 1 - busy;

  sys.worker(busy).process->Signal(SIGTERM);
  absl::StatusOr<int> exit_code = sys.worker(busy).process->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);  // a clean stop, not a crash
  ASSERT_TRUE(sys.sim().SetFaults("{}").ok());

  ASSERT_EQ(WaitForRunEnd(sys, run.run_id(), absl::Seconds(20)), "failed");
  auto error =
      sys.Text(absl::StrCat("SELECT error FROM sync_runs WHERE run_id = '", run.run_id(), "'"));
  ASSERT_TRUE(error.ok());
  EXPECT_THAT(*error, HasSubstr("sync-worker stopped in the middle of the run"));
  std::cout << "the stopped run: " << *error << std::endl;

  // The follow-up: a new run, started after the stopped one, completed by the other worker.
  const FollowUp followup = WaitForFollowUp(sys, run.run_id(), absl::Seconds(120));
  ASSERT_TRUE(followup.finished) << "no finished follow-up run; last: " << followup.row << "\n"
                                 << sys.scheduler(0).process->Output();
  EXPECT_TRUE(absl::EndsWith(followup.row, " manual completed")) << followup.row;
  absl::StatusOr<MetricValues> m = ScrapeMetrics(sys.worker(other).metrics_port);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(SeriesValue(*m, "autosync_worker_runs_total{result=\"completed\"}"), 1);
  EXPECT_EQ(sys.CompareWithSource(kStore), "");
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM sync_runs WHERE status = 'running'"), 0);
}

}  // namespace
}  // namespace autosync::testing
