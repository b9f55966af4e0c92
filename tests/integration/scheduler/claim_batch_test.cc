// The cron tick path of issues #9 and #15 against real PostgreSQL, in its two steps.
// Claim (Repository::ClaimTicks, tick_claims): each (store, boundary) is won by exactly one
// replica, also when two claim the same boundary at once; a store's claim only moves forward, and
// moving it makes it unrecorded again; claimed_at is the clock at the claim; claims never recorded
// are found (UnrecordedClaims) and recorded once. Record (RecordTicks): only a store's current,
// unrecorded claim is recorded (any other request is lost); a batch that mixes every outcome
// decides each tick exactly as the row-by-row RecordTick does (outcome, detail, the queued run
// row, the skip counted on the claim row); queued_at is the clock at the record; two replicas
// recording the same ticks at once (a recovery pass racing a slow original) record each once
// without deadlocks; a run queued after the statement's snapshot rolls the whole batch back
// (ALREADY_EXISTS) without recording anything.
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
        "pending', 3600, true), ('", p, "start', 3600, true), ('", p, "stale', 3600, true), ('",
        p, "disabled', 3600, false), ('", p, "lost', 3600, true), ('", p, "zero', 0, true)"));
    // Fresh: a success 20 minutes ago. Stale: a success 2 hours ago. Zero staleness: a success
    // a second ago still does not count as fresh. Overlap: a run in flight (and an older
    // success outside the window). Pending: a manual run still waiting in the queue.
    Exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
        "finished_at) VALUES "
        "('", p, "r1', '", p, "fresh', 'manual', 'completed', 'completed', "
        "now() - interval '21 minutes', now() - interval '20 minutes'), "
        "('", p, "r2', '", p, "stale', 'manual', 'completed', 'completed', "
        "now() - interval '3 hours', now() - interval '2 hours'), "
        "('", p, "r3', '", p, "zero', 'manual', 'completed', 'completed', "
        "now() - interval '2 seconds', now() - interval '1 second'), "
        "('", p, "r4', '", p, "overlap', 'api', 'running', 'orders', now(), NULL), "
        "('", p, "r6', '", p, "overlap', 'manual', 'completed', 'completed', "
        "now() - interval '4 hours', now() - interval '3 hours')"));
    Exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, priority) VALUES "
        "('", p, "r5', '", p, "pending', 'manual', 'queued', 'queued', 0)"));
    // Lost: another replica already claimed this tick (and is still recording it).
    Exec(absl::StrCat("INSERT INTO tick_claims (store_id, boundary, run_id, owner) VALUES ('", p,
                      "lost', to_timestamp(", absl::ToUnixSeconds(tick), "), '", p,
                      "other', 'replica-b')"));
  }

  // Every store of MakeMixedStores, and one that is not registered.
  static std::vector<std::string> MixedNames() {
    return {"fresh", "overlap", "pending", "start", "stale", "disabled", "missing", "lost", "zero"};
  }

  // The row of a run as a comparable string (prefix stripped from ids). data_as_of is shown as
  // the id of the store's completed run that finished at that instant, or '-infinity'.
  std::string RowOf(const std::string& run_id, const std::string& p) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec_params(
        "SELECT trigger, status, stage, owner, replace(error, $2, ''), finished_at IS NULL, "
        "extract(epoch FROM scheduled_for)::bigint, heartbeat_at IS NOT NULL, "
        "started_at IS NULL, priority, "
        "CASE WHEN data_as_of = '-infinity' THEN '-infinity' ELSE coalesce(("
        "  SELECT replace(p.run_id, $2, '') FROM sync_runs p WHERE p.store_id = r.store_id "
        "  AND p.status = 'completed' AND p.finished_at = r.data_as_of), '?') END "
        "FROM sync_runs r WHERE run_id = $1",
        run_id, p);
    if (r.empty()) return "(none)";
    std::string out;
    for (const auto& f : r[0]) absl::StrAppend(&out, f.c_str(), "|");
    return out;
  }

  // A store's claim row as a comparable string (prefix stripped from ids, the age in a fresh
  // skip's reason replaced by N: it may tick over by a second between two records).
  std::string ClaimOf(const std::string& store_id, const std::string& p) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec_params(
        "SELECT replace(run_id, $2, ''), owner, extract(epoch FROM boundary)::bigint, "
        "recorded_at IS NOT NULL, skipped_fires, last_skip_at IS NOT NULL, "
        "regexp_replace(replace(last_skip_reason, $2, ''), 'last success [0-9]+ s', "
        "'last success N s') "
        "FROM tick_claims WHERE store_id = $1",
        store_id, p);
    if (r.empty()) return "(none)";
    std::string out;
    for (const auto& f : r[0]) absl::StrAppend(&out, f.c_str(), "|");
    return out;
  }

  // Two replicas (this fixture's repository and `other`) work through the same ticks of `ids`
  // at `tick` at the same moment, each in its own chunks (700 and 450, so chunks overlap
  // partially) on two connections. `run_id(replica, store_id)` names each request's run id
  // (each replica its own when claiming; the claim's, shared, when recording). `call(repo,
  // part, owner)` claims or records one chunk and returns one result per tick. Returns, per
  // replica, each tick asked with its result; a failed call is a test failure and its ticks
  // have no result.
  template <typename Result, typename RunId, typename Call>
  std::vector<std::vector<std::pair<TickRequest, Result>>> TwoReplicasAtOnce(
      Repository& other, const std::vector<std::string>& ids, absl::Time tick, RunId run_id,
      Call call) {
    std::atomic<int> ready{0};
    std::vector<std::vector<std::pair<TickRequest, Result>>> results(2);
    auto replica = [&](int r, Repository& repo, size_t chunk) {
      std::vector<std::vector<TickRequest>> parts;
      for (size_t b = 0; b < ids.size(); b += chunk) {
        std::vector<TickRequest> part;
        for (size_t i = b; i < std::min(ids.size(), b + chunk); ++i) {
          part.push_back({ids[i], run_id(r, ids[i]), tick});
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
    case TickOutcome::kQueued:
      return "queued";
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

TEST_F(ClaimBatchTest, MixedBatchDecidesEachTickAsTheRowByRowRecord) {
  const absl::Time tick = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60);
  const std::string at = absl::StrCat(absl::ToUnixSeconds(tick));
  MakeMixedStores("a-", tick);
  MakeMixedStores("b-", tick);
  std::vector<TickRequest> batch;
  std::vector<TickRequest> singles;
  for (const std::string& n : MixedNames()) {
    batch.push_back({"a-" + n, "a-run-" + n, tick});
    singles.push_back({"b-" + n, "b-run-" + n, tick});
  }
  // Both sets are claimed first (only a claim is recorded): every tick but the one another
  // replica holds. A store that is not registered is claimed all the same (the claim has no
  // foreign key); recording finds it not scheduled.
  for (const std::vector<TickRequest>* ticks : {&batch, &singles}) {
    auto won = repo_->ClaimTicks(*ticks, "replica-a");
    ASSERT_TRUE(won.ok()) << won.status();
    for (size_t i = 0; i < ticks->size(); ++i) {
      EXPECT_EQ((*won)[i], (*ticks)[i].store_id.substr(2) != "lost") << (*ticks)[i].store_id;
    }
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
  EXPECT_STREQ(Name(by_name["pending"].outcome), "overlap");
  EXPECT_STREQ(Name(by_name["start"].outcome), "queued");
  EXPECT_STREQ(Name(by_name["stale"].outcome), "queued");
  EXPECT_STREQ(Name(by_name["disabled"].outcome), "not-scheduled");
  EXPECT_STREQ(Name(by_name["missing"].outcome), "not-scheduled");
  EXPECT_STREQ(Name(by_name["lost"].outcome), "lost");
  EXPECT_STREQ(Name(by_name["zero"].outcome), "queued");
  EXPECT_THAT(by_name["fresh"].detail,
              ::testing::MatchesRegex("skipped: data is fresh \\(last success 1[12][0-9][0-9] s "
                                      "ago, staleness threshold 3600 s\\)"));
  EXPECT_EQ(by_name["overlap"].detail, "skipped: run a-r4 was still in flight");
  EXPECT_EQ(by_name["pending"].detail, "skipped: run a-r5 was still queued");

  // The queued runs: cron, 'queued' in stage 'queued', not started, priority 1, the data as of
  // the store's last completed run (-infinity for a store never synced).
  const std::string queued = absl::StrCat("cron|queued|queued|replica-a||t|", at, "|t|t|1|");
  EXPECT_EQ(RowOf("a-run-start", "a-"), queued + "-infinity|");
  EXPECT_EQ(RowOf("a-run-stale", "a-"), queued + "r2|");
  EXPECT_EQ(RowOf("a-run-zero", "a-"), queued + "r3|");
  // The claim rows: every claim of ours recorded; a skip counted with its reason (the
  // detail), and no run row; another replica's claim untouched.
  const auto claim = [&](const std::string& run, int skips, const std::string& reason) {
    return absl::StrCat(run, "|replica-a|", at, "|t|", skips, "|", skips > 0 ? "t" : "f", "|",
                        reason, "|");
  };
  EXPECT_EQ(ClaimOf("a-fresh", "a-"),
            claim("run-fresh", 1,
                  "skipped: data is fresh (last success N s ago, staleness threshold 3600 s)"));
  EXPECT_EQ(ClaimOf("a-overlap", "a-"),
            claim("run-overlap", 1, "skipped: run r4 was still in flight"));
  EXPECT_EQ(ClaimOf("a-pending", "a-"),
            claim("run-pending", 1, "skipped: run r5 was still queued"));
  for (const std::string n : {"start", "stale", "zero", "disabled", "missing"}) {
    EXPECT_EQ(ClaimOf("a-" + n, "a-"), claim("run-" + n, 0, "")) << n;
  }
  EXPECT_EQ(ClaimOf("a-lost", "a-"), absl::StrCat("other|replica-b|", at, "|f|0|f||"));
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE store_id = 'a-fresh' "
                                "AND last_skip_reason = '",
                                by_name["fresh"].detail, "'")),
            1);
  for (const std::string n : {"fresh", "overlap", "pending", "disabled", "missing", "lost"}) {
    EXPECT_EQ(RowOf("a-run-" + n, "a-"), "(none)") << n;
  }

  // The same ticks decided one by one: identical outcomes, details, run rows and claim rows.
  for (const std::string& n : MixedNames()) {
    SCOPED_TRACE(n);
    auto single = repo_->RecordTick("b-" + n, "b-run-" + n, tick, "replica-a");
    ASSERT_TRUE(single.ok()) << single.status();
    const TickClaim& batched = by_name[n];
    EXPECT_STREQ(Name(single->outcome), Name(batched.outcome));
    if (n == "fresh") {
      // The age may tick over by a second between the two records.
      EXPECT_THAT(single->detail, StartsWith("skipped: data is fresh (last success 1"));
    } else if (n == "overlap") {
      EXPECT_EQ(single->detail, "skipped: run b-r4 was still in flight");
    } else if (n == "pending") {
      EXPECT_EQ(single->detail, "skipped: run b-r5 was still queued");
    } else {
      EXPECT_EQ(single->detail, batched.detail);
    }
    EXPECT_EQ(RowOf("b-run-" + n, "b-"), RowOf("a-run-" + n, "a-"));
    EXPECT_EQ(ClaimOf("b-" + n, "b-"), ClaimOf("a-" + n, "a-"));
  }

  // Every queued row's queued_at, and every claim's recorded_at and skip time, is the clock at
  // the record (within the call), not earlier.
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  const auto window = [&](const std::string& column, const std::string& from_where) {
    const pqxx::result r = tx.exec(absl::StrCat(
        "SELECT coalesce((extract(epoch FROM min(", column, ")) * 1000000)::bigint, 0), "
        "coalesce((extract(epoch FROM max(", column, ")) * 1000000)::bigint, 0), count(",
        column, ") FROM ", from_where));
    SCOPED_TRACE(column);
    EXPECT_GE(absl::FromUnixMicros(r[0][0].as<int64_t>()), before - absl::Milliseconds(5));
    EXPECT_LE(absl::FromUnixMicros(r[0][1].as<int64_t>()), after + absl::Milliseconds(5));
    return r[0][2].as<int64_t>();
  };
  // start, stale and zero; skips and unscheduled ticks write no run row.
  EXPECT_EQ(window("queued_at", "sync_runs WHERE run_id LIKE 'a-run-%'"), 3);
  EXPECT_EQ(window("recorded_at", "tick_claims WHERE store_id LIKE 'a-%'"), 8);  // all but lost
  EXPECT_EQ(window("last_skip_at", "tick_claims WHERE store_id LIKE 'a-%'"), 3);
  // lost wrote no row of ours: a-other stays the claim of that tick, unrecorded.
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'a-lost'"), 0);

  // A second record of the same ticks (a recovery pass racing the original, with the claims'
  // run ids) loses every one of them, and so does a request under any other run id; nothing
  // changes.
  std::map<std::string, std::string> rows;
  for (const std::string& n : MixedNames()) {
    rows[n] = RowOf("a-run-" + n, "a-") + ClaimOf("a-" + n, "a-");
  }
  std::vector<TickRequest> again = batch;
  for (TickRequest& t : again) t.run_id += "-again";
  for (const std::vector<TickRequest>* ticks : {&batch, &again}) {
    auto second = repo_->RecordTicks(*ticks, "replica-b");
    ASSERT_TRUE(second.ok()) << second.status();
    for (size_t i = 0; i < ticks->size(); ++i) {
      EXPECT_STREQ(Name((*second)[i].outcome), "lost") << (*ticks)[i].run_id;
    }
  }
  for (const std::string& n : MixedNames()) {
    EXPECT_EQ(RowOf("a-run-" + n, "a-") + ClaimOf("a-" + n, "a-"), rows[n]) << n;
    EXPECT_EQ(RowOf("a-run-" + n + "-again", "a-"), "(none)") << n;
  }
}

TEST_F(ClaimBatchTest, DuplicateAndOddRequestsInOneBatch) {
  const absl::Time tick = absl::FromUnixSeconds(1700000040);
  Exec("INSERT INTO stores (store_id) VALUES ('dup')");
  // The same store twice for one tick: one claim, so one record; the other is lost.
  const std::vector<TickRequest> twice = {{"dup", "run-1", tick}, {"dup", "run-2", tick}};
  auto won = repo_->ClaimTicks(twice, "r");
  ASSERT_TRUE(won.ok()) << won.status();
  auto claims = repo_->RecordTicks(twice, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_STREQ(Name((*claims)[i].outcome), (*won)[i] ? "queued" : "lost") << i;
  }
  EXPECT_EQ((*won)[0] + (*won)[1], 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 1);
  // The same store for two ticks, both of which would queue: a store has one claim, so only
  // the later tick's is recorded and the earlier tick (its claim superseded) is lost: one
  // queued-or-running run per store.
  Exec("UPDATE sync_runs SET status = 'failed', finished_at = now() WHERE store_id = 'dup'");
  const std::vector<TickRequest> two_ticks = {{"dup", "run-3", tick + absl::Minutes(1)},
                                              {"dup", "run-4", tick + absl::Minutes(2)}};
  for (const TickRequest& t : two_ticks) {
    auto claimed = repo_->ClaimTicks({t}, "r");
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    EXPECT_THAT(*claimed, ::testing::ElementsAre(true));
  }
  auto both = repo_->RecordTicks(two_ticks, "r");
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_STREQ(Name((*both)[0].outcome), "lost");
  EXPECT_STREQ(Name((*both)[1].outcome), "queued");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup' AND status IN "
                   "('queued', 'running') AND run_id = 'run-4'"),
            1);
  // The next tick finds that run still queued: an overlap, counted on the claim.
  const TickRequest next = {"dup", "run-5", tick + absl::Minutes(3)};
  ASSERT_TRUE(repo_->ClaimTicks({next}, "r").ok());
  auto overlap = repo_->RecordTicks({next}, "r");
  ASSERT_TRUE(overlap.ok()) << overlap.status();
  EXPECT_STREQ(Name((*overlap)[0].outcome), "overlap");
  EXPECT_EQ((*overlap)[0].detail, "skipped: run run-4 was still queued");
  EXPECT_EQ(Scalar("SELECT skipped_fires FROM tick_claims WHERE store_id = 'dup' AND "
                   "run_id = 'run-5' AND last_skip_reason = 'skipped: run run-4 was still "
                   "queued' AND recorded_at IS NOT NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 2);
  // Store ids that are not registered (or could never be): without a claim, lost; claimed
  // (the claim has no foreign key), not scheduled. Nothing is written to sync_runs either way.
  const std::vector<TickRequest> odd_ticks = {{"no-such-store", "run-6", tick},
                                              {std::string(63, 'z'), "run-7", tick}};
  auto unclaimed = repo_->RecordTicks(odd_ticks, "r");
  ASSERT_TRUE(unclaimed.ok()) << unclaimed.status();
  for (const TickClaim& c : *unclaimed) EXPECT_EQ(c.outcome, TickOutcome::kLost);
  auto odd_claims = repo_->ClaimTicks(odd_ticks, "r");
  ASSERT_TRUE(odd_claims.ok()) << odd_claims.status();
  EXPECT_THAT(*odd_claims, ::testing::ElementsAre(true, true));
  auto odd = repo_->RecordTicks(odd_ticks, "r");
  ASSERT_TRUE(odd.ok()) << odd.status();
  for (const TickClaim& c : *odd) EXPECT_EQ(c.outcome, TickOutcome::kNotScheduled);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id <> 'dup'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id <> 'dup' AND "
                   "recorded_at IS NOT NULL AND skipped_fires = 0"),
            2);
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
  auto won = repo_->ClaimTicks(batch, "r");
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_EQ(std::count(won->begin(), won->end(), true), 5000);
  auto claims = repo_->RecordTicks(batch, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  int queued = 0;
  int fresh = 0;
  for (const TickClaim& c : *claims) {
    queued += c.outcome == TickOutcome::kQueued;
    fresh += c.outcome == TickOutcome::kSkippedFresh;
  }
  EXPECT_EQ(queued, 500);
  EXPECT_EQ(fresh, 4500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND status = "
                   "'queued' AND right(store_id, 1) = '7'"),
            500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 500);
  // The fresh skips are counted on their claims, which write no run row.
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE skipped_fires = 1 AND "
                   "last_skip_reason LIKE 'skipped: data is fresh%' AND right(store_id, 1) <> "
                   "'7'"),
            4500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE recorded_at IS NOT NULL"), 5000);
}

// A replica records the ticks it claimed while another replica's recovery pass records the
// same claims (same run ids) at the same moment, each in its own chunks (different sizes, so
// chunks overlap partially). Every tick is recorded exactly once (one queued run, or one skip
// counted), every record of the loser is kLost, and no batch fails (no deadlock).
TEST_F(ClaimBatchTest, TwoReplicasRecordTheSameTicksConcurrently) {
  constexpr int kStores = 3000;
  Exec(absl::StrCat("INSERT INTO stores (store_id) SELECT 'c' || lpad(i::text, 5, '0') "
                    "FROM generate_series(1, ",
                    kStores, ") i"));
  // Two thirds fresh (skipped), one third never synced (queued on the first tick, overlap on
  // the next: the run is still queued).
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
    const auto run_id = [round](int, const std::string& id) {
      return absl::StrCat("t", round, "-", id);
    };
    std::vector<TickRequest> ticks;
    for (const std::string& id : ids) ticks.push_back({id, run_id(0, id), tick});
    auto won = repo_->ClaimTicks(ticks, "replica-0");
    ASSERT_TRUE(won.ok()) << won.status();
    ASSERT_EQ(std::count(won->begin(), won->end(), true), kStores);

    const auto results = TwoReplicasAtOnce<TickClaim>(
        other, ids, tick, run_id,
        [](Repository& repo, const std::vector<TickRequest>& part, const std::string& owner) {
          return repo.RecordTicks(part, owner);
        });
    ASSERT_EQ(results[0].size(), ids.size());
    ASSERT_EQ(results[1].size(), ids.size());
    std::map<std::string, int> wins;
    std::map<std::string, int> outcomes;
    for (const auto& replica : results) {
      for (const auto& [asked, result] : replica) {
        EXPECT_NE(result.outcome, TickOutcome::kNotScheduled);
        if (result.outcome == TickOutcome::kLost) continue;
        ++wins[asked.store_id];
        ++outcomes[Name(result.outcome)];
        if (result.outcome == TickOutcome::kSkippedOverlap) {
          EXPECT_EQ(result.detail,
                    absl::StrCat("skipped: run t0-", asked.store_id, " was still queued"));
        }
      }
    }
    EXPECT_EQ(wins.size(), ids.size());
    for (const auto& [id, n] : wins) EXPECT_EQ(n, 1) << id;
    EXPECT_EQ(outcomes["fresh"], kStores * 2 / 3);
    EXPECT_EQ(outcomes["queued"], round == 0 ? kStores / 3 : 0);
    EXPECT_EQ(outcomes["overlap"], round == 0 ? 0 : kStores / 3);
    // Only a queued tick writes a run row.
    EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND "
                                  "scheduled_for = to_timestamp(",
                                  absl::ToUnixSeconds(tick), ")")),
              round == 0 ? kStores / 3 : 0);
    // One queued-or-running run per store at most, and the never-synced third is queued.
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status IN ('queued', 'running')"),
              kStores / 3);
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status = 'queued'"), kStores / 3);
    // Every claim recorded, and each skip counted once: two thirds per round, and from the
    // second round on the queued third too.
    EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE recorded_at IS NOT "
                                  "NULL AND boundary = to_timestamp(",
                                  absl::ToUnixSeconds(tick), ")")),
              kStores);
    EXPECT_EQ(Scalar("SELECT sum(skipped_fires) FROM tick_claims"),
              kStores * 2 / 3 * (round + 1) + kStores / 3 * round);
  }
}

// A manual run queued after the batch's snapshot but before its insert: the unique index on
// queued-or-running runs refuses the whole statement; nothing of the batch is recorded, and the
// per-row record that follows counts the overlap.
TEST_F(ClaimBatchTest, RunQueuedConcurrentlyRollsTheBatchBack) {
  Exec("INSERT INTO stores (store_id) VALUES ('m1'), ('m2'), ('m3')");
  const absl::Time tick = absl::FromUnixSeconds(1700000400);
  const std::vector<TickRequest> ticks = {
      {"m1", "t-1", tick}, {"m2", "t-2", tick}, {"m3", "t-3", tick}};
  auto won = repo_->ClaimTicks(ticks, "replica-a");
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_THAT(*won, ::testing::ElementsAre(true, true, true));
  pqxx::connection manual(url_);
  pqxx::work manual_tx(manual);
  manual_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, priority) "
      "VALUES ('manual-1', 'm2', 'manual', 'queued', 'queued', 'x', 0)");
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
  std::thread recorder([&] { claims = repo_->RecordTicks(ticks, "replica-a"); });
  EXPECT_TRUE(wait_until_record_is_blocked());
  manual_tx.commit();
  recorder.join();
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kAlreadyExists) << claims.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE recorded_at IS NULL AND "
                   "skipped_fires = 0"),
            3);
  // Row by row (what SchedulerCore does next): m2 overlaps the manual run, the others queue.
  auto m1 = repo_->RecordTick("m1", "t-1", tick, "replica-a");
  auto m2 = repo_->RecordTick("m2", "t-2", tick, "replica-a");
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(m1->outcome, TickOutcome::kQueued);
  EXPECT_EQ(m2->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_THAT(m2->detail, HasSubstr("manual-1"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-1' AND status = 'queued'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-2'"), 0);

  // The same race on the row-by-row path: its statement is rolled back too, and the next
  // attempt sees the committed manual run and counts the overlap.
  pqxx::connection manual3(url_);
  pqxx::work manual3_tx(manual3);
  manual3_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, priority) "
      "VALUES ('manual-3', 'm3', 'manual', 'queued', 'queued', 'x', 0)");
  absl::StatusOr<TickClaim> m3;
  std::thread single([&] { m3 = repo_->RecordTick("m3", "t-3", tick, "replica-a"); });
  EXPECT_TRUE(wait_until_record_is_blocked());
  manual3_tx.commit();
  single.join();
  ASSERT_TRUE(m3.ok()) << m3.status();
  EXPECT_EQ(m3->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_EQ(m3->detail, "skipped: run manual-3 was still queued");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-3'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 'm3' AND run_id = 't-3' "
                   "AND recorded_at IS NOT NULL AND skipped_fires = 1 AND last_skip_at IS NOT "
                   "NULL AND last_skip_reason = 'skipped: run manual-3 was still queued'"),
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
  // A new claim is unrecorded. s1's is recorded (no such store: not scheduled) before the other
  // replica tries.
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE recorded_at IS NULL"), 2);
  auto recorded = repo_->RecordTicks({{"s1", "a-1", tick}}, "replica-a");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ((*recorded)[0].outcome, TickOutcome::kNotScheduled);
  // Another replica, the same boundary: nothing, and s1's claim stays recorded.
  auto b = repo_->ClaimTicks({{"s2", "b-2", tick}, {"s1", "b-1", tick}}, "replica-b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(*b, ::testing::ElementsAre(false, false));
  // An earlier boundary is never won after a later one (a replica with a slow clock, or a
  // catch-up after the next boundary was claimed), nor does it touch the claim; a later one is
  // won, and the moved claim is unrecorded again (its tick is still to be recorded).
  auto earlier = repo_->ClaimTicks({{"s1", "b-3", tick - absl::Hours(1)}}, "replica-b");
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_THAT(*earlier, ::testing::ElementsAre(false));
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 's1' AND run_id = 'a-1' "
                   "AND recorded_at IS NOT NULL"),
            1);
  auto later = repo_->ClaimTicks({{"s1", "b-4", tick + absl::Hours(1)}}, "replica-b");
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(*later, ::testing::ElementsAre(true));
  // The same store twice in one batch: won once.
  auto dup = repo_->ClaimTicks({{"s3", "a-5", tick}, {"s3", "a-6", tick}}, "replica-a");
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ((*dup)[0] + (*dup)[1], 1);
  // The rows: the winner's run id and owner, the clock at the claim, unrecorded.
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 's1' AND run_id = 'b-4' "
                   "AND owner = 'replica-b' AND boundary = to_timestamp(1700007200) "
                   "AND recorded_at IS NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 's2' AND run_id = 'a-2' "
                   "AND owner = 'replica-a' AND recorded_at IS NULL"),
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
// chunks of different sizes: every tick is won exactly once, its row names the winner's run id
// and is unrecorded (also when the previous boundary's claim was recorded), and no statement
// fails (rows are locked in store order, so there is no deadlock).
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
        other, ids, tick,
        [round](int r, const std::string& id) { return absl::StrCat("r", r, "-", round, "-", id); },
        [](Repository& repo, const std::vector<TickRequest>& part, const std::string& owner) {
          return repo.ClaimTicks(part, owner);
        });
    ASSERT_EQ(results[0].size(), ids.size());
    ASSERT_EQ(results[1].size(), ids.size());
    std::vector<std::map<std::string, int>> won(2);
    std::map<std::string, std::string> winner_run;
    for (size_t r = 0; r < 2; ++r) {
      for (const auto& [asked, claimed] : results[r]) {
        if (!claimed) continue;
        ++won[r][asked.store_id];
        winner_run[asked.store_id] = asked.run_id;
      }
    }
    for (const std::string& id : ids) {
      EXPECT_EQ(won[0].count(id) + won[1].count(id), 1u) << id;
    }
    EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE boundary = "
                                  "to_timestamp(",
                                  absl::ToUnixSeconds(tick), ") AND recorded_at IS NULL")),
              kStores);
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT store_id, run_id FROM tick_claims")) {
      EXPECT_EQ(row[1].as<std::string>(), winner_run[row[0].as<std::string>()]);
    }
    // As if every tick of the boundary were recorded: the next boundary's claims reset it.
    tx.exec("UPDATE tick_claims SET recorded_at = now()");
  }
}

// A replica that stops between claim and record leaves unrecorded claims. Those older than the
// grace and within the window are found with their run ids and boundaries, recorded once (a
// second record of the same tick loses), and then no longer found. A claim recorded as a skip
// (no run row) is recorded all the same.
TEST_F(ClaimBatchTest, UnrecordedClaimsAreFoundAndRecordedOnce) {
  Exec("INSERT INTO stores (store_id) VALUES ('u1'), ('u2'), ('u3')");
  // u1 is fresh: its tick is recorded as a skip, without a run row.
  Exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
       "VALUES ('seed-u1', 'u1', 'api', 'completed', 'completed', now())");
  const absl::Time tick = absl::FromUnixSeconds(1700000600);
  std::vector<TickRequest> ticks = {{"u1", "t-u1", tick}, {"u2", "t-u2", tick},
                                    {"u3", "t-u3", tick}};
  auto claimed = repo_->ClaimTicks(ticks, "replica-gone");
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  auto recorded = repo_->RecordTicks({ticks[0]}, "replica-gone");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ((*recorded)[0].outcome, TickOutcome::kSkippedFresh);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 0);
  // Just claimed: the claiming replica is still recording them.
  auto none = repo_->UnrecordedClaims(absl::Minutes(1), absl::Minutes(15), 100);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  // Two minutes later (u3's claim is older than the window; u1's was recorded).
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
  EXPECT_EQ((*rec)[0].outcome, TickOutcome::kQueued);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-u2' AND owner = "
                   "'replica-b' AND status = 'queued'"),
            1);
  auto after = repo_->UnrecordedClaims(absl::Minutes(1), absl::Minutes(15), 100);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());
  // The original replica recording late (or a second recovery pass): lost, nothing doubled.
  for (const TickRequest& t : {ticks[0], ticks[1]}) {
    auto late = repo_->RecordTick(t.store_id, t.run_id, t.scheduled_for, "replica-gone");
    ASSERT_TRUE(late.ok()) << late.status();
    EXPECT_EQ(late->outcome, TickOutcome::kLost) << t.store_id;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'u2'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'u1'"), 1);  // the seed
  EXPECT_EQ(Scalar("SELECT skipped_fires FROM tick_claims WHERE store_id = 'u1'"), 1);
  // Deleting a store removes its claim too.
  ASSERT_TRUE(repo_->DeleteStore("u1").ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 'u1'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 2);
}

}  // namespace
}  // namespace autosync::scheduler
