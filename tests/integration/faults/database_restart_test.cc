// Fault: PostgreSQL stops in the middle of a run and comes back (issue #8). Every service stays
// up; their gRPC health reports the Scheduler / SyncWorker services NOT_SERVING (and
// `autosync_ready 0` on /metrics) while the database is gone, the liveness answer ("") stays
// SERVING; RPCs answer UNAVAILABLE; the interrupted run is recorded failed with the reason; and
// within 10 s of the database returning a new trigger succeeds and WatchStore streams it --
// with no process restarted by hand.
#include <csignal>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/faults/fault_system.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kStore[] = "shop";
constexpr char kSchedulerService[] = "autosync.v1.Scheduler";
constexpr char kWorkerService[] = "autosync.v1.SyncWorker";

std::string Health(const std::string& target, const std::string& service) {
  absl::StatusOr<std::string> s = HealthCheck(target, service, absl::Seconds(2));
  return s.ok() ? *s : std::string(s.status().message());
}

std::string ReadyGauge(int metrics_port) {
  absl::StatusOr<MetricValues> m = ScrapeMetrics(metrics_port, absl::Seconds(2));
  if (!m.ok()) return "unreachable";
  auto it = m->find("autosync_ready");
  return it == m->end() ? "absent" : absl::StrCat(it->second);
}

// GET /ready on the metrics listener (what Kubernetes probes where gRPC needs a client
// certificate): "200 ready" or "503 not ready: <reason>".
std::string ReadyRoute(int metrics_port) {
  absl::StatusOr<HttpResult> r =
      HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port, "/ready"), absl::Seconds(2));
  if (!r.ok()) return "unreachable";
  return absl::StrCat(r->status, " ", r->body);
}

TEST(DatabaseRestartTest, ServicesStayUpReportNotServingAndRecoverWithin10s) {
  // A cluster of its own: this test stops it.
  auto cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto db = (*cluster)->CreateDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  FaultSystem sys(*db);
  ASSERT_TRUE(
      sys.StartSim({absl::StrCat("--stores=", kStore, ":20000"), "--leak_per_second=0", "--seed=5"})
          .ok());
  ASSERT_TRUE(sys.StartScheduler("a").ok());
  ASSERT_TRUE(sys.StartWorker(0).ok());
  ASSERT_TRUE(sys.Upsert(sys.StoreFor(kStore)).ok());
  const std::string scheduler = sys.scheduler(0).target();
  const std::string worker = sys.worker(0).target();
  const pid_t scheduler_pid = sys.scheduler(0).process->pid();
  const pid_t worker_pid = sys.worker(0).process->pid();
  EXPECT_EQ(Health(scheduler, kSchedulerService), "SERVING");
  EXPECT_EQ(Health(worker, kWorkerService), "SERVING");
  EXPECT_EQ(ReadyGauge(sys.scheduler(0).metrics_port), "1");

  // A slow run (pages of 250 orders every ~100 ms), stopped in the middle of its orders.
  ASSERT_TRUE(sys.sim().SetFaults(R"({"latency_ms":100})").ok());
  Watcher watcher(sys.stub(), kStore);
  v1::TriggerSyncResponse interrupted;
  ASSERT_TRUE(sys.Trigger(kStore, &interrupted).ok());
  ASSERT_TRUE(watcher.WaitForCount(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_ORDERS) && e.progress().run_id() == interrupted.run_id();
      },
      4, absl::Seconds(60)));
  ASSERT_TRUE((*cluster)->StopServer().ok());
  const absl::Time down_at = absl::Now();

  // While it is gone: readiness says so within a few seconds, liveness does not, RPCs that need
  // the database answer UNAVAILABLE, and nobody exits.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Health(scheduler, kSchedulerService) == "NOT_SERVING" &&
               Health(worker, kWorkerService) == "NOT_SERVING";
      },
      absl::Seconds(5)))
      << Health(scheduler, kSchedulerService) << " / " << Health(worker, kWorkerService);
  EXPECT_EQ(Health(scheduler, ""), "SERVING");
  EXPECT_EQ(Health(worker, ""), "SERVING");
  EXPECT_EQ(ReadyGauge(sys.scheduler(0).metrics_port), "0");
  EXPECT_EQ(ReadyGauge(sys.worker(0).metrics_port), "0");
  EXPECT_THAT(ReadyRoute(sys.scheduler(0).metrics_port), StartsWith("503 not ready: "));
  EXPECT_THAT(ReadyRoute(sys.worker(0).metrics_port), StartsWith("503 not ready: "));
  v1::TriggerSyncResponse refused;
  grpc::Status trigger_down = sys.Trigger(kStore, &refused);
  EXPECT_EQ(trigger_down.error_code(), grpc::StatusCode::UNAVAILABLE)
      << trigger_down.error_message();
  v1::SyncStatus status;
  EXPECT_EQ(sys.Status(kStore, &status).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The interrupted run reached its end in the worker (its page write failed) and watchers of
  // this replica were told, although the event relay through the database is down.
  auto failed = watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_FAILED) && e.progress().run_id() == interrupted.run_id();
      },
      absl::Seconds(10));
  ASSERT_TRUE(failed.has_value());
  EXPECT_THAT(failed->progress().error(), AnyOf(HasSubstr("database"), HasSubstr("PostgreSQL")));
  // Hold the outage a little (reconnect loops back off meanwhile).
  absl::SleepFor(absl::Seconds(3) - (absl::Now() - down_at));
  EXPECT_TRUE(sys.scheduler(0).process->running());
  EXPECT_TRUE(sys.worker(0).process->running());

  ASSERT_TRUE(sys.sim().ClearFaults().ok());
  ASSERT_TRUE((*cluster)->StartServer().ok());
  const absl::Time up_at = absl::Now();

  // Within 10 s: ready again, the interrupted run's row says failed with the reason, and a
  // trigger gets a new run going: the retry the scheduler queued for the interrupted run (the
  // database was a passing cause) is taken out of its backoff, or a new run is queued.
  v1::TriggerSyncResponse again;
  grpc::Status last;
  const bool triggered = WaitUntil(
      [&] {
        last = sys.Trigger(kStore, &again);
        return last.ok() && !again.run_id().empty() && again.run_id() != interrupted.run_id();
      },
      absl::Seconds(10));
  const absl::Duration recovery = absl::Now() - up_at;
  std::cout << "database back -> new run started in " << absl::FormatDuration(recovery)
            << std::endl;
  ASSERT_TRUE(triggered) << last.error_message() << " / " << again.message() << "\n"
                         << sys.scheduler(0).process->Output();
  EXPECT_NE(again.run_id(), interrupted.run_id());
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Health(scheduler, kSchedulerService) == "SERVING" &&
               Health(worker, kWorkerService) == "SERVING";
      },
      up_at + absl::Seconds(10) - absl::Now()));
  auto row = sys.Text(absl::StrCat("SELECT status || ': ' || error FROM sync_runs WHERE run_id = '",
                                   interrupted.run_id(), "'"));
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_THAT(*row, HasSubstr("failed: "));
  EXPECT_THAT(*row, AnyOf(HasSubstr("database"), HasSubstr("PostgreSQL")));

  // WatchStore works: the watcher opened before the outage and a new one both see the new run
  // complete, and the store ends level with the source.
  Watcher fresh(sys.stub(), kStore);
  for (Watcher* w : {&watcher, &fresh}) {
    EXPECT_TRUE(w->WaitFor(
        [&](const v1::WatchEvent& e) {
          return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == again.run_id();
        },
        absl::Seconds(120)))
        << sys.scheduler(0).process->Output();
  }
  EXPECT_TRUE(fresh.events().front().has_status());
  EXPECT_EQ(ReadyGauge(sys.scheduler(0).metrics_port), "1");
  EXPECT_EQ(ReadyGauge(sys.worker(0).metrics_port), "1");
  EXPECT_EQ(ReadyRoute(sys.scheduler(0).metrics_port), "200 ready\n");
  EXPECT_EQ(ReadyRoute(sys.worker(0).metrics_port), "200 ready\n");
  EXPECT_EQ(sys.CompareWithSource(kStore), "");
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM sync_runs WHERE status = 'running'"), 0);
  // Never restarted.
  EXPECT_EQ(sys.scheduler(0).process->pid(), scheduler_pid);
  EXPECT_EQ(sys.worker(0).process->pid(), worker_pid);
  EXPECT_TRUE(sys.scheduler(0).process->running());
  EXPECT_TRUE(sys.worker(0).process->running());
}

// The pool after a restart: every idle connection was closed by the server. The first query
// must not be handed one of them (it would fail although the database answers again), and no
// later caller either.
TEST(DatabaseRestartTest, PoolHandsOutNoConnectionTheRestartClosed) {
  auto cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto db = (*cluster)->CreateDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  constexpr int kSize = 4;
  auto pool = common::PgPool::Create({.url = *db, .size = kSize});
  ASSERT_TRUE(pool.ok());
  // Open kSize connections at once, so kSize sit idle in the pool afterwards.
  {
    absl::Mutex mu;
    int inside = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < kSize; ++i) {
      threads.emplace_back([&] {
        EXPECT_TRUE((*pool)
                        ->Run([&](pqxx::connection_base&) {
                          absl::MutexLock lock(&mu);
                          ++inside;
                          auto all_in = [&]() { return inside == kSize; };
                          mu.AwaitWithTimeout(absl::Condition(&all_in), absl::Seconds(10));
                          return absl::OkStatus();
                        })
                        .ok());
      });
    }
    for (std::thread& t : threads) t.join();
  }
  ASSERT_TRUE((*cluster)->StopServer().ok());
  EXPECT_EQ((*pool)->Ping().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*cluster)->StartServer().ok());
  for (int i = 0; i < 2 * kSize; ++i) {
    EXPECT_TRUE((*pool)->Ping().ok()) << "query " << i << " after the restart";
  }
}

}  // namespace
}  // namespace autosync::testing
