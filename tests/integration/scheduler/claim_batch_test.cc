// The cron tick path of issue #9 against real PostgreSQL, in its two steps.
// Claim (Repository::ClaimTicks, tick_claims): each (store, boundary) is won by exactly one
// replica, also when two claim the same boundary at once; a store's claim only moves forward;
// claimed_at is the clock at the claim; claims never recorded are found (UnrecordedClaims) and
// recorded once. Record (RecordTicks, sync_runs): a batch that mixes every outcome decides each
// tick exactly as the row-by-row RecordTick does (outcome, detail, row contents); started_at is
// the clock at the record; two replicas recording the same ticks at once (a recovery pass racing
// a slow original) record each once without deadlocks; a run committed after the statement's
// snapshot rolls the whole batch back (ALREADY_EXISTS) without recording anything.
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/repository.h"
#include "tests/support/migrated_db.h"

namespace autosync::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ClaimBatchTest : public autosync::testing::MigratedDatabaseTest {
 protected:
  ClaimBatchTest() : MigratedDatabaseTest(4) {}

  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    repo_ = std::make_unique<Repository>(*pool_);
  }

  // One store per outcome, ids prefixed so that two identical sets can be decided by the batch
  // and by the per-row path.
  void MakeMixedStores(const std::string& p, absl::Time tick) {
    Exec(absl::StrCat(
        "INSERT INTO stores (store_id, staleness_seconds, enabled) VALUES ",
        "('", p, "fresh', 3600, true), ('", p, "overlap', 3600, true), ('", p,
        "start', 3600, true), ('", p, "stale', 3600, true), ('", p, "disabled', 3600, false), ('",
        p, "lost', 3600, true), ('", p, "zero', 0, true)"));
    // Fresh: a success 20 minutes ago. Stale: a success 2 hours ago. Zero staleness: a success
    // a second ago still does not count as fresh. Overlap: a run in flight (and an older
    // success outside the window).
    Exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
        "finished_at) VALUES "
        "('", p, "r1', '", p, "fresh', 'manual', 'completed', 'completed', "
        "now() - interval '21 minutes', now() - interval '20 minutes'), "
        "('", p, "r2', '", p, "stale', 'manual', 'completed', 'completed', "
        "now() - interval '3 hours', now() - interval '2 hours'), "
        "('", p, "r3', '", p, "zero', 'manual', 'completed', 'completed', "
        "now() - interval '2 seconds', now() - interval '1 second'), "
        "('", p, "r4', '", p, "overlap', 'api', 'running', 'orders', now(), NULL)"));
    // Lost: another replica already claimed this tick.
    Exec(absl::StrCat("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, "
                      "scheduled_for, owner, finished_at) VALUES ('",
                      p, "other', '", p, "lost', 'cron', 'skipped', 'skipped', to_timestamp(",
                      absl::ToUnixSeconds(tick), "), 'replica-b', now())"));
  }

  static std::vector<std::string> MixedNames() {
    return {"fresh", "overlap", "start", "stale", "disabled", "missing", "lost", "zero"};
  }

  // The row of a run as a comparable string (prefix stripped from ids).
  std::string RowOf(const std::string& run_id, const std::string& p) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec_params(
        "SELECT trigger, status, stage, owner, replace(error, $2, ''), finished_at IS NULL, "
        "extract(epoch FROM scheduled_for)::bigint, heartbeat_at IS NOT NULL "
        "FROM sync_runs WHERE run_id = $1",
        run_id, p);
    if (r.empty()) return "(none)";
    std::string out;
    for (const auto& f : r[0]) absl::StrAppend(&out, f.c_str(), "|");
    return out;
  }

  // Two replicas (this fixture's repository and `other`) work through the same ticks of `ids`
  // at `tick` at the same moment, each in its own chunks (700 and 450, so chunks overlap
  // partially) on two connections. `call(repo, part, owner)` claims or records one chunk and
  // returns one result per tick. Returns, per replica, each tick asked with its result; a
  // failed call is a test failure and its ticks have no result.
  template <typename Result, typename Call>
  std::vector<std::vector<std::pair<TickRequest, Result>>> TwoReplicasAtOnce(
      Repository& other, const std::vector<std::string>& ids, absl::Time tick, int round,
      Call call) {
    std::atomic<int> ready{0};
    std::vector<std::vector<std::pair<TickRequest, Result>>> results(2);
    auto replica = [&](int r, Repository& repo, size_t chunk) {
      std::vector<std::vector<TickRequest>> parts;
      for (size_t b = 0; b < ids.size(); b += chunk) {
        std::vector<TickRequest> part;
        for (size_t i = b; i < std::min(ids.size(), b + chunk); ++i) {
          part.push_back({ids[i], absl::StrCat("r", r, "-", round, "-", ids[i]), tick});
        }
        parts.push_back(std::move(part));
      }
      std::vector<std::vector<Result>> out(parts.size());
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();  // both start together
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
          for (size_t k = static_cast<size_t>(t); k < parts.size(); k += 2) {
            auto c = call(repo, parts[k], absl::StrCat("replica-", r));
            if (!c.ok()) {
              ADD_FAILURE() << c.status();
              continue;
            }
            EXPECT_EQ(c->size(), parts[k].size());
            out[k] = *std::move(c);
          }
        });
      }
      for (std::thread& th : threads) th.join();
      for (size_t k = 0; k < parts.size(); ++k) {
        for (size_t i = 0; i < parts[k].size() && i < out[k].size(); ++i) {
          results[static_cast<size_t>(r)].emplace_back(parts[k][i], out[k][i]);
        }
      }
    };
    std::thread a([&] { replica(0, *repo_, 700); });
    std::thread b([&] { replica(1, other, 450); });
    a.join();
    b.join();
    return results;
  }

  std::unique_ptr<Repository> repo_;
};

const char* Name(TickOutcome o) {
  switch (o) {
    case TickOutcome::kStarted:
      return "started";
    case TickOutcome::kSkippedFresh:
      return "fresh";
    case TickOutcome::kSkippedOverlap:
      return "overlap";
    case TickOutcome::kLost:
      return "lost";
    case TickOutcome::kNotScheduled:
      return "not-scheduled";
  }
  return "?";
}

TEST_F(ClaimBatchTest, EmptyBatchClaimsAndRecordsNothing) {
  auto claims = repo_->ClaimTicks({}, "replica-a");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(claims->empty());
  auto records = repo_->RecordTicks({}, "replica-a");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(records->empty());
  // Warming runs the claim with no ticks on each connection: it succeeds and claims nothing.
  EXPECT_TRUE(repo_->WarmClaimConnections(4).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 0);
}

TEST_F(ClaimBatchTest, MixedBatchDecidesEachTickAsTheRowByRowClaim) {
  const absl::Time tick = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60);
  MakeMixedStores("a-", tick);
  MakeMixedStores("b-", tick);
  std::vector<TickRequest> batch;
  for (const std::string& n : MixedNames()) {
    batch.push_back({"a-" + n, "a-run-" + n, tick});
  }
  // Not in store order: the repository orders the inserts itself.
  std::shuffle(batch.begin(), batch.end(), std::mt19937(7));
  const absl::Time before = absl::Now();
  auto claims = repo_->RecordTicks(batch, "replica-a");
  const absl::Time after = absl::Now();
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), batch.size());

  std::map<std::string, TickClaim> by_name;
  for (size_t i = 0; i < batch.size(); ++i) by_name[batch[i].store_id.substr(2)] = (*claims)[i];
  EXPECT_STREQ(Name(by_name["fresh"].outcome), "fresh");
  EXPECT_STREQ(Name(by_name["overlap"].outcome), "overlap");
  EXPECT_STREQ(Name(by_name["start"].outcome), "started");
  EXPECT_STREQ(Name(by_name["stale"].outcome), "started");
  EXPECT_STREQ(Name(by_name["disabled"].outcome), "not-scheduled");
  EXPECT_STREQ(Name(by_name["missing"].outcome), "not-scheduled");
  EXPECT_STREQ(Name(by_name["lost"].outcome), "lost");
  EXPECT_STREQ(Name(by_name["zero"].outcome), "started");
  EXPECT_THAT(by_name["fresh"].detail,
              ::testing::MatchesRegex("skipped: data is fresh \\(last success 1[12][0-9][0-9] s "
                                      "ago, staleness threshold 3600 s\\)"));
  EXPECT_EQ(by_name["overlap"].detail, "skipped: run a-r4 was still in flight");

  // The same ticks decided one by one: identical outcomes, details and rows.
  for (const std::string& n : MixedNames()) {
    SCOPED_TRACE(n);
    auto single = repo_->RecordTick("b-" + n, "b-run-" + n, tick, "replica-a");
    ASSERT_TRUE(single.ok()) << single.status();
    const TickClaim& batched = by_name[n];
    EXPECT_STREQ(Name(single->outcome), Name(batched.outcome));
    std::string single_detail = single->detail;
    const std::string batched_detail = batched.detail;
    if (n == "fresh") {
      // The age may tick over by a second between the two claims.
      EXPECT_THAT(single_detail, StartsWith("skipped: data is fresh (last success 1"));
    } else if (n == "overlap") {
      EXPECT_EQ(single->detail, "skipped: run b-r4 was still in flight");
      EXPECT_EQ(batched_detail, "skipped: run a-r4 was still in flight");
    } else {
      EXPECT_EQ(single_detail, batched_detail);
    }
    if (n != "fresh") {
      EXPECT_EQ(RowOf("b-run-" + n, "b-"), RowOf("a-run-" + n, "a-"));
    }
  }
  // Every claimed row's started_at is the clock at the claim (within the call), not earlier.
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  const pqxx::result r = tx.exec(
      "SELECT (extract(epoch FROM min(started_at)) * 1000000)::bigint, "
      "(extract(epoch FROM max(started_at)) * 1000000)::bigint, count(*) FROM sync_runs "
      "WHERE run_id LIKE 'a-run-%'");
  EXPECT_EQ(r[0][2].as<int64_t>(), 5);  // all but disabled, missing and lost
  // lost wrote no row of ours: a-other stays the only claim of that tick.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'a-lost'"), 1);
  EXPECT_GE(absl::FromUnixMicros(r[0][0].as<int64_t>()), before - absl::Milliseconds(5));
  EXPECT_LE(absl::FromUnixMicros(r[0][1].as<int64_t>()), after + absl::Milliseconds(5));
  // A second claim of the same ticks loses every one of them (or finds them unscheduled).
  std::vector<TickRequest> again = batch;
  for (TickRequest& t : again) t.run_id += "-again";
  auto second = repo_->RecordTicks(again, "replica-b");
  ASSERT_TRUE(second.ok()) << second.status();
  for (size_t i = 0; i < again.size(); ++i) {
    const std::string n = again[i].store_id.substr(2);
    EXPECT_STREQ(Name((*second)[i].outcome),
                 n == "disabled" || n == "missing" ? "not-scheduled" : "lost")
        << n;
  }
}

TEST_F(ClaimBatchTest, DuplicateAndOddRequestsInOneBatch) {
  const absl::Time tick = absl::FromUnixSeconds(1700000040);
  Exec("INSERT INTO stores (store_id) VALUES ('dup')");
  // The same store twice for one tick: one claim, the other lost.
  auto claims = repo_->RecordTicks({{"dup", "run-1", tick}, {"dup", "run-2", tick}}, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), 2u);
  EXPECT_EQ(((*claims)[0].outcome == TickOutcome::kLost) +
                ((*claims)[1].outcome == TickOutcome::kLost),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 1);
  // The same store for two ticks, both would start: one running run per store is the rule,
  // so the batch is refused as a whole and nothing is claimed.
  Exec("UPDATE sync_runs SET status = 'failed', finished_at = now() WHERE store_id = 'dup'");
  auto both = repo_->RecordTicks(
      {{"dup", "run-3", tick + absl::Minutes(1)}, {"dup", "run-4", tick + absl::Minutes(2)}},
      "r");
  EXPECT_EQ(both.status().code(), absl::StatusCode::kAlreadyExists) << both.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 1);
  // Store ids that are not registered (or could never be): not scheduled, nothing written.
  auto odd = repo_->RecordTicks({{"no-such-store", "run-5", tick},
                                {std::string(63, 'z'), "run-6", tick}},
                               "r");
  ASSERT_TRUE(odd.ok()) << odd.status();
  for (const TickClaim& c : *odd) EXPECT_EQ(c.outcome, TickOutcome::kNotScheduled);
}

TEST_F(ClaimBatchTest, LargeBatchInOneStatement) {
  Exec("INSERT INTO stores (store_id) SELECT 'big' || i FROM generate_series(1, 5000) i");
  Exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
       "SELECT 'seed-' || store_id, store_id, 'api', 'completed', 'completed', now() "
       "FROM stores WHERE store_id LIKE 'big%' AND right(store_id, 1) <> '7'");
  const absl::Time tick = absl::FromUnixSeconds(1700000100);
  std::vector<TickRequest> batch;
  for (int i = 1; i <= 5000; ++i) {
    batch.push_back({absl::StrCat("big", i), absl::StrCat("run-", i), tick});
  }
  auto claims = repo_->RecordTicks(batch, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  int started = 0;
  int fresh = 0;
  for (const TickClaim& c : *claims) {
    started += c.outcome == TickOutcome::kStarted;
    fresh += c.outcome == TickOutcome::kSkippedFresh;
  }
  EXPECT_EQ(started, 500);
  EXPECT_EQ(fresh, 4500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND status = "
                   "'running' AND right(store_id, 1) = '7'"),
            500);
}

// Two replicas pop the same boundary and claim it at the same moment, each in its own chunks
// (different sizes, so chunks overlap partially). Every tick is claimed exactly once, every
// claim of the loser is kLost, and no batch fails (no deadlock: inserts are store-ordered).
TEST_F(ClaimBatchTest, TwoReplicasClaimTheSameBatchConcurrently) {
  constexpr int kStores = 3000;
  Exec(absl::StrCat("INSERT INTO stores (store_id) SELECT 'c' || lpad(i::text, 5, '0') "
                    "FROM generate_series(1, ",
                    kStores, ") i"));
  // Two thirds fresh (skipped), one third never synced (started on the first tick, overlap
  // on the next).
  Exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
       "SELECT 'seed-' || store_id, store_id, 'api', 'completed', 'completed', now() "
       "FROM stores WHERE substr(store_id, 2)::int % 3 <> 0");
  auto other_pool = common::PgPool::Create({.url = url_, .size = 4});
  ASSERT_TRUE(other_pool.ok());
  Repository other(**other_pool);
  std::vector<std::string> ids;
  for (int i = 1; i <= kStores; ++i) {
    ids.push_back(absl::StrCat("c", absl::Dec(i, absl::kZeroPad5)));
  }
  std::sort(ids.begin(), ids.end());

  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(round);
    const absl::Time tick = absl::FromUnixSeconds(1700000000 + 60 * round);
    const auto results = TwoReplicasAtOnce<TickClaim>(
        other, ids, tick, round,
        [](Repository& repo, const std::vector<TickRequest>& part, const std::string& owner) {
          return repo.RecordTicks(part, owner);
        });
    ASSERT_EQ(results[0].size(), ids.size());
    ASSERT_EQ(results[1].size(), ids.size());
    std::map<std::string, int> wins;
    for (const auto& replica : results) {
      for (const auto& [asked, result] : replica) {
        EXPECT_NE(result.outcome, TickOutcome::kNotScheduled);
        if (result.outcome != TickOutcome::kLost) ++wins[asked.store_id];
      }
    }
    EXPECT_EQ(wins.size(), ids.size());
    for (const auto& [id, n] : wins) EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND "
                                  "scheduled_for = to_timestamp(",
                                  absl::ToUnixSeconds(tick), ")")),
              kStores);
    // One running run per store at most, and the never-synced third is running.
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status = 'running'"), kStores / 3);
  }
}

// A manual run committed after the batch's snapshot but before its insert: the unique index
// on running runs refuses the whole statement; nothing of the batch is claimed, and the
// per-row claim that follows records the overlap.
TEST_F(ClaimBatchTest, RunStartedConcurrentlyRollsTheBatchBack) {
  Exec("INSERT INTO stores (store_id) VALUES ('m1'), ('m2'), ('m3')");
  const absl::Time tick = absl::FromUnixSeconds(1700000400);
  pqxx::connection manual(url_);
  pqxx::work manual_tx(manual);
  manual_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner) "
      "VALUES ('manual-1', 'm2', 'manual', 'running', 'starting', 'x')");
  // Waits (bounded) until a record statement is blocked on a manual run's uncommitted row.
  const auto wait_until_record_is_blocked = [&] {
    for (int i = 0; i < 500; ++i) {
      if (Scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                 "AND query LIKE '%unnest%'") > 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  absl::StatusOr<std::vector<TickClaim>> claims;
  std::thread claimer([&] {
    claims = repo_->RecordTicks(
        {{"m1", "t-1", tick}, {"m2", "t-2", tick}, {"m3", "t-3", tick}}, "replica-a");
  });
  EXPECT_TRUE(wait_until_record_is_blocked());
  manual_tx.commit();
  claimer.join();
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kAlreadyExists) << claims.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 0);
  // Row by row (what SchedulerCore does next): m2 overlaps the manual run, the others start.
  auto m1 = repo_->RecordTick("m1", "t-1", tick, "replica-a");
  auto m2 = repo_->RecordTick("m2", "t-2", tick, "replica-a");
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(m1->outcome, TickOutcome::kStarted);
  EXPECT_EQ(m2->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_THAT(m2->detail, HasSubstr("manual-1"));

  // The same race on the row-by-row path: its statement is rolled back too, and the next
  // attempt sees the committed manual run and records the overlap.
  pqxx::connection manual3(url_);
  pqxx::work manual3_tx(manual3);
  manual3_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner) "
      "VALUES ('manual-3', 'm3', 'manual', 'running', 'starting', 'x')");
  absl::StatusOr<TickClaim> m3;
  std::thread single([&] { m3 = repo_->RecordTick("m3", "t-3", tick, "replica-a"); });
  EXPECT_TRUE(wait_until_record_is_blocked());
  manual3_tx.commit();
  single.join();
  ASSERT_TRUE(m3.ok()) << m3.status();
  EXPECT_EQ(m3->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_EQ(m3->detail, "skipped: run manual-3 was still in flight");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-3' AND status = 'skipped'"),
            1);
}

// ---- The claim ----

TEST_F(ClaimBatchTest, EachBoundaryIsWonOnceAndClaimsOnlyMoveForward) {
  const absl::Time tick = absl::FromUnixSeconds(1700003600);
  const absl::Time before = absl::Now();
  auto a = repo_->ClaimTicks({{"s1", "a-1", tick}, {"s2", "a-2", tick}}, "replica-a");
  const absl::Time after = absl::Now();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(*a, ::testing::ElementsAre(true, true));
  // Another replica, the same boundary: nothing.
  auto b = repo_->ClaimTicks({{"s2", "b-2", tick}, {"s1", "b-1", tick}}, "replica-b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(*b, ::testing::ElementsAre(false, false));
  // An earlier boundary is never won after a later one (a replica with a slow clock, or a
  // catch-up after the next boundary was claimed); a later one is.
  auto earlier = repo_->ClaimTicks({{"s1", "b-3", tick - absl::Hours(1)}}, "replica-b");
  auto later = repo_->ClaimTicks({{"s1", "b-4", tick + absl::Hours(1)}}, "replica-b");
  ASSERT_TRUE(earlier.ok() && later.ok());
  EXPECT_THAT(*earlier, ::testing::ElementsAre(false));
  EXPECT_THAT(*later, ::testing::ElementsAre(true));
  // The same store twice in one batch: won once.
  auto dup = repo_->ClaimTicks({{"s3", "a-5", tick}, {"s3", "a-6", tick}}, "replica-a");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ((*dup)[0] + (*dup)[1], 1);
  // The rows: the winner's run id and owner, the clock at the claim.
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 's1' AND run_id = 'b-4' "
                   "AND owner = 'replica-b' AND boundary = to_timestamp(1700007200)"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 's2' AND run_id = 'a-2' "
                   "AND owner = 'replica-a'"),
            1);
  const int64_t claimed_us = Scalar(
      "SELECT (extract(epoch FROM claimed_at) * 1000000)::bigint FROM tick_claims "
      "WHERE store_id = 's2'");
  EXPECT_GE(absl::FromUnixMicros(claimed_us), before - absl::Milliseconds(5));
  EXPECT_LE(absl::FromUnixMicros(claimed_us), after + absl::Milliseconds(5));
  // Claiming writes no run row: that is RecordTicks' part.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs"), 0);
}

// Two replicas pop the same boundary and claim it at the same moment, two connections each,
// chunks of different sizes: every tick is won exactly once, and no statement fails (rows are
// locked in store order, so there is no deadlock).
TEST_F(ClaimBatchTest, TwoReplicasClaimingTheSameBoundaryWinEachTickOnce) {
  constexpr int kStores = 3000;
  auto other_pool = common::PgPool::Create({.url = url_, .size = 4});
  ASSERT_TRUE(other_pool.ok());
  Repository other(**other_pool);
  std::vector<std::string> ids;
  for (int i = 1; i <= kStores; ++i) ids.push_back(absl::StrCat("k", i));
  std::sort(ids.begin(), ids.end());
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    const absl::Time tick = absl::FromUnixSeconds(1700000000 + 3600 * round);
    const auto results = TwoReplicasAtOnce<bool>(
        other, ids, tick, round,
        [](Repository& repo, const std::vector<TickRequest>& part, const std::string& owner) {
          return repo.ClaimTicks(part, owner);
        });
    ASSERT_EQ(results[0].size(), ids.size());
    ASSERT_EQ(results[1].size(), ids.size());
    std::vector<std::map<std::string, int>> won(2);
    for (size_t r = 0; r < 2; ++r) {
      for (const auto& [asked, claimed] : results[r]) {
        if (claimed) ++won[r][asked.store_id];
      }
    }
    for (const std::string& id : ids) {
      EXPECT_EQ(won[0].count(id) + won[1].count(id), 1u) << id;
    }
    EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE boundary = "
                                  "to_timestamp(",
                                  absl::ToUnixSeconds(tick), ")")),
              kStores);
  }
}

// A replica that stops between claim and record leaves claims without run rows. Those older
// than the grace and within the window are found with their run ids and boundaries, recorded
// once (a second record of the same tick loses), and then no longer found.
TEST_F(ClaimBatchTest, UnrecordedClaimsAreFoundAndRecordedOnce) {
  Exec("INSERT INTO stores (store_id) VALUES ('u1'), ('u2'), ('u3')");
  const absl::Time tick = absl::FromUnixSeconds(1700000600);
  std::vector<TickRequest> ticks = {{"u1", "t-u1", tick}, {"u2", "t-u2", tick},
                                    {"u3", "t-u3", tick}};
  auto claimed = repo_->ClaimTicks(ticks, "replica-gone");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  auto recorded = repo_->RecordTicks({ticks[0]}, "replica-gone");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  // Just claimed: the claiming replica is still recording them.
  auto none = repo_->UnrecordedClaims(absl::Minutes(1), absl::Minutes(15), 100);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // Two minutes later (u3's claim is older than the window).
  Exec("UPDATE tick_claims SET claimed_at = now() - interval '2 minutes'");
  Exec("UPDATE tick_claims SET claimed_at = now() - interval '20 minutes' WHERE store_id = 'u3'");
  auto found = repo_->UnrecordedClaims(absl::Minutes(1), absl::Minutes(15), 100);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].store_id, "u2");
  EXPECT_EQ((*found)[0].run_id, "t-u2");
  EXPECT_EQ((*found)[0].scheduled_for, tick);
  auto rec = repo_->RecordTicks(*found, "replica-b");
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ((*rec)[0].outcome, TickOutcome::kStarted);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-u2' AND owner = "
                   "'replica-b' AND status = 'running'"),
            1);
  auto after = repo_->UnrecordedClaims(absl::Minutes(1), absl::Minutes(15), 100);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());
  // The original replica recording late (or a second recovery pass): lost, nothing doubled.
  auto late = repo_->RecordTick("u2", "t-u2", tick, "replica-gone");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->outcome, TickOutcome::kLost);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'u2'"), 1);
  // Deleting a store removes its claim too.
  ASSERT_TRUE(repo_->DeleteStore("u1").ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 'u1'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 2);
}

}  // namespace
}  // namespace autosync::scheduler
