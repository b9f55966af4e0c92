// Fault: store-sim misbehaves, one fault at a time and mixed, and runs go through the scheduler
// (issue #8). Each ends in its documented outcome -- recorded in sync_runs and sent to
// WatchStore -- and the orders cursor never moves past the last page that was committed: a
// failed page never advances it. (worker_sync_test covers single faults against the worker
// alone; here the scheduler's record and the cursor are checked too.) Every test runs over both
// of Shopify's APIs, paged: REST and GraphQL (the worker's bulk read of a first GraphQL sync has
// its own fault tests in worker_sync_test).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/faults/fault_system.h"
#include "tests/support/pg_cluster.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr char kStore[] = "shop";
constexpr int kOrders = 3000;
constexpr int kPage = 250;  // the worker's page size

struct Outcome {
  std::string status;  // the run row's
  std::string error;
  v1::SyncProgress terminal;  // what WatchStore delivered
  int64_t cursor_before = 0;  // unix seconds of the orders cursor (0: none)
  int64_t cursor_after = 0;
};

// The parameter is the store's orders_api.
class SourceFaultsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Start(std::vector<std::string> worker_args = {}) {
    sys_ = std::make_unique<FaultSystem>(FreshDatabaseUrl());
    ASSERT_FALSE(sys_->db_url().empty());
    // The GraphQL cost bucket never runs dry here: the faults are the point, not the pacing.
    ASSERT_TRUE(sys_->StartSim({absl::StrCat("--stores=", kStore, ":", kOrders),
                                "--leak_per_second=0", "--graphql_restore_rate=0", "--seed=9"})
                    .ok());
    ASSERT_TRUE(sys_->StartScheduler("a").ok());
    worker_args.push_back("--graphql_bulk=false");  // a first GraphQL sync pages too
    ASSERT_TRUE(sys_->StartWorker(0, std::move(worker_args)).ok());
    v1::Store store = sys_->StoreFor(kStore);
    store.set_orders_api(GetParam());
    ASSERT_TRUE(sys_->Upsert(store).ok());
    watcher_ = std::make_unique<Watcher>(sys_->stub(), kStore);
  }

  int64_t Cursor() {
    absl::StatusOr<int64_t> v = sys_->Scalar(absl::StrCat(
        "SELECT extract(epoch FROM cursor_at)::bigint FROM sync_tracking WHERE store_id = '",
        kStore, "' AND stage = 'orders'"));
    return v.ok() ? *v : 0;
  }
  // The newest updated_at among stored orders: where a cursor of committed pages stands.
  int64_t NewestStored() {
    absl::StatusOr<int64_t> v = sys_->Scalar(absl::StrCat(
        "SELECT extract(epoch FROM max(updated_at))::bigint FROM orders WHERE store_id = '", kStore,
        "'"));
    return v.ok() ? *v : 0;
  }
  int64_t Stored() {
    return sys_->ScalarOrDie(
        absl::StrCat("SELECT count(*) FROM orders WHERE store_id = '", kStore, "'"));
  }

  // Sets `faults`, triggers a run through the scheduler, waits for its end.
  Outcome Run(const std::string& faults, absl::Duration timeout = absl::Seconds(90)) {
    Outcome out;
    out.cursor_before = Cursor();
    EXPECT_TRUE(sys_->sim().ClearFaults().ok());
    if (!faults.empty()) {
      EXPECT_TRUE(sys_->sim().SetFaults(faults).ok()) << faults;
    }
    // A new run, or -- after a failure with a passing cause -- the retry the scheduler queued,
    // which the trigger takes out of its backoff ("moved ahead").
    v1::TriggerSyncResponse run;
    grpc::Status s = sys_->Trigger(kStore, &run);
    EXPECT_TRUE(s.ok() && (run.started() || absl::StrContains(run.message(), "moved ahead")))
        << s.error_message() << run.message();
    auto terminal = watcher_->WaitFor(
        [&](const v1::WatchEvent& e) {
          return e.has_progress() && e.progress().run_id() == run.run_id() &&
                 (e.progress().stage() == v1::STAGE_COMPLETED ||
                  e.progress().stage() == v1::STAGE_FAILED);
        },
        timeout);
    EXPECT_TRUE(terminal.has_value()) << faults << "\n" << sys_->worker(0).process->Output();
    if (terminal.has_value()) out.terminal = terminal->progress();
    auto row = sys_->Text(
        absl::StrCat("SELECT status FROM sync_runs WHERE run_id = '", run.run_id(), "'"));
    out.status = row.ok() ? *row : row.status().ToString();
    auto error =
        sys_->Text(absl::StrCat("SELECT error FROM sync_runs WHERE run_id = '", run.run_id(), "'"));
    out.error = error.ok() ? *error : "";
    out.cursor_after = Cursor();
    EXPECT_TRUE(sys_->sim().ClearFaults().ok());
    return out;
  }

  // A completed run: the store equals the source and the cursor stands at its newest order.
  void ExpectCompletedAndLevel(const Outcome& o, const std::string& what) {
    EXPECT_EQ(o.status, "completed") << what << ": " << o.error;
    EXPECT_EQ(o.terminal.stage(), v1::STAGE_COMPLETED) << what;
    EXPECT_EQ(sys_->CompareWithSource(kStore), "") << what;
    EXPECT_EQ(o.cursor_after, NewestStored()) << what;
  }

  // A failed run: recorded with the reason, and the cursor never passes the committed pages.
  void ExpectFailedAt(const Outcome& o, const std::string& page, const std::string& what) {
    EXPECT_EQ(o.status, "failed") << what;
    EXPECT_EQ(o.terminal.stage(), v1::STAGE_FAILED) << what;
    EXPECT_THAT(o.error, HasSubstr(page)) << what;
    EXPECT_EQ(o.terminal.error(), o.error) << what;
    EXPECT_EQ(Stored() % kPage, 0) << what << ": a page was half written";
    EXPECT_EQ(o.cursor_after, std::max(o.cursor_before, NewestStored())) << what;
  }

  std::unique_ptr<FaultSystem> sys_;
  std::unique_ptr<Watcher> watcher_;
};

TEST_P(SourceFaultsTest, RateLimitStormWithRetryAfterIsWaitedOut) {
  Start();
  const absl::Time t0 = absl::Now();
  const Outcome o = Run(R"({"burst_429":4})");
  ExpectCompletedAndLevel(o, "429 x4");
  // Retry-After: 2.0 was honoured for each of the four.
  EXPECT_GE(absl::Now() - t0, absl::Seconds(8));
}

TEST_P(SourceFaultsTest, ServerErrorsAreRetried) {
  Start();
  ExpectCompletedAndLevel(Run(R"({"fail_5xx_every":3})"), "5xx every 3rd");
}

TEST_P(SourceFaultsTest, ConnectionResetsAreRetried) {
  Start();
  ExpectCompletedAndLevel(Run(R"({"drop_connection_on_page":2})"), "reset on page 2");
}

TEST_P(SourceFaultsTest, TimeoutsOnEveryTryFailTheRunAndWriteNothing) {
  Start({"--source_request_timeout_seconds=1"});
  const Outcome o = Run(R"({"latency_ms":1500})");
  ExpectFailedAt(o, "orders page 1", "every answer later than the timeout");
  EXPECT_THAT(o.error, AnyOf(HasSubstr("timed out"), HasSubstr("timeout"), HasSubstr("Timeout")));
  EXPECT_EQ(Stored(), 0);
  EXPECT_EQ(o.cursor_after, 0);
  // Once the source answers in time again, the next run completes.
  ExpectCompletedAndLevel(Run(""), "after the timeouts");
}

TEST_P(SourceFaultsTest, TruncatedPageFailsKeepingTheCommittedPagesAndTheirCursor) {
  Start();
  const Outcome o = Run(R"({"truncate_page":3})");
  ExpectFailedAt(o, "orders page 3", "truncated page 3");
  EXPECT_EQ(Stored(), 2 * kPage);
  ExpectCompletedAndLevel(Run(""), "after the truncated page");
}

TEST_P(SourceFaultsTest, GarbagePageOnAnIncrementalRunChangesNothing) {
  Start();
  ExpectCompletedAndLevel(Run(""), "first sync");
  ASSERT_TRUE(sys_->sim().Tick(kStore).ok());  // news to fetch
  const std::string before = sys_->CompareWithSource(kStore);
  ASSERT_NE(before, "");
  auto stored_before = DatabaseSummary(sys_->db_url(), kStore);
  const Outcome o = Run(R"({"malformed_page":1})");
  ExpectFailedAt(o, "orders page 1", "garbage JSON on page 1");
  EXPECT_EQ(o.cursor_after, o.cursor_before);
  auto stored_after = DatabaseSummary(sys_->db_url(), kStore);
  ASSERT_TRUE(stored_before.ok() && stored_after.ok());
  EXPECT_EQ(stored_after->checksum, stored_before->checksum);
  ExpectCompletedAndLevel(Run(""), "after the garbage page");
}

TEST_P(SourceFaultsTest, MixedRecoverableFaultsComplete) {
  // The ads throttle is waited out for at most a second here (300 s by default).
  Start({"--ads_max_throttle_wait_seconds=1"});
  ExpectCompletedAndLevel(
      Run(R"({"fail_5xx_every":5,"burst_429":2,"drop_connection_on_page":4,"latency_ms":20,)"
          R"("ads_throttle":1})"),
      "5xx + 429 + reset + latency + ads throttle");
}

TEST_P(SourceFaultsTest, MixedFaultsEndingInGarbageFailAtThatPageAndResume) {
  Start();
  const Outcome o =
      Run(R"({"fail_5xx_every":4,"burst_429":2,"drop_connection_on_page":2,"malformed_page":5})");
  // store-sim counts the dropped answer as a page, so the worker's page 4 is the garbage one.
  ExpectFailedAt(o, "orders page 4", "retried faults, then garbage");
  EXPECT_THAT(o.error, HasSubstr("not valid JSON"));
  EXPECT_GT(Stored(), 0);
  EXPECT_LT(Stored(), kOrders);
  // The next run resumes from the cursor and completes.
  const Outcome resumed = Run("");
  ExpectCompletedAndLevel(resumed, "after the mixed faults");
  EXPECT_LT(resumed.terminal.counts().orders_fetched(), kOrders);
}

INSTANTIATE_TEST_SUITE_P(BothShopifyApis, SourceFaultsTest, ::testing::Values("rest", "graphql"),
                         [](const ::testing::TestParamInfo<std::string>& api) {
                           return api.param;
                         });

}  // namespace
}  // namespace autosync::testing
