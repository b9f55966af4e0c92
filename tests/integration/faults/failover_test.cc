// Fault: the PostgreSQL primary dies and pg_auto_failover promotes its synchronous standby
// (issue 21). The services connect with a multi-host URL (target_session_attrs=read-write) and
// get through it without a restart:
//  - FleetSurvivesThePrimaryDying: a cron tick of a fleet of stores is under way (runs in flight,
//    more queued) when the primary's machine dies (SIGKILL of its keeper and postmaster: the
//    keeper alone would restart PostgreSQL in place, which is DatabaseRestartTest's case). The
//    standby is promoted; the services' readiness says NOT_SERVING while no primary answers and
//    SERVING after; the same processes carry on; each run cut off is recorded failed and run
//    again; the tick fired once per store and the next tick too; every store's orders equal the
//    source and cohorts a from-scratch recompute. The old primary then rejoins as a standby.
//    The time from the kill to the first write and to the first completed run is printed.
//  - PostmasterKillThenSwitchoverWhileIdle: the primary's postmaster alone dies (its keeper
//    restarts it in place, no failover) and the services reconnect; then `pg_autoctl perform
//    switchover`; a scheduler given only the standby's
//    address waits for a primary (and says so) until the switchover makes it one; the others
//    carry on; the old primary is a standby afterwards and the system still writes.
//  - DemotedNodeRefusesWritesAndTheRetryFindsThePrimary (PostgreSQL only, no pg_auto_failover):
//    a write on a pooled connection to a server turned read-only is UNAVAILABLE, and the retry
//    lands on the primary.
#include <atomic>
#include <csignal>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/faults/fault_system.h"
#include "tests/support/cohort_rows.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/pg_failover_cluster.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr char kSchedulerService[] = "autosync.v1.Scheduler";
constexpr char kWorkerService[] = "autosync.v1.SyncWorker";

// The fleet: each store's run fetches two pages at 100 ms a request; 6 worker slots. A tick's
// herd takes about 10 s, so most of it is queued or in flight when the primary dies.
constexpr int kStores = 150;
constexpr int kOrdersPerStore = 300;
constexpr int kLatencyMs = 100;
constexpr int kSlots = 6;

std::string StoreId(int i) { return absl::StrFormat("f%03d", i); }

std::string Health(const std::string& target, const std::string& service) {
  absl::StatusOr<std::string> s = HealthCheck(target, service, absl::Seconds(1));
  return s.ok() ? *s : "unreachable";
}

// Polls the named health of a scheduler and a worker every 100 ms from its own thread and keeps
// every change, with its time.
class HealthRecorder {
 public:
  HealthRecorder(std::string scheduler, std::string worker)
      : scheduler_(std::move(scheduler)), worker_(std::move(worker)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~HealthRecorder() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  struct Change {
    absl::Time at;
    std::string state;  // "<scheduler>/<worker>"
  };
  std::vector<Change> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  std::string Describe(absl::Time origin) {
    std::string out;
    for (const Change& c : changes()) {
      absl::StrAppend(
          &out, absl::StrFormat("%+.1fs %s; ", absl::ToDoubleSeconds(c.at - origin), c.state));
    }
    return out;
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      const std::string state =
          absl::StrCat(Health(scheduler_, kSchedulerService), "/", Health(worker_, kWorkerService));
      {
        absl::MutexLock lock(&mu_);
        if (changes_.empty() || changes_.back().state != state) {
          changes_.push_back({absl::Now(), state});
        }
      }
      absl::SleepFor(absl::Milliseconds(100));  // health has no event to wait on
    }
  }

  const std::string scheduler_, worker_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Change> changes_ ABSL_GUARDED_BY(mu_);
};

// One formation for the suite (its start takes ~25 s); each test has its own database.
class FailoverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = PgFailoverCluster::Start();
    if (started.ok()) {
      cluster_ = started->release();
    } else {
      *start_error_ = started.status();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "pg_auto_failover formation: " << *start_error_;
    absl::StatusOr<int> primary = cluster_->WaitForPrimaryAndSecondary(absl::Seconds(60));
    ASSERT_TRUE(primary.ok()) << primary.status();
  }
  PgFailoverCluster& cluster() { return *cluster_; }

  static PgFailoverCluster* cluster_;
  static absl::Status* start_error_;
};

PgFailoverCluster* FailoverTest::cluster_ = nullptr;
absl::Status* FailoverTest::start_error_ = new absl::Status();

TEST_F(FailoverTest, FleetSurvivesThePrimaryDying) {
  absl::StatusOr<std::string> db = cluster().CreateDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  FaultSystem sys(*db);
  std::string stores = "--stores=";
  for (int i = 0; i < kStores; ++i) {
    absl::StrAppend(&stores, i ? "," : "", StoreId(i), ":", kOrdersPerStore);
  }
  absl::Status started = sys.StartSim(
      {stores, "--leak_per_second=0", "--seed=21", absl::StrCat("--latency_ms=", kLatencyMs)});
  ASSERT_TRUE(started.ok()) << started;
  started = sys.StartScheduler("a", {"--schedule_refresh_seconds=2", "--run_stale_seconds=10"});
  ASSERT_TRUE(started.ok()) << started;  // migrated through the multi-host URL
  started = sys.StartWorker(0, {absl::StrCat("--max_concurrent_syncs=", kSlots)});
  ASSERT_TRUE(started.ok()) << started;
  // Every store on a per-minute schedule, staleness 0 so that every tick syncs.
  std::string values;
  for (int i = 0; i < kStores; ++i) {
    absl::StrAppend(&values, i ? "," : "", "('", StoreId(i), "', '",
                    sys.sim().orders_base(StoreId(i)), "')");
  }
  ASSERT_TRUE(sys.Exec(absl::StrCat("INSERT INTO stores (store_id, schedule, staleness_seconds, "
                                    "orders_api_base, credentials_ref) SELECT id, '* * * * *', 0, "
                                    "base, 'env:SIM_TOKEN' FROM (VALUES ",
                                    values, ") v(id, base)"))
                  .ok());
  ASSERT_TRUE(
      sys.Exec("CREATE TABLE failover_probe (at timestamptz DEFAULT clock_timestamp())").ok());
  ASSERT_TRUE(WaitUntil(
      [&] { return sys.Scalar("SELECT sum(slots) FROM worker_slots").value_or(0) == kSlots; },
      absl::Seconds(10)));
  const pid_t scheduler_pid = sys.scheduler(0).process->pid();
  const pid_t worker_pid = sys.worker(0).process->pid();
  const auto count = [&](const std::string& where) {
    return sys.ScalarOrDie(absl::StrCat("SELECT count(*) FROM sync_runs WHERE ", where));
  };

  // Tick 1: the first minute boundary after the scheduler has loaded the stores.
  const absl::Time tick1 =
      absl::FromUnixSeconds((absl::ToUnixSeconds(absl::Now() + absl::Seconds(3)) / 60 + 1) * 60);
  const std::string t1 = absl::StrCat("to_timestamp(", absl::ToUnixSeconds(tick1), ")");
  const std::string t2 = absl::StrCat("to_timestamp(", absl::ToUnixSeconds(tick1) + 60, ")");
  std::cout << "tick 1 at " << absl::FormatTime(tick1) << std::endl;
  ASSERT_TRUE(WaitUntil(
      [&] {
        return count(absl::StrCat("scheduled_for = ", t1, " AND status = 'running'")) >= 2 &&
               count(absl::StrCat("scheduled_for = ", t1, " AND status = 'queued'")) >= kStores / 2;
      },
      tick1 - absl::Now() + absl::Seconds(20)))
      << count(absl::StrCat("scheduled_for = ", t1)) << " runs of tick 1\n"
      << sys.scheduler(0).process->Output();

  HealthRecorder health(sys.scheduler(0).target(), sys.worker(0).target());
  absl::StatusOr<int> old_primary = cluster().Primary();
  ASSERT_TRUE(old_primary.ok()) << old_primary.status();
  const int64_t in_flight = count("status = 'running'");
  const int64_t queued = count("status = 'queued'");
  const absl::Time killed_at = absl::Now();  // KillNode signals first, then waits for the exit
  ASSERT_TRUE(cluster().KillNode(*old_primary).ok());
  std::cout << "killed the primary (node " << *old_primary + 1 << ") "
            << absl::FormatDuration(killed_at - tick1) << " after tick 1: " << in_flight
            << " runs in flight, " << queued << " queued" << std::endl;

  // The first write through the multi-host URL that commits (a new connection each try).
  absl::Time first_write = absl::InfiniteFuture();
  std::string write_error;
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::Status s = sys.Exec("INSERT INTO failover_probe DEFAULT VALUES");
        if (!s.ok()) write_error = std::string(s.message());
        return s.ok();
      },
      absl::Seconds(60)))
      << write_error << "\n"
      << cluster().MonitorLog();
  first_write = absl::Now();
  // The standby was promoted; with its peer dead it is a primary without a standby.
  absl::Status promoted =
      cluster().WaitForState({{1 - *old_primary, "wait_primary"}}, absl::Seconds(30));
  ASSERT_TRUE(promoted.ok()) << promoted;
  EXPECT_EQ(cluster().Primary().value_or(-1), 1 - *old_primary);

  // The herd drains: nothing queued or running, every store's tick-1 work completed (by its own
  // run, or by the run that followed one the failover cut off).
  const bool drained = WaitUntil(
      [&] {
        return count("status IN ('queued', 'running')") == 0 &&
               sys.ScalarOrDie(absl::StrCat(
                   "SELECT count(DISTINCT store_id) FROM sync_runs WHERE status = 'completed' "
                   "AND queued_at >= ",
                   t1)) == kStores;
      },
      absl::Seconds(90));
  std::cout << "tick 1 drained " << absl::FormatDuration(absl::Now() - killed_at)
            << " after the kill" << std::endl;
  ASSERT_TRUE(drained) << count("status = 'queued'") << " queued, " << count("status = 'running'")
                       << " running\n"
                       << sys.scheduler(0).process->Output();
  absl::StatusOr<std::string> first_run = sys.Text(absl::StrCat(
      "SELECT extract(epoch FROM min(finished_at))::text FROM sync_runs WHERE status = "
      "'completed' AND finished_at > to_timestamp(",
      absl::StrFormat("%.3f", absl::ToDoubleSeconds(killed_at - absl::UnixEpoch())), ")"));
  ASSERT_TRUE(first_run.ok()) << first_run.status();
  double first_run_epoch = 0;
  ASSERT_TRUE(absl::SimpleAtod(*first_run, &first_run_epoch));
  // A benchmark line (not an assertion): README's Reliability table quotes it.
  std::cout << absl::StrFormat(
                   "BENCH failover: primary killed -> first write %.1f s, first completed run "
                   "%.1f s (%d stores, %d in flight, %d queued)",
                   absl::ToDoubleSeconds(first_write - killed_at),
                   first_run_epoch - absl::ToDoubleSeconds(killed_at - absl::UnixEpoch()), kStores,
                   static_cast<int>(in_flight), static_cast<int>(queued))
            << std::endl;

  // Readiness followed the database: NOT_SERVING while no primary answered, SERVING after.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto changes = health.changes();
        return !changes.empty() && changes.back().state == "SERVING/SERVING";
      },
      absl::Seconds(10)))
      << health.Describe(killed_at);
  health.Stop();
  const std::vector<HealthRecorder::Change> changes = health.changes();
  bool scheduler_down = false, worker_down = false;
  for (const HealthRecorder::Change& c : changes) {
    scheduler_down |= absl::StartsWith(c.state, "NOT_SERVING/");
    worker_down |= absl::EndsWith(c.state, "/NOT_SERVING");
  }
  std::cout << "health: " << health.Describe(killed_at) << std::endl;
  EXPECT_TRUE(scheduler_down) << health.Describe(killed_at);
  EXPECT_TRUE(worker_down) << health.Describe(killed_at);

  // The same processes: reconnected, not restarted.
  EXPECT_TRUE(sys.scheduler(0).process->running());
  EXPECT_TRUE(sys.worker(0).process->running());
  EXPECT_EQ(sys.scheduler(0).process->pid(), scheduler_pid);
  EXPECT_EQ(sys.worker(0).process->pid(), worker_pid);

  // Tick 1 fired once per store. Each run cut off was recorded failed with the database as the
  // reason, and a later run of its store completed.
  EXPECT_EQ(count(absl::StrCat("scheduled_for = ", t1)), kStores);
  EXPECT_EQ(sys.ScalarOrDie(absl::StrCat(
                "SELECT count(DISTINCT store_id) FROM sync_runs WHERE scheduled_for = ", t1)),
            kStores);
  const int64_t failed = count("status = 'failed'");
  std::cout << failed << " runs cut off by the failover" << std::endl;
  EXPECT_GT(failed, 0) << "the kill cut no run off: it proves nothing";
  EXPECT_EQ(sys.Text("SELECT string_agg(f.run_id || ' (' || f.store_id || '): ' || f.error, '; ') "
                     "FROM sync_runs f WHERE f.status = 'failed' AND NOT EXISTS (SELECT 1 FROM "
                     "sync_runs n WHERE n.store_id = f.store_id AND n.status = 'completed' AND "
                     "n.queued_at >= f.queued_at AND n.run_id <> f.run_id)")
                .status()
                .code(),
            absl::StatusCode::kNotFound)
      << "failed runs without a completed run after them";
  EXPECT_EQ(count("status = 'failed' AND error NOT ILIKE '%database%' AND error NOT ILIKE "
                  "'%postgres%' AND error NOT ILIKE '%heartbeat%'"),
            0)
      << sys.Text(
                "SELECT string_agg(DISTINCT error, '; ') FROM sync_runs WHERE status = "
                "'failed'")
             .value_or("");

  // Tick 2, after the failover: every store once more, once.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return count(absl::StrCat("scheduled_for = ", t2, " AND status = 'completed'")) >= kStores;
      },
      tick1 + absl::Seconds(60) - absl::Now() + absl::Seconds(60)))
      << count(absl::StrCat("scheduled_for = ", t2)) << " runs of tick 2\n"
      << sys.scheduler(0).process->Output();
  EXPECT_EQ(count(absl::StrCat("scheduled_for = ", t2)), kStores);
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM (SELECT store_id, scheduled_for FROM sync_runs "
                            "WHERE scheduled_for IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) t"),
            0);

  // Every store's orders equal the source.
  for (int i = 0; i < kStores; ++i) {
    EXPECT_EQ(sys.CompareWithSource(StoreId(i)), "") << StoreId(i);
  }
  // The cohorts equal a from-scratch recompute (no LTV state: a full rebuild), for the stores
  // whose tick-1 run was cut off (their cohorts were written across the failover) and one other.
  absl::StatusOr<std::string> cut = sys.Text(
      "SELECT string_agg(store_id, ',' ORDER BY store_id) FROM (SELECT DISTINCT store_id FROM "
      "sync_runs WHERE status = 'failed' ORDER BY store_id LIMIT 3) t");
  std::vector<std::string> check = {StoreId(kStores - 1)};
  if (cut.ok()) {
    const std::vector<std::string> cut_stores = absl::StrSplit(*cut, ',');
    check.insert(check.end(), cut_stores.begin(), cut_stores.end());
  }
  for (const std::string& store : check) {
    SCOPED_TRACE(store);
    const std::vector<std::string> incremental = CohortRows(*db, store);
    ASSERT_FALSE(incremental.empty());
    ASSERT_TRUE(
        sys.Exec(absl::StrCat("DELETE FROM ltv_state WHERE store_id = '", store, "'")).ok());
    v1::TriggerSyncResponse rebuilt;
    ASSERT_TRUE(sys.Trigger(store, &rebuilt, 0, /*force=*/true).ok());
    ASSERT_TRUE(WaitUntil(
        [&] {
          return count(absl::StrCat("run_id = '", rebuilt.run_id(),
                                    "' AND status = "
                                    "'completed'")) == 1;
        },
        absl::Seconds(60)));
    EXPECT_EQ(CohortRows(*db, store), incremental);
  }

  // The old primary rejoins as a standby of the new one, and the system still writes.
  ASSERT_TRUE(cluster().RestartNode(*old_primary).ok());
  absl::Status rejoined = cluster().WaitForState(
      {{*old_primary, "secondary"}, {1 - *old_primary, "primary"}}, absl::Seconds(90));
  ASSERT_TRUE(rejoined.ok()) << rejoined << "\n" << cluster().NodeLog(*old_primary);
  EXPECT_TRUE(sys.Exec("INSERT INTO failover_probe DEFAULT VALUES").ok());
}

TEST_F(FailoverTest, PostmasterKillThenSwitchoverWhileIdle) {
  absl::StatusOr<std::string> db = cluster().CreateDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  FaultSystem sys(*db);
  ASSERT_TRUE(sys.StartSim({"--stores=sw:600", "--leak_per_second=0", "--seed=22"}).ok());
  ASSERT_TRUE(sys.StartScheduler("a").ok());
  ASSERT_TRUE(sys.StartWorker(0).ok());
  ASSERT_TRUE(sys.Upsert(sys.StoreFor("sw", "0 0 1 1 *", /*with_ads=*/false)).ok());
  absl::StatusOr<int> primary = cluster().Primary();
  ASSERT_TRUE(primary.ok()) << primary.status();
  const pid_t scheduler_pid = sys.scheduler(0).process->pid();
  const pid_t worker_pid = sys.worker(0).process->pid();

  // The cheaper fault first: only the primary's postmaster dies. Its keeper starts PostgreSQL
  // again in place (no failover), and the services reconnect to it.
  ASSERT_TRUE(cluster().KillPostmaster(*primary).ok());
  const absl::Time postmaster_killed = absl::Now();
  std::string write_error;
  ASSERT_TRUE(WaitUntil(
      [&] {
        const absl::Status w = sys.Exec("CREATE TABLE IF NOT EXISTS restarted (x int)");
        if (!w.ok()) write_error = std::string(w.message());
        return w.ok();
      },
      absl::Seconds(60)))
      << write_error << "\n"
      << cluster().NodeLog(*primary);
  const absl::Duration postmaster_write = absl::Now() - postmaster_killed;
  // The keeper restarts PostgreSQL in place; with the test's eager health checks the monitor
  // may meanwhile have failed over to the standby (under load the restart can outlast
  // node_considered_unhealthy_timeout). Either way the services must carry on.
  absl::StatusOr<int> after = cluster().WaitForPrimaryAndSecondary(absl::Seconds(60));
  ASSERT_TRUE(after.ok()) << after.status();
  std::cout << "postmaster killed -> first write " << absl::FormatDuration(postmaster_write) << "; "
            << (*after == *primary ? "restarted in place" : "failed over") << std::endl;
  primary = after;
  const int standby = 1 - *primary;
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Health(sys.scheduler(0).target(), kSchedulerService) == "SERVING" &&
               Health(sys.worker(0).target(), kWorkerService) == "SERVING";
      },
      absl::Seconds(15)));

  // A scheduler pointed at the standby alone waits for a primary: it says so, with libpq's
  // reason, and does not serve.
  std::string database = db->substr(db->rfind('/') + 1);
  database = database.substr(0, database.find('?'));
  const std::string standby_url =
      absl::StrCat(cluster().NodeUrl(standby, database), "&target_session_attrs=read-write");
  const int waiting_port = FreePort();
  auto waiting = ChildProcess::Start(
      BinaryPath("scheduler-service"),
      {.args = {"--database_url=" + standby_url, "--insecure_grpc",
                absl::StrCat("--listen=127.0.0.1:", waiting_port),
                absl::StrCat("--metrics_listen=127.0.0.1:", FreePort()), "--replica_id=w",
                "--worker_target=" + sys.WorkerTarget(1), "--startup_timeout_seconds=120"}});
  ASSERT_TRUE(waiting.ok()) << waiting.status();
  const std::string waiting_target = absl::StrCat("127.0.0.1:", waiting_port);
  ASSERT_TRUE(WaitUntil(
      [&] { return absl::StrContains((*waiting)->Output(), "waiting for a writable PostgreSQL"); },
      absl::Seconds(15)))
      << (*waiting)->Output();
  EXPECT_THAT((*waiting)->Output(), HasSubstr("read-only"));
  EXPECT_TRUE((*waiting)->running());
  EXPECT_NE(Health(waiting_target, kSchedulerService), "SERVING");

  const absl::Time switch_at = absl::Now();
  absl::Status switched = cluster().Switchover();
  ASSERT_TRUE(switched.ok()) << switched;
  // The old primary is now the standby of the new one.
  absl::Status states =
      cluster().WaitForState({{standby, "primary"}, {*primary, "secondary"}}, absl::Seconds(60));
  ASSERT_TRUE(states.ok()) << states;
  std::cout << "switchover done in " << absl::FormatDuration(absl::Now() - switch_at) << std::endl;

  // The waiting scheduler's only host is the primary now: it starts serving.
  EXPECT_TRUE(WaitForServing(waiting_target, absl::Seconds(30)).ok()) << (*waiting)->Output();
  // The others carry on: same processes, ready, and a run writes the store level with the source.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Health(sys.scheduler(0).target(), kSchedulerService) == "SERVING" &&
               Health(sys.worker(0).target(), kWorkerService) == "SERVING";
      },
      absl::Seconds(15)));
  v1::TriggerSyncResponse run;
  grpc::Status last;
  ASSERT_TRUE(WaitUntil(
      [&] {
        last = sys.Trigger("sw", &run);
        return last.ok() && run.started();
      },
      absl::Seconds(15)))
      << last.error_message() << " / " << run.message();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return sys.Text(absl::StrCat("SELECT status FROM sync_runs WHERE run_id = '", run.run_id(),
                                     "'"))
                   .value_or("") == "completed";
      },
      absl::Seconds(60)))
      << sys.worker(0).process->Output();
  EXPECT_EQ(sys.CompareWithSource("sw"), "");
  EXPECT_EQ(sys.scheduler(0).process->pid(), scheduler_pid);
  EXPECT_EQ(sys.worker(0).process->pid(), worker_pid);
  EXPECT_TRUE(sys.scheduler(0).process->running());
  EXPECT_TRUE(sys.worker(0).process->running());
}

// What a client sees of a primary demoted under it: pg_auto_failover fences a node read-only
// (default_transaction_read_only) while it promotes the other. Two independent servers stand in
// for the pair; the first is fenced with a pooled connection open on it.
TEST(FailoverPoolTest, DemotedNodeRefusesWritesAndTheRetryFindsThePrimary) {
  auto a = PgCluster::Start();
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = PgCluster::Start();
  ASSERT_TRUE(b.ok()) << b.status();
  for (PgCluster* c : {a->get(), b->get()}) {
    pqxx::connection conn(c->UrlFor("postgres"));
    pqxx::work tx(conn);
    tx.exec("CREATE TABLE probe (node text)");
    tx.commit();
  }
  const std::string url =
      absl::StrCat("postgresql://postgres@127.0.0.1:", (*a)->port(), ",127.0.0.1:", (*b)->port(),
                   "/postgres?target_session_attrs=read-write");
  auto pool = common::PgPool::Create({.url = url, .size = 2});
  ASSERT_TRUE(pool.ok()) << pool.status();
  const auto write = [&] {
    return (*pool)->Run([](pqxx::connection_base& c) {
      pqxx::work tx(c);
      tx.exec("INSERT INTO probe VALUES (current_setting('port'))");
      tx.commit();
      return absl::OkStatus();
    });
  };
  ASSERT_TRUE(write().ok());
  ASSERT_TRUE((*pool)->Ping().ok());
  {
    pqxx::connection conn((*a)->UrlFor("postgres"));
    pqxx::nontransaction tx(conn);
    tx.exec("ALTER SYSTEM SET default_transaction_read_only = on");
    tx.exec("SELECT pg_reload_conf()");
  }
  // The reload reaches the pooled connection's backend a moment later (it is a signal): the
  // first write refused must be UNAVAILABLE, and it must come.
  absl::Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    refused = write();
    if (refused.ok()) absl::SleepFor(absl::Milliseconds(50));  // the signal has no event to wait on
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("read-only"));
  // The retry connects afresh; libpq passes over the read-only server.
  EXPECT_TRUE(write().ok());
  EXPECT_TRUE((*pool)->Ping().ok());
  pqxx::connection conn_b((*b)->UrlFor("postgres"));
  pqxx::read_transaction tx(conn_b);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM probe")[0][0].as<int>(), 1) << "one write on b";
  // A URL whose every host is read-only: readiness is UNAVAILABLE, with libpq's reason.
  auto fenced = common::PgPool::Create(
      {.url = absl::StrCat((*a)->UrlFor("postgres"), "?target_session_attrs=read-write")});
  ASSERT_TRUE(fenced.ok());
  const absl::Status ping = (*fenced)->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  EXPECT_THAT(std::string(ping.message()), HasSubstr("read-only"));
  // Without target_session_attrs the pool reaches it, and the readiness check still refuses it.
  auto plain = common::PgPool::Create({.url = (*a)->UrlFor("postgres")});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Ping().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace autosync::testing
