// sync-worker end to end: the real binary, a real PostgreSQL, and store-sim over HTTP.
// A run streams starting → orders → ads → ltv → completed, the database then holds exactly the
// source's orders, re-syncs are incremental, faults end as documented and lose nothing.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/cohort_rows.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/store_sim.h"

namespace autosync::testing {
namespace {

using autosync::v1::RunSyncRequest;
using autosync::v1::SyncProgress;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kStore[] = "shop";
constexpr int kOrders = 3000;

struct RunResult {
  std::vector<SyncProgress> events;
  grpc::Status status;
  const SyncProgress& last() const { return events.back(); }
};

class WorkerSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_url_ = FreshDatabaseUrl();
    ASSERT_FALSE(db_url_.empty());
    auto pool = common::PgPool::Create({.url = db_url_, .size = 1});
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE(common::ApplyMigrations(**pool, common::EmbeddedMigrations()).ok());

    auto sim = StoreSim::Start({absl::StrCat("--stores=", kStore, ":", kOrders, ",other:50"),
                                "--leak_per_second=0", "--seed=7"});
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    RegisterStore(kStore);

    StartWorker({});
  }

  // (Re)starts the worker with the fixture's flags plus `extra`.
  void StartWorker(std::vector<std::string> extra) {
    stub_.reset();
    worker_.reset();
    const int port = FreePort();
    metrics_port_ = FreePort();
    std::vector<std::string> args = {"--database_url=" + db_url_,
                                     "--insecure_grpc",
                                     absl::StrCat("--listen=127.0.0.1:", port),
                                     absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                                     "--max_concurrent_syncs=2",
                                     "--ads_max_throttle_wait_seconds=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto worker = ChildProcess::Start(BinaryPath("sync-worker"),
                                      {.args = args, .env = {{"SIM_TOKEN", "sim-token"}}});
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = std::move(*worker);
    target_ = absl::StrCat("127.0.0.1:", port);
    ASSERT_TRUE(WaitForServing(target_, absl::Seconds(20)).ok()) << worker_->Output();
    stub_ = autosync::v1::SyncWorker::NewStub(
        grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
  }

  void RegisterStore(const std::string& store, const std::string& credentials = "env:SIM_TOKEN",
                     const std::string& orders_api = "rest", StoreSim* sim = nullptr) {
    if (sim == nullptr) sim = sim_.get();
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO stores (store_id, timezone, orders_api, orders_api_base, ads_api_base, "
        "ad_account_id, credentials_ref) VALUES ($1, 'America/New_York', $2, $3, $4, $1, $5)",
        store, orders_api, sim->orders_base(store), sim->base_url(), credentials);
    tx.commit();
  }

  void UseGraphql(const std::string& store) {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec_params("UPDATE stores SET orders_api = 'graphql' WHERE store_id = $1", store);
    tx.commit();
  }

  // Runs one RunSync; cancels the call after `cancel_after` events when > 0.
  RunResult Sync(const std::string& store, bool force = false, int cancel_after = 0) {
    RunSyncRequest request = Request(store);
    request.set_force(force);
    return Run(request, cancel_after);
  }

  // A request for `store` with a fresh run id.
  RunSyncRequest Request(const std::string& store) {
    RunSyncRequest request;
    request.set_store_id(store);
    request.set_run_id(absl::StrCat("run-", ++runs_));
    request.set_trigger(autosync::v1::TRIGGER_API);
    return request;
  }

  RunResult Run(const RunSyncRequest& request, int cancel_after = 0,
                const std::function<void(const SyncProgress&)>& on_event = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    RunResult result;
    auto reader = stub_->RunSync(&context, request);
    SyncProgress p;
    while (reader->Read(&p)) {
      result.events.push_back(p);
      if (on_event) on_event(p);
      if (cancel_after > 0 && static_cast<int>(result.events.size()) == cancel_after) {
        context.TryCancel();
      }
    }
    result.status = reader->Finish();
    return result;
  }

  // The store's orders in PostgreSQL are exactly store-sim's own (count and checksum).
  // Returns the source's summary.
  SimSummary ExpectDatabaseEqualsSource() {
    auto source = sim_->Summary(kStore);
    auto stored = DatabaseSummary(db_url_, kStore);
    if (!source.ok() || !stored.ok()) {
      ADD_FAILURE() << "summaries: " << source.status() << " / " << stored.status();
      return {};
    }
    EXPECT_EQ(stored->count, source->count);
    EXPECT_EQ(stored->checksum, source->checksum);
    return *source;
  }

  int64_t Scalar(const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    return tx.exec(sql)[0][0].as<int64_t>();
  }

  std::string db_url_;
  std::unique_ptr<StoreSim> sim_;
  std::unique_ptr<ChildProcess> worker_;
  std::string target_;
  int metrics_port_ = 0;
  std::unique_ptr<autosync::v1::SyncWorker::Stub> stub_;
  int runs_ = 0;
};

void ExpectWellFormedStream(const RunResult& run, autosync::v1::Stage terminal) {
  ASSERT_FALSE(run.events.empty());
  EXPECT_EQ(run.events.front().stage(), autosync::v1::STAGE_STARTING);
  int last_stage = 0;
  int last_progress = 0;
  int terminals = 0;
  for (const SyncProgress& p : run.events) {
    EXPECT_GE(static_cast<int>(p.stage()), last_stage) << p.DebugString();
    EXPECT_GE(p.progress(), last_progress) << p.DebugString();
    EXPECT_FALSE(p.message().empty());
    last_stage = p.stage();
    last_progress = p.progress();
    if (p.stage() == autosync::v1::STAGE_COMPLETED || p.stage() == autosync::v1::STAGE_FAILED) {
      ++terminals;
    }
  }
  EXPECT_EQ(terminals, 1);
  EXPECT_EQ(run.last().stage(), terminal) << run.last().DebugString();
}

TEST_F(WorkerSyncTest, FullSyncStreamsEveryStageAndEqualsTheSource) {
  const RunResult run = Sync(kStore);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
  std::set<int> stages;
  for (const auto& p : run.events) stages.insert(p.stage());
  EXPECT_TRUE(stages.count(autosync::v1::STAGE_ORDERS) && stages.count(autosync::v1::STAGE_ADS) &&
              stages.count(autosync::v1::STAGE_LTV));
  EXPECT_EQ(run.last().progress(), 100);
  EXPECT_EQ(run.last().run_id(), "run-1");

  const SimSummary source = ExpectDatabaseEqualsSource();
  EXPECT_EQ(run.last().counts().orders_written(), source.count);
  EXPECT_GT(Scalar("SELECT count(*) FROM ads WHERE store_id = 'shop'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM customer_ltv_cohorts WHERE store_id = 'shop'"), 0);
  EXPECT_EQ(run.last().counts().cohort_rows(),
            Scalar("SELECT count(*) FROM customer_ltv_cohorts WHERE store_id = 'shop'"));
  // The other store was not touched.
  EXPECT_EQ(Scalar("SELECT count(*) FROM orders WHERE store_id <> 'shop'"), 0);
}

TEST_F(WorkerSyncTest, SecondSyncWithNothingNewWritesNoOrders) {
  ASSERT_EQ(Sync(kStore).last().stage(), autosync::v1::STAGE_COMPLETED);
  const RunResult again = Sync(kStore);
  ExpectWellFormedStream(again, autosync::v1::STAGE_COMPLETED);
  EXPECT_EQ(again.last().counts().orders_written(), 0);
  // Incremental: only the lookback window is re-read, not the whole store.
  EXPECT_LT(again.last().counts().orders_fetched(), kOrders / 10);
  ExpectDatabaseEqualsSource();
}

// A run of one data type syncs only that type (and the LTV); a backfill re-reads the orders
// created on its days (the store's zone) and leaves the cursor where it was.
TEST_F(WorkerSyncTest, DataTypesAndABackfillSyncOnlyWhatTheyName) {
  auto run = [&](std::vector<std::string> types, std::string from = "", std::string to = "") {
    RunSyncRequest request = Request(kStore);
    for (auto& t : types) request.add_data_types(t);
    request.set_backfill_from(from);
    request.set_backfill_to(to);
    return Run(request);
  };
  auto stages = [](const RunResult& r) {
    std::set<autosync::v1::Stage> out;
    for (const SyncProgress& p : r.events) out.insert(p.stage());
    return out;
  };
  const RunResult ads = run({"ads"});
  ExpectWellFormedStream(ads, autosync::v1::STAGE_COMPLETED);
  EXPECT_EQ(std::vector<std::string>(ads.events[0].data_types().begin(),
                                     ads.events[0].data_types().end()),
            std::vector<std::string>{"ads"});
  EXPECT_FALSE(stages(ads).contains(autosync::v1::STAGE_ORDERS));
  EXPECT_EQ(ads.last().counts().orders_fetched(), 0);
  EXPECT_GT(ads.last().counts().ads_fetched(), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM orders"), 0);

  const RunResult orders = run({"orders"});
  ExpectWellFormedStream(orders, autosync::v1::STAGE_COMPLETED);
  EXPECT_FALSE(stages(orders).contains(autosync::v1::STAGE_ADS));
  EXPECT_TRUE(stages(orders).contains(autosync::v1::STAGE_LTV));
  ExpectDatabaseEqualsSource();

  // Ten days a month into the store's history, in its zone (America/New_York), lost here.
  pqxx::connection conn(db_url_);
  const pqxx::row range = pqxx::nontransaction(conn).exec1(
      "SELECT d::text, (d + 9)::text FROM (SELECT ((min(created_at) AT TIME ZONE "
      "'America/New_York')::date + 30) AS d FROM orders) x");
  const std::string from = range[0].as<std::string>();
  const std::string to = range[1].as<std::string>();
  const std::string in_range = absl::StrCat(
      "(created_at AT TIME ZONE 'America/New_York')::date BETWEEN '", from, "' AND '", to, "'");
  const int64_t lost = Scalar("SELECT count(*) FROM orders WHERE " + in_range);
  ASSERT_GT(lost, 0);
  {
    pqxx::work tx(conn);
    tx.exec("DELETE FROM orders WHERE " + in_range);
    tx.commit();
  }
  const int64_t cursor = Scalar(
      "SELECT extract(epoch FROM cursor_at)::bigint FROM sync_tracking WHERE stage = 'orders'");
  const RunResult backfill = run({}, from, to);
  ExpectWellFormedStream(backfill, autosync::v1::STAGE_COMPLETED);
  EXPECT_THAT(backfill.events[0].message(), HasSubstr(absl::StrCat(from, " to ", to)));
  EXPECT_FALSE(stages(backfill).contains(autosync::v1::STAGE_ADS));
  // Exactly the orders of those days were read, and they are back.
  EXPECT_EQ(backfill.last().counts().orders_fetched(), lost);
  EXPECT_EQ(backfill.last().counts().orders_written(), lost);
  ExpectDatabaseEqualsSource();
  EXPECT_EQ(Scalar("SELECT extract(epoch FROM cursor_at)::bigint FROM sync_tracking WHERE "
                   "stage = 'orders'"),
            cursor);

  // Malformed requests are refused before the run starts.
  const RunResult bad_type = run({"ltv"});
  EXPECT_EQ(bad_type.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(bad_type.events.empty());
  const RunResult half = run({}, from, "");
  EXPECT_EQ(half.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const RunResult reversed = run({}, to, from);
  EXPECT_EQ(reversed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The GraphQL Admin API connector (orders_api = graphql) reads exactly the orders REST reads:
// the database equals the source after a first sync, a second one writes nothing, and live
// changes arrive. Its own sim runs a small cost bucket (1000 points restoring 500/s, four pages'
// worth), so a 3000-order sync must wait for the bucket instead of running into THROTTLED.
TEST_F(WorkerSyncTest, GraphqlConnectorReadsTheSameOrdersAsRestWithinItsCostBudget) {
  StartWorker({"--graphql_bulk=false"});  // the first sync pages too (bulk: the next tests)
  auto sim = StoreSim::Start({"--stores=gql:3000", "--leak_per_second=0", "--seed=7",
                              "--graphql_bucket_size=1000", "--graphql_restore_rate=500"});
  ASSERT_TRUE(sim.ok()) << sim.status();
  {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO stores (store_id, timezone, orders_api, orders_api_base, orders_api_version, "
        "ads_api_base, ad_account_id, credentials_ref) VALUES ('gql', 'America/New_York', "
        "'graphql', $1, '2025-01', $2, 'gql', 'env:SIM_TOKEN')",
        (*sim)->orders_base("gql"), (*sim)->base_url());
    tx.commit();
  }
  const RunResult first = Sync("gql");
  ExpectWellFormedStream(first, autosync::v1::STAGE_COMPLETED);
  auto source = (*sim)->Summary("gql");
  auto stored = DatabaseSummary(db_url_, "gql");
  ASSERT_TRUE(source.ok() && stored.ok()) << source.status() << stored.status();
  EXPECT_EQ(stored->count, source->count);
  EXPECT_EQ(stored->checksum, source->checksum);
  EXPECT_EQ(first.last().counts().orders_written(), source->count);
  // Twelve pages of 252 points from a bucket of 1000: the client waited for it (paced) and was
  // never THROTTLED.
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics"));
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("autosync_worker_source_throttled_total{api=\"orders\"} 0"));
  EXPECT_THAT(metrics->body,
              Not(HasSubstr("autosync_worker_source_paced_total{api=\"orders\"} 0")));
  EXPECT_THAT(metrics->body, HasSubstr("autosync_worker_source_paced_total{api=\"orders\"}"));

  const RunResult again = Sync("gql");
  ExpectWellFormedStream(again, autosync::v1::STAGE_COMPLETED);
  EXPECT_EQ(again.last().counts().orders_written(), 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*sim)->Tick("gql").ok());
  const RunResult live = Sync("gql");
  ExpectWellFormedStream(live, autosync::v1::STAGE_COMPLETED);
  EXPECT_GT(live.last().counts().orders_written(), 0);
  source = (*sim)->Summary("gql");
  stored = DatabaseSummary(db_url_, "gql");
  ASSERT_TRUE(source.ok() && stored.ok());
  EXPECT_EQ(stored->count, source->count);
  EXPECT_EQ(stored->checksum, source->checksum);
}

bool AnyMessage(const RunResult& run, absl::string_view text) {
  for (const SyncProgress& p : run.events) {
    if (absl::StrContains(p.message(), text)) return true;
  }
  return false;
}

TEST_F(WorkerSyncTest, GraphqlFirstSyncIsOneBulkOperationAndAsyncAdsThatEqualTheSource) {
  UseGraphql(kStore);
  const RunResult first = Sync(kStore);
  ExpectWellFormedStream(first, autosync::v1::STAGE_COMPLETED);
  EXPECT_TRUE(AnyMessage(first, "bulk operation")) << first.last().DebugString();
  const SimSummary source = ExpectDatabaseEqualsSource();
  EXPECT_EQ(first.last().counts().orders_written(), source.count);
  EXPECT_GT(first.last().counts().ads_written(), 0);
  const int64_t ads_rows = Scalar("SELECT count(*) FROM ads WHERE store_id = 'shop'");
  // Days older than store-sim's 28-day restatement window read the same at every call.
  const auto settled_ads = [&] {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    return tx
        .exec(
            "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', date, campaign_id, spend, "
            "impressions, clicks, purchases, purchase_value), ',' ORDER BY date, campaign_id)) "
            "FROM ads WHERE store_id = 'shop' AND date < "
            "(SELECT max(date) FROM ads WHERE store_id = 'shop') - 30")[0][0]
        .as<std::string>();
  };
  const std::string settled = settled_ads();

  // The same data read the other way (paging, synchronous insights) changes nothing.
  StartWorker({"--graphql_bulk=false", "--ads_async=false"});
  const RunResult paged = Sync(kStore, /*force=*/true);
  ExpectWellFormedStream(paged, autosync::v1::STAGE_COMPLETED);
  EXPECT_FALSE(AnyMessage(paged, "bulk operation"));
  EXPECT_EQ(paged.last().counts().orders_fetched(), source.count);
  EXPECT_EQ(paged.last().counts().orders_written(), 0);
  EXPECT_EQ(paged.last().counts().ads_fetched(), ads_rows);
  EXPECT_EQ(Scalar("SELECT count(*) FROM ads WHERE store_id = 'shop'"), ads_rows);
  EXPECT_EQ(settled_ads(), settled);

  // Later syncs page from the cursor; a backfill is a bulk operation again.
  StartWorker({});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sim_->Tick(kStore).ok());
  const RunResult live = Sync(kStore);
  ExpectWellFormedStream(live, autosync::v1::STAGE_COMPLETED);
  EXPECT_FALSE(AnyMessage(live, "bulk operation"));
  EXPECT_GT(live.last().counts().orders_written(), 0);
  ExpectDatabaseEqualsSource();
  RunSyncRequest backfill = Request(kStore);
  backfill.set_backfill_from("2025-06-01");
  backfill.set_backfill_to("2025-06-30");
  const RunResult filled = Run(backfill);
  ExpectWellFormedStream(filled, autosync::v1::STAGE_COMPLETED);
  EXPECT_TRUE(AnyMessage(filled, "bulk operation"));
  EXPECT_GT(filled.last().counts().orders_fetched(), 0);
  EXPECT_LT(filled.last().counts().orders_fetched(), source.count);
  EXPECT_EQ(filled.last().counts().orders_written(), 0);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, BulkOperationFailuresEndTheRunRetryablyAndTheNextRunLosesNothing) {
  StartWorker({"--bulk_timeout_seconds=10"});
  UseGraphql(kStore);
  struct Case {
    std::string faults;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"bulk_fail":1})", "FAILED (INTERNAL_SERVER_ERROR)"},
      {R"({"bulk_truncate":1})", "the complete orders before that are stored"},
      {R"({"bulk_url_expired":1})", "the result URL expired"},
      {R"({"bulk_stuck":1})", "still unfinished after 10s: cancelled"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.faults);
    ASSERT_TRUE(sim_->SetFaults(c.faults).ok());
    const RunResult failed = Sync(kStore, /*force=*/true);
    ExpectWellFormedStream(failed, autosync::v1::STAGE_FAILED);
    EXPECT_THAT(failed.last().error(), HasSubstr(c.error));
    EXPECT_TRUE(failed.last().retryable());
    ASSERT_TRUE(sim_->ClearFaults().ok());
  }
  // Cut off before any bulk read completed: the next run starts a new operation.
  const RunResult next = Sync(kStore);
  ExpectWellFormedStream(next, autosync::v1::STAGE_COMPLETED);
  EXPECT_TRUE(AnyMessage(next, "bulk operation"));
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, ABulkOperationLeftByAKilledWorkerIsCancelledForTheNextRun) {
  UseGraphql(kStore);
  ASSERT_TRUE(sim_->SetFaults(R"({"bulk_stuck":1})").ok());
  bool killed = false;
  const RunResult cut = Run(Request(kStore), 0, [&](const SyncProgress& p) {
    if (!killed && absl::StrContains(p.message(), "Started Shopify bulk operation")) {
      worker_->Signal(SIGKILL);
      killed = true;
    }
  });
  ASSERT_TRUE(killed);
  EXPECT_FALSE(cut.status.ok());
  ASSERT_TRUE(sim_->ClearFaults().ok());
  // Shopify allows one bulk query per shop and app: the new run must stop the old one first.
  StartWorker({});
  const RunResult next = Sync(kStore);
  ExpectWellFormedStream(next, autosync::v1::STAGE_COMPLETED);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, MetaAsyncReportFailuresSayWhatToDo) {
  StartWorker({"--ads_async_timeout_seconds=10"});
  struct Case {
    std::string faults;
    std::string error;
    bool retryable;
  };
  const std::vector<Case> cases = {
      {R"({"ads_async_fail":1})", "Job Failed", true},
      {R"({"ads_token_expired":1})", "renew it", false},
      {R"({"ads_async_stuck":1})", "after 10s; the next run asks again", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.faults);
    ASSERT_TRUE(sim_->SetFaults(c.faults).ok());
    const RunResult failed = Sync(kStore);
    ExpectWellFormedStream(failed, autosync::v1::STAGE_FAILED);
    EXPECT_THAT(failed.last().error(), HasSubstr(c.error));
    EXPECT_EQ(failed.last().retryable(), c.retryable);
    ASSERT_TRUE(sim_->ClearFaults().ok());
  }
  const RunResult next = Sync(kStore);
  ExpectWellFormedStream(next, autosync::v1::STAGE_COMPLETED);
  EXPECT_GT(next.last().counts().ads_written(), 0);
}

// store-sim's ":invalid" stores break every data rule once: nine orders (one per rule) and four
// ad rows (three rules on one day, and a row dated outside the range asked for). Read through
// REST pages and through a GraphQL bulk operation, the runs complete with warnings, nothing
// invalid reaches orders, ads or the cohorts, and the records leave quarantine once valid.
TEST_F(WorkerSyncTest, RecordsBreakingDataRulesAreQuarantinedAndLeaveItOnceValid) {
  auto sim = StoreSim::Start(
      {"--stores=bad:300:invalid,badq:300:hostile:invalid", "--leak_per_second=0", "--seed=7"});
  ASSERT_TRUE(sim.ok()) << sim.status();
  RegisterStore("bad", "env:SIM_TOKEN", "rest", sim->get());
  RegisterStore("badq", "env:SIM_TOKEN", "graphql", sim->get());
  const std::set<std::string> order_rules = {"bad_id",
                                             "negative_amount",
                                             "refund_exceeds_total",
                                             "currency_not_iso4217",
                                             "created_too_early",
                                             "created_in_future",
                                             "updated_in_future",
                                             "updated_before_created",
                                             "cancelled_before_created"};
  const std::set<std::string> ad_rules = {"negative_metric", "clicks_exceed_impressions",
                                          "currency_not_iso4217", "date_outside_range"};
  auto rules = [&](const std::string& store, const std::string& kind) {
    std::set<std::string> out;
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    for (const auto& row :
         tx.exec_params("SELECT rule FROM quarantined_records WHERE store_id = $1 AND kind = $2",
                        store, kind)) {
      out.insert(row[0].as<std::string>());
    }
    return out;
  };
  for (const std::string store : {"bad", "badq"}) {
    SCOPED_TRACE(store);
    const RunResult run = Sync(store);
    ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
    EXPECT_THAT(run.last().message(), HasSubstr("completed with warnings"));
    EXPECT_THAT(run.last().message(), HasSubstr("9 orders and 4 ad rows broke a data rule"));
    EXPECT_EQ(run.last().counts().orders_quarantined(), 9);
    EXPECT_EQ(run.last().counts().ads_quarantined(), 4);
    if (store == "badq") {
      EXPECT_TRUE(AnyMessage(run, "bulk operation"));
    }

    // The tables hold exactly the source's valid orders (store-sim's summary leaves the nine
    // out), and nothing that breaks a rule.
    auto source = (*sim)->Summary(store);
    auto stored = DatabaseSummary(db_url_, store);
    ASSERT_TRUE(source.ok() && stored.ok()) << source.status() << stored.status();
    EXPECT_EQ(source->count, 300 - 9);
    EXPECT_EQ(stored->count, source->count);
    EXPECT_EQ(stored->checksum, source->checksum);
    const std::string where = absl::StrCat(" WHERE store_id = '", store, "'");
    EXPECT_EQ(
        Scalar("SELECT count(*) FROM orders" + where +
               " AND (order_id <= 0 OR total_price < 0 OR refunded_amount > total_price "
               "OR currency <> 'USD' OR created_at < '2004-01-01' OR created_at > now() "
               "OR updated_at > now() OR updated_at < created_at OR cancelled_at < created_at)"),
        0);
    EXPECT_GT(Scalar("SELECT count(*) FROM ads" + where), 0);
    EXPECT_EQ(Scalar("SELECT count(*) FROM ads" + where +
                     " AND (spend < 0 OR clicks > impressions OR currency <> 'USD' "
                     "OR date > current_date + 1)"),
              0);
    EXPECT_EQ(Scalar("SELECT count(*) FROM customer_ltv_cohorts" + where +
                     " AND (cohort_month < '2020-01-01' OR cohort_month > now())"),
              0);
    EXPECT_GT(Scalar("SELECT count(*) FROM customer_ltv_cohorts" + where), 0);
    EXPECT_EQ(rules(store, "order"), order_rules);
    EXPECT_EQ(rules(store, "ad"), ad_rules);
    // Each keeps what a person needs: the rule's detail, the run, where it was, the raw JSON.
    EXPECT_EQ(Scalar("SELECT count(*) FROM quarantined_records" + where +
                     " AND (detail = '' OR run_id = '' OR source = '' OR raw NOT LIKE '{%')"),
              0);
    EXPECT_EQ(Scalar("SELECT count(*) FROM quarantined_records" + where +
                     " AND kind = 'order' AND rule = 'currency_not_iso4217' AND raw LIKE '%XYZ%'"),
              1);
  }

  // A second run sees the same records again: counted, not duplicated.
  const RunResult again = Sync("bad", /*force=*/true);
  ExpectWellFormedStream(again, autosync::v1::STAGE_COMPLETED);
  EXPECT_EQ(again.last().counts().orders_quarantined(), 9);
  EXPECT_EQ(Scalar("SELECT count(*) FROM quarantined_records WHERE store_id = 'bad' AND "
                   "kind = 'order'"),
            9);
  EXPECT_EQ(Scalar("SELECT min(times_seen) FROM quarantined_records WHERE store_id = 'bad' AND "
                   "kind = 'order'"),
            2);

  // The source fixes eight of them (an order shown with id 0 cannot be matched to its real id):
  // they arrive valid, are stored, and leave quarantine.
  auto repaired = HttpPost(absl::StrCat((*sim)->base_url(), "/_sim/stores/bad/repair"), "");
  ASSERT_TRUE(repaired.ok() && repaired->status == 200);
  EXPECT_EQ(repaired->body, R"({"repaired":8})");
  const RunResult fixed = Sync("bad");
  ExpectWellFormedStream(fixed, autosync::v1::STAGE_COMPLETED);
  EXPECT_EQ(fixed.last().counts().orders_quarantined(), 0);
  EXPECT_GE(fixed.last().counts().orders_written(), 8);
  auto source = (*sim)->Summary("bad");
  auto stored = DatabaseSummary(db_url_, "bad");
  ASSERT_TRUE(source.ok() && stored.ok());
  EXPECT_EQ(source->count, 300 - 1);
  EXPECT_EQ(stored->count, source->count);
  EXPECT_EQ(stored->checksum, source->checksum);
  EXPECT_EQ(rules("bad", "order"), std::set<std::string>{"bad_id"});
}

// Orders deleted at the source (store-sim live steps delete a cancelled or test order each, and
// publish Shopify's Order/destroy event) leave the orders and the cohorts on the next sync, for a
// REST and a GraphQL store alike; the cohorts then equal a from-scratch recompute.
TEST_F(WorkerSyncTest, OrdersDeletedAtTheSourceLeaveOrdersAndCohorts) {
  auto sim = StoreSim::Start({"--stores=del:2000,delq:2000", "--leak_per_second=0", "--seed=7",
                              "--live_delete_probability=1"});
  ASSERT_TRUE(sim.ok()) << sim.status();
  RegisterStore("del", "env:SIM_TOKEN", "rest", sim->get());
  RegisterStore("delq", "env:SIM_TOKEN", "graphql", sim->get());
  for (const std::string store : {"del", "delq"}) {
    SCOPED_TRACE(store);
    const RunResult first = Sync(store);
    ExpectWellFormedStream(first, autosync::v1::STAGE_COMPLETED);
    EXPECT_EQ(first.last().counts().orders_deleted(), 0);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE((*sim)->Tick(store).ok());
    auto source = (*sim)->Summary(store);
    ASSERT_TRUE(source.ok());
    const int64_t stored_before =
        Scalar(absl::StrCat("SELECT count(*) FROM orders WHERE store_id = '", store, "'"));
    const RunResult next = Sync(store);
    ExpectWellFormedStream(next, autosync::v1::STAGE_COMPLETED);
    EXPECT_GT(next.last().counts().orders_deleted(), 0);
    EXPECT_TRUE(AnyMessage(next, "deleted at the source"));
    auto stored = DatabaseSummary(db_url_, store);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->count, source->count);
    EXPECT_EQ(stored->checksum, source->checksum);
    EXPECT_LT(stored->count, stored_before + 12 * 10);  // sanity: not a fresh copy

    // The incremental cohorts equal a rebuild from every order (no LTV state: a full rebuild).
    const std::vector<std::string> incremental = CohortRows(db_url_, store);
    ASSERT_FALSE(incremental.empty());
    {
      pqxx::connection conn(db_url_);
      pqxx::work tx(conn);
      tx.exec_params("DELETE FROM ltv_state WHERE store_id = $1", store);
      tx.commit();
    }
    const RunResult rebuilt = Sync(store);
    ExpectWellFormedStream(rebuilt, autosync::v1::STAGE_COMPLETED);
    EXPECT_EQ(rebuilt.last().counts().orders_deleted(), 0) << "events applied twice";
    EXPECT_EQ(CohortRows(db_url_, store), incremental);
  }
}

// A change that became visible only after the lookback had passed it (here: a stored order and
// ad day made stale by hand, older than the lookback and the 28-day window) is repaired by the
// daily late-change sweep, and only by it.
TEST_F(WorkerSyncTest, TheDailySweepPicksUpChangesThatArrivedLate) {
  const RunResult first = Sync(kStore);
  ExpectWellFormedStream(first, autosync::v1::STAGE_COMPLETED);
  const SimSummary source = ExpectDatabaseEqualsSource();
  const std::string stale_order =
      "UPDATE orders SET total_price = total_price + 1, updated_at = updated_at - interval '1 "
      "second' WHERE store_id = 'shop' AND order_id = (SELECT order_id FROM orders WHERE "
      "store_id = 'shop' AND updated_at < (SELECT cursor_at FROM sync_tracking WHERE store_id = "
      "'shop' AND stage = 'orders') - interval '1 day' ORDER BY updated_at DESC LIMIT 1)";
  // 45 days before the source's last ad day (store-sim's clock): beyond the 28 days it restates.
  const std::string day45 = "(SELECT max(date) - 45 FROM ads WHERE store_id = 'shop')";
  const std::string stale_ad =
      "UPDATE ads SET spend = spend + 1 WHERE store_id = 'shop' AND date = " + day45;
  const std::string ad_stale_count =
      "SELECT count(*) FROM ads a WHERE store_id = 'shop' AND date = " + day45;
  auto exec = [&](const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    const auto affected = tx.exec(sql).affected_rows();
    tx.commit();
    return affected;
  };
  ASSERT_EQ(exec(stale_order), 1u);
  const int64_t spend_before = Scalar(
      "SELECT (sum(spend) * 100)::bigint FROM ads WHERE store_id = 'shop' AND date = " + day45);
  ASSERT_GT(exec(stale_ad), 0u);
  ASSERT_GT(Scalar(ad_stale_count), 0);

  // Not due (the first sync read everything): a normal sync leaves both stale.
  const RunResult normal = Sync(kStore);
  ExpectWellFormedStream(normal, autosync::v1::STAGE_COMPLETED);
  EXPECT_FALSE(AnyMessage(normal, "Daily sweep"));
  auto stored = DatabaseSummary(db_url_, kStore);
  ASSERT_TRUE(stored.ok());
  EXPECT_NE(stored->checksum, source.checksum) << "the lookback re-read an old order";
  EXPECT_NE(
      Scalar("SELECT (sum(spend) * 100)::bigint FROM ads WHERE store_id = 'shop' AND date = " +
             day45),
      spend_before)
      << "the trailing window re-read a day 45 days back";

  // Due (the last sweep a day ago): the run re-reads the last 7 days of orders and 90 ad days.
  {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec(
        "UPDATE sync_tracking SET cursor_at = now() - interval '25 hours' WHERE "
        "store_id = 'shop' AND stage IN ('orders_sweep', 'ads_sweep')");
    tx.commit();
  }
  const RunResult swept = Sync(kStore);
  ExpectWellFormedStream(swept, autosync::v1::STAGE_COMPLETED);
  EXPECT_TRUE(AnyMessage(swept, "Daily sweep: re-reading the orders"));
  EXPECT_TRUE(AnyMessage(swept, "Daily sweep: re-reading 90 days of ad spend"));
  EXPECT_GE(swept.last().counts().orders_written(), 1);
  ExpectDatabaseEqualsSource();
  EXPECT_EQ(
      Scalar("SELECT (sum(spend) * 100)::bigint FROM ads WHERE store_id = 'shop' AND date = " +
             day45),
      spend_before);
  // And it is recorded: the next run does not sweep again.
  const RunResult after = Sync(kStore);
  EXPECT_FALSE(AnyMessage(after, "Daily sweep"));
}

TEST_F(WorkerSyncTest, LiveChangesArriveOnTheNextSync) {
  ASSERT_EQ(Sync(kStore).last().stage(), autosync::v1::STAGE_COMPLETED);
  auto before = sim_->Summary(kStore);
  ASSERT_TRUE(before.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(sim_->Tick(kStore).ok());
  auto after = sim_->Summary(kStore);
  ASSERT_TRUE(after.ok());
  ASSERT_NE(after->checksum, before->checksum) << "live mode changed nothing";

  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
  EXPECT_GT(run.last().counts().orders_written(), 0);
  auto stored = DatabaseSummary(db_url_, kStore);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->count, after->count);
  EXPECT_EQ(stored->checksum, after->checksum);
}

TEST_F(WorkerSyncTest, GarbagePageFailsWithPageAndReasonAndChangesNothing) {
  ASSERT_EQ(Sync(kStore).last().stage(), autosync::v1::STAGE_COMPLETED);
  ASSERT_TRUE(sim_->Tick(kStore).ok());
  const std::string cursor_before =
      std::to_string(Scalar("SELECT extract(epoch FROM cursor_at)::bigint FROM sync_tracking "
                            "WHERE store_id = 'shop' AND stage = 'orders'"));
  auto stored_before = DatabaseSummary(db_url_, kStore);
  ASSERT_TRUE(sim_->SetFaults(R"({"malformed_page":1})").ok());

  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_FAILED);
  EXPECT_THAT(run.last().error(), HasSubstr("orders page 1"));
  auto stored_after = DatabaseSummary(db_url_, kStore);
  ASSERT_TRUE(stored_before.ok() && stored_after.ok());
  EXPECT_EQ(stored_after->checksum, stored_before->checksum);
  EXPECT_EQ(std::to_string(Scalar("SELECT extract(epoch FROM cursor_at)::bigint FROM "
                                  "sync_tracking WHERE store_id = 'shop' AND stage = 'orders'")),
            cursor_before);

  // With the source healthy again, the next run catches up completely.
  ASSERT_TRUE(sim_->ClearFaults().ok());
  ASSERT_EQ(Sync(kStore).last().stage(), autosync::v1::STAGE_COMPLETED);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, TruncatedPageFailsTheRun) {
  ASSERT_TRUE(sim_->SetFaults(R"({"truncate_page":2})").ok());
  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_FAILED);
  EXPECT_THAT(run.last().error(), HasSubstr("orders page 2"));
  // Page 1 was committed with its cursor; the rest arrives on the next run.
  EXPECT_EQ(Scalar("SELECT count(*) FROM orders WHERE store_id = 'shop'"), 250);
  ASSERT_TRUE(sim_->ClearFaults().ok());
  const RunResult resumed = Sync(kStore);
  ASSERT_EQ(resumed.last().stage(), autosync::v1::STAGE_COMPLETED);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, ServerErrorsAndRateLimitsAreRetriedToCompletion) {
  ASSERT_TRUE(sim_->SetFaults(R"({"fail_5xx_every":4,"burst_429":2})").ok());
  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, DroppedConnectionIsRetriedToCompletion) {
  ASSERT_TRUE(sim_->SetFaults(R"({"drop_connection_on_page":3})").ok());
  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, AdsThrottleIsWaitedOutAndTheRunCompletes) {
  ASSERT_TRUE(sim_->SetFaults(R"({"ads_throttle":2})").ok());
  const RunResult run = Sync(kStore);
  ExpectWellFormedStream(run, autosync::v1::STAGE_COMPLETED);
  EXPECT_GT(run.last().counts().ads_fetched(), 0);
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics"));
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("autosync_worker_source_throttled_total{api=\"ads\"} 2"));
}

TEST_F(WorkerSyncTest, MetricsCountRunsRecordsAndRequests) {
  ASSERT_EQ(Sync(kStore).last().stage(), autosync::v1::STAGE_COMPLETED);
  RegisterStore("other", "env:NOT_SET_ANYWHERE");
  const RunResult failed = Sync("other");
  ASSERT_FALSE(failed.events.empty());
  EXPECT_EQ(failed.last().stage(), autosync::v1::STAGE_FAILED);
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port_, "/metrics"));
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("autosync_worker_runs_total{result=\"completed\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("autosync_worker_runs_total{result=\"failed\"} 1"));
  EXPECT_THAT(
      metrics->body,
      HasSubstr(absl::StrCat("autosync_worker_records_written_total{kind=\"orders\"} ", kOrders)));
  EXPECT_THAT(metrics->body,
              HasSubstr("autosync_worker_source_requests_total{api=\"orders\",code=\"200\"} 12"));
  EXPECT_THAT(metrics->body,
              HasSubstr("autosync_worker_stage_duration_seconds_count{stage=\"ltv\"} 1"));
  EXPECT_THAT(metrics->body, Not(HasSubstr("sim-token")));
}

TEST_F(WorkerSyncTest, CancelMidOrdersKeepsACursorThatTheNextRunResumesFrom) {
  // Slow pages so the cancel lands inside the orders stage.
  ASSERT_TRUE(sim_->SetFaults(R"({"latency_ms":100})").ok());
  const RunResult cancelled = Sync(kStore, /*force=*/false, /*cancel_after=*/4);
  EXPECT_EQ(cancelled.status.error_code(), grpc::StatusCode::CANCELLED);
  const int64_t kept = Scalar("SELECT count(*) FROM orders WHERE store_id = 'shop'");
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, kOrders);
  // No half-written page: whole pages only.
  EXPECT_EQ(kept % 250, 0);

  ASSERT_TRUE(sim_->ClearFaults().ok());
  const RunResult resumed = Sync(kStore);
  ASSERT_EQ(resumed.last().stage(), autosync::v1::STAGE_COMPLETED);
  EXPECT_LT(resumed.last().counts().orders_fetched(), kOrders);  // resumed, not restarted
  ExpectDatabaseEqualsSource();
}

TEST_F(WorkerSyncTest, RunsBeyondMaxConcurrentSyncsAreRefusedNotQueued) {
  // The worker runs with --max_concurrent_syncs=2: two slow runs fill it, a third is refused at
  // once with RESOURCE_EXHAUSTED (the scheduler retries elsewhere), and the two complete.
  RegisterStore("other");
  ASSERT_TRUE(sim_->SetFaults(R"({"latency_ms":200})").ok());
  std::vector<RunResult> results(2);
  std::vector<std::thread> runs;
  std::atomic<int> started{0};
  for (int i = 0; i < 2; ++i) {
    runs.emplace_back([&, i] {
      RunSyncRequest request;
      request.set_store_id(i == 0 ? kStore : "other");
      request.set_run_id(absl::StrCat("concurrent-", i));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      auto reader = stub_->RunSync(&context, request);
      SyncProgress p;
      while (reader->Read(&p)) {
        if (results[i].events.empty()) started.fetch_add(1);
        results[i].events.push_back(p);
      }
      results[i].status = reader->Finish();
    });
  }
  // Both runs have streamed their first event, so both hold a slot.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (started.load() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(started.load(), 2);
  const RunResult third = Sync(kStore);
  EXPECT_EQ(third.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << third.status.error_message();
  EXPECT_THAT(third.status.error_message(), HasSubstr("--max_concurrent_syncs"));
  EXPECT_TRUE(third.events.empty());
  ASSERT_TRUE(sim_->ClearFaults().ok());
  for (auto& t : runs) t.join();
  for (const RunResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ExpectWellFormedStream(r, autosync::v1::STAGE_COMPLETED);
  }
}

TEST_F(WorkerSyncTest, BadInputGetsClearStatusCodes) {
  RunResult bad = Sync("Not A Store");
  EXPECT_EQ(bad.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(bad.events.empty());
  RunResult unknown = Sync("nosuchstore");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.status.error_message(), HasSubstr("nosuchstore"));
}

TEST_F(WorkerSyncTest, WrongTokenFailsWithAnActionableReasonAndNoSecret) {
  RegisterStore("other", "env:WRONG_TOKEN_NOT_SET");
  const RunResult missing = Sync("other");
  ExpectWellFormedStream(missing, autosync::v1::STAGE_FAILED);
  EXPECT_THAT(missing.last().error(), HasSubstr("WRONG_TOKEN_NOT_SET"));

  // A token the API refuses: 401, not retried, reported.
  {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec("UPDATE stores SET credentials_ref = 'env:PATH' WHERE store_id = 'other'");
    tx.commit();
  }
  const RunResult refused = Sync("other");
  ExpectWellFormedStream(refused, autosync::v1::STAGE_FAILED);
  EXPECT_THAT(refused.last().error(), HasSubstr("401"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM orders WHERE store_id = 'other'"), 0);
}

TEST_F(WorkerSyncTest, StopsCleanlyOnSigterm) {
  worker_->Signal(SIGTERM);
  auto code = worker_->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << worker_->Output();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace autosync::testing
