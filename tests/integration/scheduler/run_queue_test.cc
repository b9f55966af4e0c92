// The run queue (PgRunQueue, migration 0005) against real PostgreSQL: dispatch order (people
// first, then the oldest data), capacity (only the live workers' free slots), SKIP LOCKED
// dispatch by two replicas at once (each run taken once, never more running than slots), a
// refused run given back, coalescing and promotion of triggers, pausing drops queued scheduled
// runs with a reason, queue positions and gauges, and bounded history.
#include "scheduler-service/run_queue.h"

#include <atomic>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/store_validation.h"
#include "tests/support/migrated_db.h"

namespace autosync::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RunQueueTest : public autosync::testing::MigratedDatabaseTest {
 protected:
  RunQueueTest() : MigratedDatabaseTest(4) {}

  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    queue_ = std::make_unique<PgRunQueue>(*pool_);
  }

  void Stores(int n, const std::string& prefix = "s") {
    Exec(absl::StrCat("INSERT INTO stores (store_id) SELECT '", prefix,
                      "' || lpad(i::text, 4, '0') FROM generate_series(1, ", n, ") i"));
  }
  void Slots(const std::string& worker, int slots, const std::string& seen = "now()") {
    Exec(absl::StrCat("INSERT INTO worker_slots (worker_id, slots, seen_at) VALUES ('", worker,
                      "', ", slots, ", ", seen,
                      ") ON CONFLICT (worker_id) DO UPDATE SET "
                      "slots = excluded.slots, seen_at = excluded.seen_at"));
  }
  // A completed run of `store` that finished `minutes_ago`.
  void Succeeded(const std::string& store, int minutes_ago) {
    Exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, "
        "started_at, finished_at) VALUES ('ok-",
        store, "', '", store, "', 'api', 'completed', 'completed', now(), now() - interval '",
        minutes_ago, " minutes')"));
  }
  EnqueueResult Enqueue(const std::string& store, const std::string& run,
                        autosync::v1::Trigger trigger = autosync::v1::TRIGGER_CRON) {
    absl::StatusOr<EnqueueResult> r = queue_->Enqueue({.store_id = store,
                                                       .run_id = run,
                                                       .trigger = trigger,
                                                       .priority = PriorityOf(trigger),
                                                       .owner = "test"});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : EnqueueResult{};
  }
  std::vector<std::string> TakeIds(int limit, const std::string& owner = "a") {
    absl::StatusOr<Dispatch> d = queue_->Take(owner, limit);
    EXPECT_TRUE(d.ok()) << d.status();
    std::vector<std::string> ids;
    if (d.ok()) {
      for (const DispatchedRun& r : d->runs) ids.push_back(r.run_id);
    }
    return ids;
  }
  void Finish(const std::string& run_id) {
    Exec(
        absl::StrCat("UPDATE sync_runs SET status = 'completed', finished_at = now() "
                     "WHERE run_id = '",
                     run_id, "'"));
  }

  std::unique_ptr<PgRunQueue> queue_;
};

TEST_F(RunQueueTest, PeopleGoFirstThenTheStoreWithTheOldestData) {
  Stores(4);
  Succeeded("s0001", 10);   // fresh-ish
  Succeeded("s0002", 300);  // oldest data of the synced ones
  Succeeded("s0003", 60);
  // s0004 never synced: the oldest data of all.
  Enqueue("s0001", "r1");
  Enqueue("s0002", "r2");
  Enqueue("s0003", "r3");
  Enqueue("s0004", "r4");
  // Queued last, but a person asked.
  Enqueue("s0001", "ignored");  // coalesces with r1
  Stores(1, "m");
  Enqueue("m0001", "manual", autosync::v1::TRIGGER_MANUAL);
  Slots("w1", 100);
  absl::StatusOr<Dispatch> d = queue_->Take("a", 1);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->runs.size(), 1u);
  EXPECT_EQ(d->runs[0].run_id, "manual");
  EXPECT_EQ(d->runs[0].trigger, autosync::v1::TRIGGER_MANUAL);
  EXPECT_THAT(TakeIds(1), ElementsAre("r4"));
  EXPECT_THAT(TakeIds(1), ElementsAre("r2"));
  EXPECT_THAT(TakeIds(1), ElementsAre("r3"));
  EXPECT_THAT(TakeIds(1), ElementsAre("r1"));
  EXPECT_TRUE(TakeIds(1).empty());
  // Taken runs are running, owned by the taker, and have started_at.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status = 'running' AND owner = 'a' "
                   "AND started_at IS NOT NULL"),
            5);
}

TEST_F(RunQueueTest, DispatchesOnlyTheLiveWorkersFreeSlots) {
  Stores(10);
  for (int i = 1; i <= 10; ++i)
    Enqueue(absl::StrCat("s", absl::Dec(i, absl::kZeroPad4)), absl::StrCat("r", i));
  // No worker: nothing is dispatched, however large the local limit.
  EXPECT_TRUE(TakeIds(100).empty());
  // A worker that went away (not seen for a minute) does not count either.
  Slots("gone", 50, "now() - interval '1 minute'");
  EXPECT_TRUE(TakeIds(100).empty());
  // Two live workers with 2 and 1 slots: three runs, then none until one ends.
  Slots("w1", 2);
  Slots("w2", 1);
  absl::StatusOr<Dispatch> d = queue_->Take("a", 100);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->runs.size(), 3u);
  EXPECT_EQ(d->slots, 3);
  EXPECT_EQ(d->running, 0);
  EXPECT_TRUE(TakeIds(100).empty());
  Finish(d->runs[0].run_id);
  EXPECT_EQ(TakeIds(100).size(), 1u);
  // The local limit bounds a replica's share.
  Slots("w1", 10);
  EXPECT_EQ(TakeIds(2).size(), 2u);
}

// Two scheduler replicas dispatch from one queue at the same moment, in many small takes: each
// run is taken exactly once, by one of them, and never more runs run than the workers' slots.
TEST_F(RunQueueTest, TwoReplicasDispatchEachRunOnceWithinTheSlots) {
  constexpr int kRuns = 240;
  constexpr int kSlots = 16;
  Stores(kRuns);
  for (int i = 1; i <= kRuns; ++i) {
    Enqueue(absl::StrCat("s", absl::Dec(i, absl::kZeroPad4)), absl::StrCat("r", i));
  }
  Slots("w1", kSlots);
  auto other_pool = common::PgPool::Create({.url = url_, .size = 2});
  ASSERT_TRUE(other_pool.ok());
  PgRunQueue other(**other_pool);
  auto finisher_pool = common::PgPool::Create({.url = url_, .size = 1});
  ASSERT_TRUE(finisher_pool.ok());

  std::atomic<int> max_running{0};
  std::mutex mu;
  std::multiset<std::string> taken;
  auto replica = [&](RunQueueStore& q, const std::string& owner) {
    const absl::Time deadline = absl::Now() + absl::Seconds(180);  // a bound, not a target
    while (absl::Now() < deadline) {
      absl::StatusOr<Dispatch> d = q.Take(owner, 3);
      ASSERT_TRUE(d.ok()) << d.status();
      const int now_running = d->running + static_cast<int>(d->runs.size());
      int seen = max_running.load();
      while (now_running > seen && !max_running.compare_exchange_weak(seen, now_running)) {
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        for (const DispatchedRun& r : d->runs) taken.insert(r.run_id);
        if (taken.size() >= static_cast<size_t>(kRuns)) return;
      }
      // Each taken run "completes" at once, freeing its slot for either replica.
      for (const DispatchedRun& r : d->runs) {
        ASSERT_TRUE((*finisher_pool)
                        ->Run([&](pqxx::connection_base& c) {
                          pqxx::work tx(c);
                          tx.exec_params(
                              "UPDATE sync_runs SET status = 'completed', finished_at = now() "
                              "WHERE run_id = $1 AND status = 'running'",
                              r.run_id);
                          tx.commit();
                          return absl::OkStatus();
                        })
                        .ok());
      }
    }
  };
  std::thread a([&] { replica(*queue_, "replica-a"); });
  std::thread b([&] { replica(other, "replica-b"); });
  a.join();
  b.join();
  EXPECT_EQ(taken.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(std::set<std::string>(taken.begin(), taken.end()).size(),
            static_cast<size_t>(kRuns));  // none twice
  EXPECT_LE(max_running.load(), kSlots);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status = 'queued'"), 0);
  // Both replicas dispatched.
  EXPECT_GT(Scalar("SELECT count(*) FROM sync_runs WHERE owner = 'replica-a'"), 0);
  EXPECT_GT(Scalar("SELECT count(*) FROM sync_runs WHERE owner = 'replica-b'"), 0);
}

TEST_F(RunQueueTest, RefusedRunGoesBackInItsPlaceAfterItsBackoff) {
  Stores(2);
  Enqueue("s0001", "r1");
  Enqueue("s0002", "r2");
  Slots("w1", 1);
  ASSERT_THAT(TakeIds(1), ElementsAre("r1"));
  ASSERT_TRUE(queue_->GiveBack({"s0001", "r1"}, absl::Now() + absl::Hours(1)).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'r1' AND status = 'queued' "
                   "AND started_at IS NULL AND refusals = 1"),
            1);
  // In backoff: r2 goes instead.
  EXPECT_THAT(TakeIds(5), ElementsAre("r2"));
  Finish("r2");
  EXPECT_TRUE(TakeIds(5).empty());
  // Backoff over: r1 again, carrying its refusal count.
  Exec("UPDATE sync_runs SET not_before = now() - interval '1 second' WHERE run_id = 'r1'");
  absl::StatusOr<Dispatch> d = queue_->Take("a", 5);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->runs.size(), 1u);
  EXPECT_EQ(d->runs[0].refusals, 1);
  // Giving back a run that is no longer running changes nothing.
  Finish("r1");
  ASSERT_TRUE(queue_->GiveBack({"s0001", "r1"}, absl::Now()).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'r1' AND status = 'completed'"),
            1);
}

TEST_F(RunQueueTest, TriggersCoalesceAndPromoteAQueuedScheduledRun) {
  Stores(2);
  EnqueueResult first = Enqueue("s0001", "cron-1");
  EXPECT_TRUE(first.queued);
  EXPECT_EQ(first.position, 1);
  // A person's trigger: no second run, the queued one moves ahead.
  EnqueueResult manual = Enqueue("s0001", "manual-1", autosync::v1::TRIGGER_MANUAL);
  EXPECT_FALSE(manual.queued);
  EXPECT_TRUE(manual.promoted);
  EXPECT_EQ(manual.run_id, "cron-1");
  EXPECT_EQ(manual.position, 1);
  EXPECT_EQ(Scalar("SELECT priority FROM sync_runs WHERE run_id = 'cron-1'"), 0);
  // Again: already at the front, nothing to promote.
  EXPECT_FALSE(Enqueue("s0001", "manual-2", autosync::v1::TRIGGER_MANUAL).promoted);
  // A retry waiting out its backoff is brought forward by a person too.
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, priority, not_before, "
      "attempt) VALUES ('retry', 's0002', 'manual', 'queued', 'queued', 0, "
      "now() + interval '10 minutes', 2)");
  EnqueueResult bring = Enqueue("s0002", "manual-3", autosync::v1::TRIGGER_MANUAL);
  EXPECT_TRUE(bring.promoted);
  EXPECT_EQ(bring.run_id, "retry");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'retry' AND "
                   "not_before <= now()"),
            1);
  // A running run is answered as it is.
  Slots("w1", 5);
  EXPECT_EQ(TakeIds(5).size(), 2u);
  EnqueueResult during = Enqueue("s0001", "manual-4", autosync::v1::TRIGGER_MANUAL);
  EXPECT_FALSE(during.queued);
  EXPECT_FALSE(during.promoted);
  EXPECT_EQ(during.run_id, "cron-1");
  // Unknown store.
  absl::StatusOr<EnqueueResult> none =
      queue_->Enqueue({.store_id = "nope", .run_id = "x", .owner = "test"});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id LIKE 'manual-%'"), 0);
}

// Data types and backfills (migration 0008): a person's trigger widens a queued scheduled run
// that syncs only some types to all of them; a backfill is never merged into the store's active
// run (nor is anything merged into a queued backfill), and goes in at low priority with its days.
TEST_F(RunQueueTest, TriggersWidenAQueuedRunButABackfillIsNeverMerged) {
  Stores(3);
  auto enqueue = [&](EnqueueRequest req) {
    absl::StatusOr<EnqueueResult> r = queue_->Enqueue(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : EnqueueResult{};
  };
  auto types = [&](const std::string& run) {
    pqxx::connection conn(url_);
    return pqxx::nontransaction(conn)
        .exec1("SELECT array_to_string(data_types, ',') FROM sync_runs WHERE run_id = '" + run +
               "'")[0]
        .as<std::string>();
  };
  enqueue({.store_id = "s0001",
           .run_id = "ads-only",
           .trigger = autosync::v1::TRIGGER_CRON,
           .priority = RunPriority::kCron,
           .types = kAdsType,
           .owner = "test"});
  EXPECT_EQ(types("ads-only"), "ads");
  EnqueueResult widened = enqueue({.store_id = "s0001",
                                   .run_id = "person",
                                   .trigger = autosync::v1::TRIGGER_MANUAL,
                                   .owner = "test"});
  EXPECT_FALSE(widened.queued);
  EXPECT_EQ(widened.run_id, "ads-only");
  EXPECT_EQ(types("ads-only"), "orders,ads");

  // A backfill meets the queued run: answered with it, nothing changed.
  EnqueueResult refused = enqueue({.store_id = "s0001",
                                   .run_id = "bf-1",
                                   .trigger = autosync::v1::TRIGGER_MANUAL,
                                   .priority = RunPriority::kLow,
                                   .types = kOrdersType,
                                   .backfill_from = "2024-01-01",
                                   .backfill_to = "2024-01-31",
                                   .owner = "test"});
  EXPECT_FALSE(refused.queued);
  EXPECT_FALSE(refused.promoted);
  EXPECT_EQ(refused.run_id, "ads-only");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'bf-1'"), 0);

  // On a store with nothing queued it goes in with its days, at low priority; a trigger that
  // follows is answered with it and changes nothing of it.
  EnqueueResult queued = enqueue({.store_id = "s0002",
                                  .run_id = "bf-2",
                                  .trigger = autosync::v1::TRIGGER_MANUAL,
                                  .priority = RunPriority::kLow,
                                  .types = kOrdersType,
                                  .backfill_from = "2024-01-01",
                                  .backfill_to = "2024-01-31",
                                  .owner = "test"});
  EXPECT_TRUE(queued.queued);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'bf-2' AND priority = 2 AND "
                   "backfill_from = '2024-01-01' AND backfill_to = '2024-01-31'"),
            1);
  EnqueueResult after = enqueue({.store_id = "s0002",
                                 .run_id = "person-2",
                                 .trigger = autosync::v1::TRIGGER_MANUAL,
                                 .owner = "test"});
  EXPECT_FALSE(after.queued);
  EXPECT_FALSE(after.promoted);
  EXPECT_EQ(types("bf-2"), "orders");
  EXPECT_EQ(Scalar("SELECT priority FROM sync_runs WHERE run_id = 'bf-2'"), 2);
  // Dispatch hands the run out with its work.
  Slots("w1", 5);
  absl::StatusOr<Dispatch> taken = queue_->Take("test", 5);
  ASSERT_TRUE(taken.ok()) << taken.status();
  bool saw_backfill = false;
  for (const DispatchedRun& run : taken->runs) {
    if (run.run_id != "bf-2") continue;
    saw_backfill = true;
    EXPECT_EQ(run.types, kOrdersType);
    EXPECT_EQ(run.backfill_from, "2024-01-01");
    EXPECT_EQ(run.backfill_to, "2024-01-31");
  }
  EXPECT_TRUE(saw_backfill);
}

TEST_F(RunQueueTest, PausingAStoreDropsItsQueuedScheduledRunsWithTheReason) {
  Stores(1);
  PgRepository repo(*pool_);
  Enqueue("s0001", "cron-1");
  autosync::v1::Store store;
  store.set_store_id("s0001");
  store.set_schedule("0 * * * *");
  store.set_timezone("UTC");
  store.set_staleness_seconds(3600);
  store.set_enabled(false);
  store.set_pause_note("migrating");
  // As the scheduler writes it: normalized (the repository's contract).
  store = *NormalizeStore(store, {});
  ASSERT_TRUE(repo.UpsertStore(store, {}).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'cron-1' AND "
                   "status = 'cancelled' AND error = 'dropped from the run queue: the store was "
                   "paused (migrating)' AND finished_at IS NOT NULL"),
            1);
  // A person's run of a paused store still queues and stays.
  EXPECT_TRUE(Enqueue("s0001", "manual-1", autosync::v1::TRIGGER_MANUAL).queued);
  ASSERT_TRUE(repo.UpsertStore(store, {}).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'manual-1' AND "
                   "status = 'queued'"),
            1);
}

TEST_F(RunQueueTest, PositionsAndGaugesFollowTheQueue) {
  Stores(5);
  Exec("UPDATE stores SET staleness_seconds = 60 WHERE store_id = 's0005'");
  for (int i = 1; i <= 4; ++i) Enqueue(absl::StrCat("s000", i), absl::StrCat("r", i));
  Enqueue("s0005", "m5", autosync::v1::TRIGGER_API);
  Exec("UPDATE sync_runs SET queued_at = now() - interval '5 minutes' WHERE run_id = 'm5'");
  absl::StatusOr<std::vector<QueuePlace>> places = queue_->Places({"s0005", "s0003", "zzz"});
  ASSERT_TRUE(places.ok()) << places.status();
  ASSERT_EQ(places->size(), 2u);
  for (const QueuePlace& p : *places) {
    if (p.store_id == "s0005") {
      EXPECT_EQ(p.position, 1);  // a person's run goes first
      EXPECT_EQ(p.run_id, "m5");
    } else {
      EXPECT_EQ(p.position, 4);  // third of the cron runs (same data age: queue order)
    }
  }
  Slots("w1", 4);
  ASSERT_EQ(TakeIds(1).size(), 1u);
  absl::StatusOr<QueueStats> stats = queue_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->depth[0], 0);
  EXPECT_EQ(stats->depth[1], 4);
  EXPECT_EQ(stats->depth[2], 0);
  EXPECT_EQ(stats->slots, 4);
  EXPECT_EQ(stats->running, 1);
  EXPECT_EQ(stats->overdue, 0);  // m5 (5 min, threshold 60 s) is running now
  Exec("UPDATE sync_runs SET queued_at = now() - interval '2 hours' WHERE run_id = 'r4'");
  stats = queue_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->overdue, 1);  // r4: 2 h against the default 3600 s
  EXPECT_GE(stats->oldest, absl::Hours(2));
}

TEST_F(RunQueueTest, HistoryIsPrunedInBatchesKeepingEachStoresNewestRun) {
  Stores(3);
  // s0001: 25 old runs and one recent; s0002: only old runs; s0003: an old queued run.
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, queued_at, "
      "finished_at) SELECT 'old-' || i, 's0001', 'cron', 'completed', 'completed', "
      "now() - interval '40 days' + i * interval '1 minute', now() - interval '40 days' "
      "FROM generate_series(1, 25) i");
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
      "VALUES ('recent', 's0001', 'cron', 'failed', 'failed', now())");
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, queued_at, "
      "finished_at) SELECT 'only-' || i, 's0002', 'api', 'failed', 'failed', "
      "now() - interval '50 days' + i * interval '1 minute', now() - interval '50 days' "
      "FROM generate_series(1, 3) i");
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, queued_at) "
      "VALUES ('waiting', 's0003', 'cron', 'queued', 'queued', now() - interval '40 days')");
  // Batches of 10, at most 2 per pass: 20 rows this pass, the rest the next.
  absl::StatusOr<int64_t> first = queue_->PruneHistory(absl::Hours(24 * 30), 10, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 20);
  absl::StatusOr<int64_t> second = queue_->PruneHistory(absl::Hours(24 * 30), 10, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 7);  // 25 + 2 (s0002 keeps its newest) - 20
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 's0001'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'recent'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 's0002'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'only-3'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 'waiting'"), 1);
  absl::StatusOr<int64_t> third = queue_->PruneHistory(absl::Hours(24 * 30), 10, 2);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, 0);
}

}  // namespace
}  // namespace autosync::scheduler
