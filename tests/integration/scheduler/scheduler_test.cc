// scheduler-service end to end: the real binary (one or two replicas against one database), a
// real sync-worker and store-sim. Registry CRUD and validation, manual triggers streamed through
// WatchStore, coalescing, cron fires (run, skip when fresh), one claim per tick across replicas,
// reaping a run whose owner was SIGKILLed, and progress relayed between replicas.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/tick_group.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/store_sim.h"
#include "tests/support/store_watcher.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr char kStore[] = "shop";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// A running scheduler-service.
struct Replica {
  std::unique_ptr<ChildProcess> process;
  std::string target;
  int metrics_port = 0;
  std::unique_ptr<v1::Scheduler::Stub> stub;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_url_ = FreshDatabaseUrl();
    ASSERT_FALSE(db_url_.empty());
    auto sim = StoreSim::Start({absl::StrCat("--stores=", kStore, ":3000,other:200,slow:3000"),
                                "--leak_per_second=0", "--seed=7"});
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    // The scheduler migrates the database; the worker needs the tables, so it starts after.
    replicas_.push_back(StartScheduler("a"));
    ASSERT_NE(replicas_[0].stub, nullptr);
    const int port = worker_port_;
    auto worker =
        ChildProcess::Start(BinaryPath("sync-worker"),
                            {.args = {"--database_url=" + db_url_, "--insecure_grpc",
                                      absl::StrCat("--listen=127.0.0.1:", port),
                                      "--metrics_listen=127.0.0.1:0", "--max_concurrent_syncs=8"},
                             .env = {{"SIM_TOKEN", "sim-token"}}});
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = std::move(*worker);
    ASSERT_TRUE(WaitForServing(absl::StrCat("127.0.0.1:", port), absl::Seconds(20)).ok())
        << worker_->Output();
  }

  Replica StartScheduler(const std::string& name, std::vector<std::string> extra = {}) {
    if (worker_port_ == 0) worker_port_ = FreePort();
    Replica r;
    const int port = FreePort();
    r.metrics_port = FreePort();
    std::vector<std::string> args = {"--database_url=" + db_url_,
                                     "--insecure_grpc",
                                     absl::StrCat("--listen=127.0.0.1:", port),
                                     absl::StrCat("--metrics_listen=127.0.0.1:", r.metrics_port),
                                     "--replica_id=" + name,
                                     absl::StrCat("--worker_target=127.0.0.1:", worker_port_),
                                     "--run_stale_seconds=3",
                                     "--schedule_refresh_seconds=2"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = ChildProcess::Start(BinaryPath("scheduler-service"), {.args = args});
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return r;
    r.process = std::move(*p);
    r.target = absl::StrCat("127.0.0.1:", port);
    if (!WaitForServing(r.target, absl::Seconds(20)).ok()) {
      ADD_FAILURE() << r.process->Output();
      return r;
    }
    r.stub =
        v1::Scheduler::NewStub(grpc::CreateChannel(r.target, grpc::InsecureChannelCredentials()));
    return r;
  }

  v1::Scheduler::Stub& A() { return *replicas_[0].stub; }

  v1::Store StoreFor(const std::string& id, const std::string& schedule = "0 0 1 1 *") {
    v1::Store s;
    s.set_store_id(id);
    s.set_display_name("Store " + id);
    s.set_schedule(schedule);
    s.set_timezone("America/New_York");
    s.set_enabled(true);
    s.set_orders_api_base(sim_->orders_base(id));
    s.set_ads_api_base(sim_->base_url());
    s.set_ad_account_id(id);
    s.set_credentials_ref("env:SIM_TOKEN");
    return s;
  }

  grpc::Status Upsert(v1::Scheduler::Stub& stub, const v1::Store& store,
                      v1::UpsertStoreResponse* out = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::UpsertStoreRequest req;
    *req.mutable_store() = store;
    v1::UpsertStoreResponse resp;
    grpc::Status s = stub.UpsertStore(&ctx, req, &resp);
    if (out != nullptr) *out = resp;
    return s;
  }

  grpc::Status Trigger(v1::Scheduler::Stub& stub, const std::string& id,
                       v1::TriggerSyncResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::TriggerSyncRequest req;
    req.set_store_id(id);
    req.set_trigger(v1::TRIGGER_MANUAL);
    return stub.TriggerSync(&ctx, req, out);
  }

  absl::StatusOr<v1::SyncStatus> Status(v1::Scheduler::Stub& stub, const std::string& id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::GetSyncStatusRequest req;
    req.set_store_id(id);
    v1::GetSyncStatusResponse resp;
    grpc::Status s = stub.GetSyncStatus(&ctx, req, &resp);
    if (!s.ok()) return absl::UnknownError(s.error_message());
    return resp.status();
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    return tx.exec(sql)[0][0].as<int64_t>();
  }
  void Exec(const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
  }

  std::string db_url_;
  std::unique_ptr<StoreSim> sim_;
  std::unique_ptr<ChildProcess> worker_;
  int worker_port_ = 0;
  std::vector<Replica> replicas_;
};

TEST_F(SchedulerTest, ServesTheSchedulerApiWithReflection) {
  auto services = ListServices(replicas_[0].target);
  ASSERT_TRUE(services.ok());
  EXPECT_THAT(*services, ::testing::Contains("autosync.v1.Scheduler"));
}

TEST_F(SchedulerTest, RegistryCrudAndValidation) {
  v1::UpsertStoreResponse created;
  v1::Store store = StoreFor(kStore);
  store.set_schedule("");  // the default
  ASSERT_TRUE(Upsert(A(), store, &created).ok());
  EXPECT_TRUE(created.created());
  EXPECT_EQ(created.store().schedule(), "0 * * * *");
  EXPECT_EQ(created.store().staleness_seconds(), 3600);
  EXPECT_TRUE(created.store().has_created_at());

  store.set_display_name("Renamed");
  v1::UpsertStoreResponse updated;
  ASSERT_TRUE(Upsert(A(), store, &updated).ok());
  EXPECT_FALSE(updated.created());
  EXPECT_EQ(updated.store().display_name(), "Renamed");

  // Bad cron: INVALID_ARGUMENT naming the field and the token; nothing written.
  v1::Store bad = StoreFor(kStore, "0 25 * * *");
  bad.set_display_name("Should not be written");
  grpc::Status s = Upsert(A(), bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("schedule"));
  EXPECT_THAT(s.error_message(), HasSubstr("\"25\""));
  struct Case {
    void (*mutate)(v1::Store&);
    const char* field;
  };
  const Case cases[] = {
      {[](v1::Store& x) { x.set_store_id("Bad/Id"); }, "store_id"},
      {[](v1::Store& x) { x.set_timezone("Mars/Base"); }, "timezone"},
      {[](v1::Store& x) { x.set_schedule("0 0 30 2 *"); }, "schedule"},
      {[](v1::Store& x) { x.set_jitter_seconds(7200); }, "jitter_seconds"},
      {[](v1::Store& x) { x.set_staleness_seconds(-5); }, "staleness_seconds"},
      {[](v1::Store& x) { x.set_orders_api_base("file:///etc/passwd"); }, "orders_api_base"},
      {[](v1::Store& x) { x.set_credentials_ref("supersecret-token"); }, "credentials_ref"},
  };
  for (const Case& c : cases) {
    v1::Store x = StoreFor(kStore);
    c.mutate(x);
    s = Upsert(A(), x);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(s.error_message(), HasSubstr(c.field));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("supersecret")));
  }
  {
    grpc::ClientContext ctx;
    v1::GetStoreRequest req;
    req.set_store_id(kStore);
    v1::Store got;
    ASSERT_TRUE(A().GetStore(&ctx, req, &got).ok());
    EXPECT_EQ(got.display_name(), "Renamed");
    EXPECT_EQ(got.credentials_ref(), "env:SIM_TOKEN");
  }
  // Paging.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Upsert(A(), StoreFor("p" + std::to_string(i))).ok());
  std::vector<std::string> ids;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    grpc::ClientContext ctx;
    v1::ListStoresRequest req;
    req.set_page_size(2);
    req.set_page_token(token);
    v1::ListStoresResponse resp;
    ASSERT_TRUE(A().ListStores(&ctx, req, &resp).ok());
    for (const auto& st : resp.stores()) ids.push_back(st.store_id());
    token = resp.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("p0", "p1", "p2", "p3", "p4", "shop"));
  {
    grpc::ClientContext ctx;
    v1::ListStoresRequest req;
    req.set_page_token("!!garbage!!");
    v1::ListStoresResponse resp;
    EXPECT_EQ(A().ListStores(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Delete: every row of the store goes, once.
  Exec(
      "INSERT INTO orders (store_id, order_id, created_at, updated_at) VALUES ('p0', 1, now(), "
      "now())");
  {
    grpc::ClientContext ctx;
    v1::DeleteStoreRequest req;
    req.set_store_id("p0");
    v1::DeleteStoreResponse resp;
    ASSERT_TRUE(A().DeleteStore(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM orders WHERE store_id = 'p0'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM stores WHERE store_id = 'p0'"), 0);
  {
    grpc::ClientContext ctx;
    v1::DeleteStoreRequest req;
    req.set_store_id("p0");
    v1::DeleteStoreResponse resp;
    EXPECT_EQ(A().DeleteStore(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Preview writes nothing and answers local times.
  {
    grpc::ClientContext ctx;
    v1::PreviewScheduleRequest req;
    req.set_schedule("*/15 * * * *");
    req.set_timezone("Europe/London");
    req.set_count(3);
    v1::PreviewScheduleResponse resp;
    ASSERT_TRUE(A().PreviewSchedule(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.fires_size(), 3);
  }
}

TEST_F(SchedulerTest, ManualTriggerStreamsThroughWatchStoreAndCoalesces) {
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore)).ok());
  ASSERT_TRUE(sim_->SetFaults(R"({"latency_ms":150})").ok());
  Watcher watcher(A(), kStore);
  ASSERT_TRUE(
      watcher.WaitFor([](const v1::WatchEvent& e) { return e.has_status(); }, absl::Seconds(10)));
  EXPECT_TRUE(watcher.events().front().has_status());

  v1::TriggerSyncResponse first;
  ASSERT_TRUE(Trigger(A(), kStore, &first).ok());
  EXPECT_TRUE(first.started());
  v1::TriggerSyncResponse second;
  ASSERT_TRUE(Trigger(A(), kStore, &second).ok());
  EXPECT_FALSE(second.started());
  EXPECT_EQ(second.run_id(), first.run_id());
  auto status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  // Queued until the dispatcher hands it to the worker's free slot, then syncing.
  EXPECT_TRUE(status->is_syncing() || status->queued());
  EXPECT_EQ(status->is_syncing() ? status->current_run().run_id() : status->queued_run().run_id(),
            first.run_id());

  auto done = watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == first.run_id();
      },
      absl::Seconds(90));
  ASSERT_TRUE(done.has_value()) << replicas_[0].process->Output();
  // Queued first (position 1: nothing else waits), then the stages in order, then a status
  // that says the run is over.
  std::vector<int> stages;
  for (const auto& e : watcher.events()) {
    if (e.has_progress() && e.progress().run_id() == first.run_id()) {
      stages.push_back(e.progress().stage());
      if (e.progress().stage() == v1::STAGE_QUEUED) {
        EXPECT_EQ(e.progress().queue_position(), 1);
        EXPECT_EQ(e.progress().trigger(), v1::TRIGGER_MANUAL);
      }
    }
  }
  ASSERT_GE(stages.size(), 3u);
  EXPECT_EQ(stages.front(), v1::STAGE_QUEUED);
  EXPECT_TRUE(std::is_sorted(stages.begin() + 1, stages.end()));
  EXPECT_EQ(stages[1], v1::STAGE_STARTING);
  EXPECT_TRUE(watcher.WaitFor(
      [](const v1::WatchEvent& e) {
        return e.has_status() && !e.status().is_syncing() && e.status().has_last_success_time();
      },
      absl::Seconds(10)));
  status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->is_syncing());
  EXPECT_EQ(status->last_run().run_id(), first.run_id());
  EXPECT_EQ(status->last_run().status(), "completed");
  EXPECT_GT(status->last_run().counts().orders_written(), 0);
  EXPECT_TRUE(status->has_next_fire_time());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status = 'completed'"), 1);

  // ListRuns and LTV answer from the same data.
  grpc::ClientContext ctx;
  v1::ListRunsRequest lr;
  lr.set_store_id(kStore);
  v1::ListRunsResponse runs;
  ASSERT_TRUE(A().ListRuns(&ctx, lr, &runs).ok());
  ASSERT_EQ(runs.runs_size(), 1);
  EXPECT_EQ(runs.runs(0).trigger(), v1::TRIGGER_MANUAL);
  grpc::ClientContext ctx2;
  v1::GetLtvCohortsRequest ltv_req;
  ltv_req.set_store_id(kStore);
  v1::GetLtvCohortsResponse ltv;
  ASSERT_TRUE(A().GetLtvCohorts(&ctx2, ltv_req, &ltv).ok());
  EXPECT_GT(ltv.cohorts_size(), 0);
  EXPECT_FALSE(ltv.currency().empty());

  // The per-store freshness gauges (behind the staleness alert) follow within a refresh.
  const std::string metrics_url =
      absl::StrCat("http://127.0.0.1:", replicas_[0].metrics_port, "/metrics");
  const std::string threshold_line = absl::StrCat(
      "autosync_scheduler_store_staleness_threshold_seconds{store=\"", kStore, "\"} 3600");
  const std::string never_line = absl::StrCat(
      "autosync_scheduler_store_last_success_timestamp_seconds{store=\"", kStore, "\"} 0");
  absl::StatusOr<HttpResult> metrics = HttpGet(metrics_url);
  const absl::Time metrics_deadline = absl::Now() + absl::Seconds(15);
  while (metrics.ok() &&
         (metrics->body.find(threshold_line) == std::string::npos ||
          metrics->body.find(never_line) != std::string::npos) &&
         absl::Now() < metrics_deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    metrics = HttpGet(metrics_url);
  }
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr(threshold_line));
  EXPECT_THAT(metrics->body, HasSubstr(absl::StrCat(
                                 "autosync_scheduler_store_last_success_timestamp_seconds{store=\"",
                                 kStore, "\"} 1")));  // a unix time: 1.7e9…

  // Bad requests.
  v1::TriggerSyncResponse r;
  EXPECT_EQ(Trigger(A(), "nope", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Trigger(A(), "Bad Id", &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The minute refresh (here every 2 s) reads every schedule again only when a store changed; in
// between it reads only the runs completed since the last look, and the freshness gauges follow.
TEST_F(SchedulerTest, RefreshReloadsSchedulesOnlyWhenAStoreChanged) {
  const int port = replicas_[0].metrics_port;
  auto value = [&](const std::string& series) {
    absl::StatusOr<MetricValues> m = ScrapeMetrics(port);
    return m.ok() ? SeriesValue(*m, series) : -1.0;
  };
  const std::string reloaded = "autosync_scheduler_schedule_refreshes_total{outcome=\"reloaded\"}";
  const std::string unchanged =
      "autosync_scheduler_schedule_refreshes_total{outcome=\"unchanged\"}";
  // Polls a series until `pred` holds, bounded by the deadline.
  auto wait = [&](const std::string& series, auto pred) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    double v = value(series);
    while (!pred(v) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      v = value(series);
    }
    return v;
  };
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore)).ok());
  // The upsert moved the stores version: one refresh reloads, the ones after find no change.
  const double u0 = wait(unchanged, [](double) { return true; });
  ASSERT_GE(wait(unchanged, [&](double v) { return v >= u0 + 2; }), u0 + 2);
  const double r0 = value(reloaded);
  ASSERT_GE(r0, 1);

  // A run completes: its store's last-success gauge moves without a reload.
  v1::TriggerSyncResponse run;
  ASSERT_TRUE(Trigger(A(), kStore, &run).ok());
  const std::string success_series = absl::StrCat(
      "autosync_scheduler_store_last_success_timestamp_seconds{store=\"", kStore, "\"}");
  const double finished = wait(success_series, [](double v) { return v > 0; });
  ASSERT_GT(finished, 0) << replicas_[0].process->Output();
  EXPECT_NEAR(finished,
              static_cast<double>(Scalar(absl::StrCat(
                  "SELECT extract(epoch FROM finished_at)::bigint FROM sync_runs WHERE run_id = '",
                  run.run_id(), "'"))),
              1.0);
  EXPECT_EQ(value(reloaded), r0);

  // A store written straight into the database (no notification reaches the replica) is
  // scheduled by the next refresh, which reloads because the version moved.
  EXPECT_EQ(value("autosync_scheduler_scheduled_stores"), 1);
  Exec(absl::StrCat(
      "INSERT INTO stores (store_id, display_name, schedule, timezone, enabled, orders_api_base, "
      "ads_api_base, ad_account_id, credentials_ref) SELECT 'twin', display_name, schedule, "
      "timezone, enabled, orders_api_base, ads_api_base, ad_account_id, credentials_ref "
      "FROM stores WHERE store_id = '",
      kStore, "'"));
  EXPECT_EQ(wait("autosync_scheduler_scheduled_stores", [](double v) { return v == 2; }), 2);
  EXPECT_GT(value(reloaded), r0);
}

TEST_F(SchedulerTest, PerMinuteStoreSyncsOnItsOwnThenSkipsWhileFresh) {
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore, "* * * * *")).ok());
  Watcher watcher(A(), kStore);
  // The next minute boundary fires a cron run (the store has never synced)...
  auto completed = watcher.WaitFor(
      [](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().trigger() == v1::TRIGGER_CRON;
      },
      absl::Seconds(100));
  ASSERT_TRUE(completed.has_value()) << replicas_[0].process->Output();
  // ...and the one after finds the data fresh (default staleness 1 h) and skips.
  auto skipped = watcher.WaitFor(
      [](const v1::WatchEvent& e) { return IsProgress(e, v1::STAGE_SKIPPED); }, absl::Seconds(100));
  ASSERT_TRUE(skipped.has_value());
  EXPECT_THAT(skipped->progress().message(), HasSubstr("fresh"));
  // A skip is counted on the store, not written as a run: history holds the one cron run.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 1);
  EXPECT_EQ(
      Scalar(absl::StrCat("SELECT skipped_fires FROM tick_claims WHERE store_id = '", kStore, "'")),
      1);
  auto status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->skipped_fires(), 1);
  EXPECT_THAT(status->last_skip_reason(), HasSubstr("fresh"));
  EXPECT_TRUE(status->has_last_skip_time());
}

// A schedule per data type: orders every minute, ads every other minute, each stale after a
// second. Each cron run syncs the types due at its minute (orders alone at odd minutes, orders
// and ads at even ones, and both at the first run, when neither has synced yet), and its events,
// history and counts say which.
TEST_F(SchedulerTest, EachFireSyncsTheDataTypesDueAtItsMinute) {
  v1::Store store = StoreFor(kStore, "* * * * *");
  store.set_ads_schedule("*/2 * * * *");
  store.set_staleness_seconds(1);
  store.set_ads_staleness_seconds(1);
  store.set_timezone("UTC");
  ASSERT_TRUE(Upsert(A(), store).ok());
  auto status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->has_cron_job());
  EXPECT_EQ(status->ads_schedule(), "*/2 * * * *");
  // The next orders fire is the next minute; the next ads fire the next even minute.
  const int64_t next_orders = status->next_orders_fire_time().seconds();
  const int64_t next_ads = status->next_ads_fire_time().seconds();
  EXPECT_EQ(next_orders % 60, 0);
  EXPECT_EQ(next_ads % 120, 0);
  EXPECT_TRUE(next_ads == next_orders || next_ads == next_orders + 60);
  EXPECT_EQ(status->next_fire_time().seconds(), next_orders);

  Watcher watcher(A(), kStore);
  // Three runs: at least one of each kind of minute.
  const bool three = watcher.WaitForCount(
      [](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().trigger() == v1::TRIGGER_CRON;
      },
      3, absl::Seconds(240));
  ASSERT_TRUE(three) << replicas_[0].process->Output();
  // Per run: the types its STARTING event named, and whether an ADS stage event came.
  std::map<std::string, std::vector<std::string>> started_types;
  std::set<std::string> ads_stage;
  for (const v1::WatchEvent& e : watcher.events()) {
    if (!e.has_progress()) continue;
    EXPECT_NE(e.progress().stage(), v1::STAGE_FAILED) << e.progress().error();
    if (e.progress().stage() == v1::STAGE_STARTING) {
      started_types[e.progress().run_id()] = {e.progress().data_types().begin(),
                                              e.progress().data_types().end()};
    }
    if (e.progress().stage() == v1::STAGE_ADS) ads_stage.insert(e.progress().run_id());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::ListRunsRequest req;
  req.set_store_id(kStore);
  v1::ListRunsResponse runs;
  ASSERT_TRUE(A().ListRuns(&ctx, req, &runs).ok());
  // Oldest first: a type that never synced is due at every fire, so the store's first run syncs
  // both whatever its minute; after that, odd minutes sync orders alone.
  std::vector<v1::Run> history(runs.runs().begin(), runs.runs().end());
  std::reverse(history.begin(), history.end());
  bool ads_synced = false;
  int orders_only = 0;
  int both = 0;
  for (const v1::Run& run : history) {
    if (run.trigger() != v1::TRIGGER_CRON || run.status() != "completed") continue;
    const bool even_minute = (run.scheduled_for().seconds() / 60) % 2 == 0;
    const std::vector<std::string> types(run.data_types().begin(), run.data_types().end());
    if (even_minute || !ads_synced) {
      ++both;
      EXPECT_EQ(types, (std::vector<std::string>{"orders", "ads"})) << run.run_id();
      EXPECT_TRUE(ads_stage.contains(run.run_id())) << run.run_id();
    } else {
      ++orders_only;
      EXPECT_EQ(types, std::vector<std::string>{"orders"}) << run.run_id();
      EXPECT_FALSE(ads_stage.contains(run.run_id())) << run.run_id();
      EXPECT_EQ(run.counts().ads_fetched(), 0) << run.run_id();
    }
    ads_synced = true;
    // The events said the same as the history.
    EXPECT_EQ(started_types[run.run_id()], types) << run.run_id();
    EXPECT_GT(run.counts().cohort_rows(), 0) << run.run_id();
  }
  EXPECT_GE(orders_only, 1);
  EXPECT_GE(both, 1);
}

// Another replica won the store's tick group for the next boundary and never recorded its
// ticks (it stopped in between, or did not know the store yet): this replica, having lost the
// group claim, checks its lost ticks after the grace, finds this one unrecorded and records and
// runs it itself, so the tick still happens once.
TEST_F(SchedulerTest, TickOfAGroupWonByAVanishedReplicaIsRecordedAndRunByTheLoser) {
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore, "* * * * *")).ok());
  Watcher watcher(A(), kStore);
  // The next boundary, far enough ahead that the claim row below is in place before it.
  int64_t boundary = (absl::ToUnixSeconds(absl::Now()) / 60 + 1) * 60;
  if (boundary - absl::ToUnixSeconds(absl::Now()) < 3) boundary += 60;
  Exec(absl::StrCat(
      "INSERT INTO tick_group_claims (group_id, boundary, owner, claimed_at) "
      "VALUES (",
      scheduler::TickGroupOf(kStore), ", to_timestamp(", boundary, "), 'replica-gone', now())"));
  auto completed = watcher.WaitFor(
      [](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().trigger() == v1::TRIGGER_CRON;
      },
      absl::Seconds(130));
  ASSERT_TRUE(completed.has_value()) << replicas_[0].process->Output();
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM sync_runs WHERE run_id = '",
                                completed->progress().run_id(),
                                "' AND trigger = 'cron' AND owner = 'a' AND status = 'completed' "
                                "AND scheduled_for = to_timestamp(",
                                boundary, ")")),
            1);
  // Once: the store's tick for that boundary is recorded by this replica alone.
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM sync_runs WHERE scheduled_for = "
                                "to_timestamp(",
                                boundary, ")")),
            1);
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", replicas_[0].metrics_port, "/metrics"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(metrics->body, HasSubstr("autosync_scheduler_fires_total{outcome=\"recovered\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("autosync_scheduler_fires_total{outcome=\"lost\"} 1"));
}

TEST_F(SchedulerTest, TwoReplicasFireEachTickOnceFor50Stores) {
  replicas_.push_back(StartScheduler("b"));
  ASSERT_NE(replicas_[1].stub, nullptr);
  // Registered paused, made fresh, then enabled: every fire from then on is a skip (no worker
  // load), counted once per store and tick on the store's claim row.
  for (int i = 0; i < 50; ++i) {
    v1::Store store = StoreFor(absl::StrCat("s", i), "* * * * *");
    store.set_enabled(false);
    ASSERT_TRUE(Upsert(i % 2 ? A() : *replicas_[1].stub, store).ok());
  }
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
      "SELECT 'seed-' || store_id, store_id, 'api', 'completed', 'completed', now() "
      "FROM stores");
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        Upsert(i % 2 ? A() : *replicas_[1].stub, StoreFor(absl::StrCat("s", i), "* * * * *")).ok());
  }
  // Wait for one whole tick of all 50 stores (the next minute boundary), then look at once:
  // the tick after is a minute away.
  const std::string full_tick =
      "SELECT count(*) FROM tick_claims WHERE recorded_at IS NOT NULL AND skipped_fires >= 1";
  const absl::Time deadline = absl::Now() + absl::Seconds(100);
  while (absl::Now() < deadline && Scalar(full_tick) < 50) {
    absl::SleepFor(absl::Milliseconds(200));  // polling the database, bounded by the deadline
  }
  ASSERT_EQ(Scalar(full_tick), 50);
  // Exactly once per store and tick: one boundary, each store counted once for it.
  EXPECT_EQ(Scalar("SELECT count(DISTINCT boundary) FROM tick_claims"), 1);
  EXPECT_EQ(Scalar("SELECT max(skipped_fires) FROM tick_claims"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 0);
  // Both replicas fired: each settled (won or lost) at least the 25 stores upserted through
  // it. Which one wins a tick is a race (ReplicasTest), so the split is not asserted.
  for (const Replica& r : replicas_) {
    const auto settled = [&] {
      absl::StatusOr<MetricValues> m = ScrapeMetrics(r.metrics_port);
      if (!m.ok()) return -1.0;
      return SeriesValue(*m, "autosync_scheduler_fires_total{outcome=\"skipped\"}") +
             SeriesValue(*m, "autosync_scheduler_fires_total{outcome=\"lost\"}");
    };
    const absl::Time settle_deadline = absl::Now() + absl::Seconds(10);
    while (settled() < 25 && absl::Now() < settle_deadline) {
      absl::SleepFor(absl::Milliseconds(100));  // polling a counter, bounded by the deadline
    }
    EXPECT_GE(settled(), 25) << r.target;
  }
}

TEST_F(SchedulerTest, KilledOwnerIsReapedAndTheStoreRunsAgain) {
  replicas_.push_back(StartScheduler("b"));
  ASSERT_NE(replicas_[1].stub, nullptr);
  ASSERT_TRUE(Upsert(A(), StoreFor("slow")).ok());
  ASSERT_TRUE(sim_->SetFaults(R"({"latency_ms":1500})").ok());
  Watcher watcher(*replicas_[1].stub, "slow");
  v1::TriggerSyncResponse run;
  ASSERT_TRUE(Trigger(A(), "slow", &run).ok());
  ASSERT_TRUE(run.started());
  // Replica B sees A's progress (relayed through the database).
  ASSERT_TRUE(watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_STARTING) && e.progress().run_id() == run.run_id();
      },
      absl::Seconds(20)));
  replicas_[0].process->Signal(SIGKILL);
  ASSERT_TRUE(replicas_[0].process->Wait(absl::Seconds(5)).ok());
  // B marks it failed once its heartbeat is older than 3 s, and tells its watchers.
  auto failed = watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_FAILED) && e.progress().run_id() == run.run_id();
      },
      absl::Seconds(30));
  ASSERT_TRUE(failed.has_value()) << replicas_[1].process->Output();
  EXPECT_THAT(failed->progress().error(), HasSubstr("heartbeat"));
  auto status = Status(*replicas_[1].stub, "slow");
  ASSERT_TRUE(status.ok());
  // The reaped run is over; the follow-up B queued may already be executing (its own run id).
  if (status->is_syncing()) {
    EXPECT_NE(status->current_run().run_id(), run.run_id());
  }
  EXPECT_EQ(status->last_run().run_id(), run.run_id());
  EXPECT_EQ(status->last_run().status(), "failed");
  EXPECT_THAT(status->last_error(), HasSubstr("heartbeat"));
  // Nothing lost: B queued a new run (attempt 2) of the store right after reaping, so a
  // trigger now coalesces with it, and it completes.
  ASSERT_TRUE(sim_->ClearFaults().ok());
  v1::TriggerSyncResponse again;
  ASSERT_TRUE(Trigger(*replicas_[1].stub, "slow", &again).ok());
  EXPECT_NE(again.run_id(), run.run_id());
  EXPECT_EQ(
      Scalar(absl::StrCat("SELECT attempt FROM sync_runs WHERE run_id = '", again.run_id(), "'")),
      2);
  EXPECT_TRUE(watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == again.run_id();
      },
      absl::Seconds(90)));
}

TEST_F(SchedulerTest, WatcherOnReplicaBSeesARunDrivenByReplicaA) {
  replicas_.push_back(StartScheduler("b"));
  ASSERT_NE(replicas_[1].stub, nullptr);
  ASSERT_TRUE(Upsert(A(), StoreFor("other")).ok());
  Watcher on_b(*replicas_[1].stub, "other");
  ASSERT_TRUE(
      on_b.WaitFor([](const v1::WatchEvent& e) { return e.has_status(); }, absl::Seconds(10)));
  v1::TriggerSyncResponse run;
  ASSERT_TRUE(Trigger(A(), "other", &run).ok());
  auto done = on_b.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == run.run_id();
      },
      absl::Seconds(60));
  ASSERT_TRUE(done.has_value());
  std::set<int> stages;
  for (const auto& e : on_b.events()) {
    if (e.has_progress()) stages.insert(e.progress().stage());
  }
  EXPECT_TRUE(stages.count(v1::STAGE_STARTING) && stages.count(v1::STAGE_ORDERS) &&
              stages.count(v1::STAGE_LTV));
}

// The replica driving a run delivers its events to its own watchers directly and to other
// replicas' through NOTIFY; the echo of its own NOTIFY is dropped, so each watcher sees each
// event once, in the same order. Barrier: a second run driven by B reaches A only through
// NOTIFY, after every echo of the first run (the queue is in commit order).
TEST_F(SchedulerTest, EachWatcherSeesEachEventOnceOnEitherReplica) {
  replicas_.push_back(StartScheduler("b"));
  ASSERT_NE(replicas_[1].stub, nullptr);
  ASSERT_TRUE(Upsert(A(), StoreFor("other")).ok());
  Watcher on_a(A(), "other");
  Watcher on_b(*replicas_[1].stub, "other");
  for (Watcher* w : {&on_a, &on_b}) {
    ASSERT_TRUE(
        w->WaitFor([](const v1::WatchEvent& e) { return e.has_status(); }, absl::Seconds(10)));
  }
  v1::TriggerSyncResponse first;
  ASSERT_TRUE(Trigger(A(), "other", &first).ok());
  ASSERT_TRUE(first.started());
  auto completed = [](const std::string& run_id) {
    return [run_id](const v1::WatchEvent& e) {
      return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == run_id;
    };
  };
  ASSERT_TRUE(on_a.WaitFor(completed(first.run_id()), absl::Seconds(60)));
  v1::TriggerSyncResponse second;
  ASSERT_TRUE(Trigger(*replicas_[1].stub, "other", &second).ok());
  ASSERT_TRUE(second.started());
  for (Watcher* w : {&on_a, &on_b}) {
    ASSERT_TRUE(w->WaitFor(completed(second.run_id()), absl::Seconds(60)));
  }
  auto progress_of = [](Watcher& w, const std::string& run_id) {
    std::vector<std::string> out;
    for (const auto& e : w.events()) {
      if (e.has_progress() && e.progress().run_id() == run_id) {
        out.push_back(e.progress().SerializeAsString());
      }
    }
    return out;
  };
  for (const std::string& run_id : {first.run_id(), second.run_id()}) {
    SCOPED_TRACE(run_id);
    const std::vector<std::string> a = progress_of(on_a, run_id);
    const std::vector<std::string> b = progress_of(on_b, run_id);
    EXPECT_GE(a.size(), 4u);  // starting, orders, ads, ltv, completed at least
    EXPECT_EQ(a, b);
    EXPECT_EQ(std::set<std::string>(a.begin(), a.end()).size(), a.size());
  }
}

TEST_F(SchedulerTest, WatchStoreRefusesBadAndUnknownStores) {
  Watcher bad(A(), "Bad Id");
  Watcher unknown(A(), "nosuch");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && (!bad.status() || !unknown.status())) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(bad.status() && unknown.status());
  EXPECT_EQ(bad.status()->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(unknown.status()->error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SchedulerTest, ReportConnectionsCountsInStatus) {
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore)).ok());
  Watcher watcher(A(), kStore);
  auto report = [&](const char* gw, int connections) {
    grpc::ClientContext ctx;
    v1::ReportConnectionsRequest req;
    req.set_gateway_id(gw);
    if (connections > 0) {
      auto* s = req.add_stores();
      s->set_store_id(kStore);
      s->set_connections(connections);
    }
    v1::ReportConnectionsResponse resp;
    return A().ReportConnections(&ctx, req, &resp);
  };
  auto status_with = [](int n) {
    return [n](const v1::WatchEvent& e) {
      return e.has_status() && e.status().active_connections() == n;
    };
  };
  // Each change of the count reaches the watchers as a status (syncStatus) at once.
  ASSERT_TRUE(report("gw-1", 2).ok());
  EXPECT_TRUE(watcher.WaitFor(status_with(2), absl::Seconds(10)).has_value()) << watcher.text();
  ASSERT_TRUE(report("gw-2", 2).ok());
  EXPECT_TRUE(watcher.WaitFor(status_with(4), absl::Seconds(10)).has_value()) << watcher.text();
  auto status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->active_connections(), 4);
  // The same table again changes nothing and publishes nothing; a gateway whose clients left
  // brings the count down.
  const size_t statuses = watcher.events().size();
  ASSERT_TRUE(report("gw-2", 2).ok());
  ASSERT_TRUE(report("gw-1", 0).ok());
  EXPECT_TRUE(watcher.WaitFor(status_with(2), absl::Seconds(10)).has_value()) << watcher.text();
  int fours = 0;
  for (const auto& e : watcher.events()) fours += status_with(4)(e) ? 1 : 0;
  EXPECT_EQ(fours, 1) << "the unchanged report published a status: " << statuses;
  grpc::ClientContext ctx;
  v1::ReportConnectionsRequest bad;
  bad.set_gateway_id("gw");
  bad.add_stores()->set_store_id("Bad Id");
  v1::ReportConnectionsResponse resp;
  EXPECT_EQ(A().ReportConnections(&ctx, bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A backfill over gRPC: validated naming the field, queued as an orders-only run of low priority
// that carries its days (run_queue_test: never merged into a run already queued or in flight).
TEST_F(SchedulerTest, BackfillIsAnOrdersRunOfItsDaysAtTheBackOfTheQueue) {
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore)).ok());
  auto backfill = [&](const std::string& from, const std::string& to,
                      v1::TriggerSyncResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::TriggerSyncRequest req;
    req.set_store_id(kStore);
    req.set_trigger(v1::TRIGGER_MANUAL);
    req.set_backfill_from(from);
    req.set_backfill_to(to);
    return A().TriggerSync(&ctx, req, out);
  };
  v1::TriggerSyncResponse resp;
  grpc::Status bad = backfill("2024-03-01", "2024-02-01", &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("backfill_to: is before backfill_from"));
  EXPECT_EQ(backfill("2024-02-01", "", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs"), 0);

  Watcher watcher(A(), kStore);
  ASSERT_TRUE(backfill("2026-01-01", "2026-01-31", &resp).ok());
  ASSERT_TRUE(resp.started());
  const std::string run_id = resp.run_id();
  EXPECT_THAT(resp.message(), HasSubstr("backfill"));
  auto done = watcher.WaitFor(
      [&](const v1::WatchEvent& e) {
        return IsProgress(e, v1::STAGE_COMPLETED) && e.progress().run_id() == run_id;
      },
      absl::Seconds(60));
  ASSERT_TRUE(done.has_value()) << watcher.text();
  EXPECT_EQ(Scalar(absl::StrCat("SELECT priority FROM sync_runs WHERE run_id = '", run_id, "'")),
            2);
  grpc::ClientContext ctx;
  v1::ListRunsRequest req;
  req.set_store_id(kStore);
  v1::ListRunsResponse runs;
  ASSERT_TRUE(A().ListRuns(&ctx, req, &runs).ok());
  const v1::Run* run = nullptr;
  for (const v1::Run& r : runs.runs()) {
    if (r.run_id() == run_id) run = &r;
  }
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->backfill_from(), "2026-01-01");
  EXPECT_EQ(run->backfill_to(), "2026-01-31");
  EXPECT_EQ(std::vector<std::string>(run->data_types().begin(), run->data_types().end()),
            std::vector<std::string>{"orders"});
  EXPECT_EQ(run->counts().ads_fetched(), 0);
  EXPECT_EQ(run->status(), "completed");
}

// hasCronJob is true exactly while the store is enabled with a schedule that fires; a pause and a
// resume are each one change of the stored store (its version moves); a write based on an older
// version, or a create of an existing id, is refused and changes nothing.
TEST_F(SchedulerTest, VersionsPauseResumeAndHasCronJob) {
  v1::UpsertStoreResponse created;
  ASSERT_TRUE(Upsert(A(), StoreFor(kStore, "*/15 * * * *"), &created).ok());
  EXPECT_EQ(created.store().version(), 1);
  EXPECT_EQ(created.store().ads_schedule(), "*/15 * * * *");  // one schedule: used for both
  auto status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->has_cron_job());
  EXPECT_TRUE(status->has_next_orders_fire_time());

  auto call = [&](auto method, const auto& request, v1::Store* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    return (A().*method)(&ctx, request, out);
  };
  v1::PauseStoreRequest pause;
  pause.set_store_id(kStore);
  pause.set_note("migrating the shop");
  v1::Store paused;
  ASSERT_TRUE(call(&v1::Scheduler::Stub::PauseStore, pause, &paused).ok());
  EXPECT_FALSE(paused.enabled());
  EXPECT_EQ(paused.pause_note(), "migrating the shop");
  EXPECT_EQ(paused.version(), 2);
  status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->has_cron_job());
  EXPECT_FALSE(status->has_next_fire_time());
  pause.set_note(std::string(600, 'x'));
  EXPECT_EQ(call(&v1::Scheduler::Stub::PauseStore, pause, &paused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::ResumeStoreRequest resume;
  resume.set_store_id(kStore);
  v1::Store resumed;
  ASSERT_TRUE(call(&v1::Scheduler::Stub::ResumeStore, resume, &resumed).ok());
  EXPECT_TRUE(resumed.enabled());
  EXPECT_EQ(resumed.pause_note(), "");
  EXPECT_EQ(resumed.version(), 3);
  status = Status(A(), kStore);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->has_cron_job());
  resume.set_store_id("nope");
  EXPECT_EQ(call(&v1::Scheduler::Stub::ResumeStore, resume, &resumed).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Optimistic concurrency: version 2 is stale now.
  auto upsert = [&](const v1::Store& store, int64_t expected, bool create_only) {
    grpc::ClientContext ctx;
    v1::UpsertStoreRequest req;
    *req.mutable_store() = store;
    req.set_expected_version(expected);
    req.set_create_only(create_only);
    v1::UpsertStoreResponse resp;
    return A().UpsertStore(&ctx, req, &resp);
  };
  v1::Store edit = StoreFor(kStore, "0 * * * *");
  edit.set_display_name("mine");
  grpc::Status stale = upsert(edit, 2, false);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(stale.error_message(), HasSubstr("was changed by someone else (version 3, not 2)"));
  EXPECT_EQ(upsert(edit, 0, true).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(upsert(StoreFor("ghost"), 1, false).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Scalar("SELECT version FROM stores WHERE store_id = 'shop'"), 3);
  ASSERT_TRUE(upsert(edit, 3, false).ok());
  EXPECT_EQ(Scalar("SELECT version FROM stores WHERE store_id = 'shop'"), 4);
  // Two writers of version 4 at once: exactly one wins.
  std::atomic<int> won{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    writers.emplace_back([&, i] {
      v1::Store mine = edit;
      mine.set_display_name(absl::StrCat("writer ", i));
      if (upsert(mine, 4, false).ok()) ++won;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(Scalar("SELECT version FROM stores WHERE store_id = 'shop'"), 5);
}

TEST_F(SchedulerTest, BadFlagStopsWithOneLineNamingIt) {
  auto out = RunCommand({BinaryPath("scheduler-service"), "--database_url=" + db_url_,
                         "--insecure_grpc", "--default_schedule=61 * * * *"});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("default_schedule"));
}

}  // namespace
}  // namespace autosync::testing
