// The cron tick path of issues #9 and #15 against real PostgreSQL, in its two steps.
// Claim (PgRepository::ClaimGroups, tick_group_claims): each (tick group, boundary) is won by
// exactly one replica, also when two claim the same keys at once; a key repeated in one call is
// won once; an earlier boundary of a group is still won once if nobody claimed it; claimed_at is
// the clock at the claim; PruneGroupClaims deletes only old claims; warming claims nothing.
// Record (RecordTicks): a store's tick_claims row moves to a tick's boundary only from an earlier
// one (any other request is lost), keeping the request's claim time; a batch that mixes every
// outcome decides each tick exactly as the row-by-row RecordTick does (outcome, detail, queued run
// row, tick_claims row); 5000 ticks in one transaction; two replicas recording the same ticks at
// once record each once, without deadlocks (rows locked in store order); a run queued or a store
// deleted after the statement's snapshot rolls the whole batch back (ALREADY_EXISTS / ABORTED)
// and RecordTick decides again. UnrecordedTicks finds the ticks whose store row is absent or at
// an earlier boundary.
#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/tick_group.h"
#include "tests/support/migrated_db.h"

namespace autosync::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

// A time as an exact SQL timestamptz.
std::string SqlTime(absl::Time t) {
  return absl::StrCat("('epoch'::timestamptz + ", absl::ToUnixMicros(t),
                      " * interval '1 microsecond')");
}

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

class ClaimBatchTest : public autosync::testing::MigratedDatabaseTest {
 protected:
  ClaimBatchTest() : MigratedDatabaseTest(4) {}

  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    repo_ = std::make_unique<PgRepository>(*pool_);
  }

  // The first column of the first row as text ("(null)" for NULL).
  std::string Text(const std::string& sql) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec(sql);
    return r[0][0].is_null() ? "(null)" : r[0][0].c_str();
  }

  // Waits (up to 5 s) until a statement whose text starts with `prefix` waits for a lock;
  // false if none did.
  bool WaitUntilBlocked(const std::string& prefix) {
    for (int i = 0; i < 500; ++i) {
      if (Scalar(absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                              "'Lock' AND query LIKE '",
                              prefix, "%'")) > 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // One store per case, ids prefixed so that two identical sets can be recorded by the batch
  // and by the row-by-row path. Rows of tick_claims that another replica wrote carry fixed
  // times (1600000000 claimed, 1600000005 recorded, 1600000003 skipped).
  void MakeMixedStores(const std::string& p, absl::Time tick) {
    Exec(absl::StrCat(
        "INSERT INTO stores (store_id, staleness_seconds, enabled) SELECT '", p,
        "' || n, "
        "CASE WHEN n = 'zero' THEN 0 ELSE 3600 END, n <> 'disabled' FROM unnest(ARRAY['fresh', "
        "'overlap', 'pending', 'start', 'stale', 'disabled', 'lost', 'later', 'moved', "
        "'moved-fresh', 'zero', 'unclaimed']) n"));
    // Fresh: a success 20 minutes ago (moved-fresh: 10). Stale: a success 2 hours ago. Zero
    // staleness: a success a second ago still does not count as fresh. Overlap: a run in flight
    // (and an older success outside the window). Pending: a manual run waiting in the queue.
    Exec(
        absl::StrCat("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
                     "finished_at) VALUES "
                     "('",
                     p, "r1', '", p,
                     "fresh', 'manual', 'completed', 'completed', "
                     "now() - interval '21 minutes', now() - interval '20 minutes'), "
                     "('",
                     p, "r2', '", p,
                     "stale', 'manual', 'completed', 'completed', "
                     "now() - interval '3 hours', now() - interval '2 hours'), "
                     "('",
                     p, "r3', '", p,
                     "zero', 'manual', 'completed', 'completed', "
                     "now() - interval '2 seconds', now() - interval '1 second'), "
                     "('",
                     p, "r4', '", p,
                     "overlap', 'api', 'running', 'orders', now(), NULL), "
                     "('",
                     p, "r6', '", p,
                     "overlap', 'manual', 'completed', 'completed', "
                     "now() - interval '4 hours', now() - interval '3 hours'), "
                     "('",
                     p, "r7', '", p,
                     "moved-fresh', 'manual', 'completed', 'completed', "
                     "now() - interval '11 minutes', now() - interval '10 minutes')"));
    Exec(absl::StrCat(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, priority) VALUES "
        "('",
        p, "r5', '", p, "pending', 'manual', 'queued', 'queued', 0)"));
    // Lost: this tick was recorded already (by the group's winner); later: a later boundary was.
    // Moved, moved-fresh: the previous boundary was recorded, with two skips counted.
    const std::string at = SqlTime(tick);
    Exec(absl::StrCat(
        "INSERT INTO tick_claims (store_id, boundary, run_id, owner, claimed_at, recorded_at, "
        "skipped_fires, last_skip_at, last_skip_reason) VALUES "
        "('",
        p, "lost', ", at, ", '", p,
        "other', 'replica-b', to_timestamp(1600000000), "
        "to_timestamp(1600000005), 0, NULL, ''), "
        "('",
        p, "later', ", at, " + interval '1 hour', '", p,
        "next', 'replica-b', "
        "to_timestamp(1600000000), to_timestamp(1600000005), 0, NULL, ''), "
        "('",
        p, "moved', ", at, " - interval '1 hour', '", p,
        "prev', 'replica-b', "
        "to_timestamp(1600000000), to_timestamp(1600000005), 2, to_timestamp(1600000003), "
        "'skipped: old reason'), "
        "('",
        p, "moved-fresh', ", at, " - interval '1 hour', '", p,
        "prev', 'replica-b', "
        "to_timestamp(1600000000), to_timestamp(1600000005), 2, to_timestamp(1600000003), "
        "'skipped: old reason')"));
  }

  // Every store of MakeMixedStores, and one that is not registered.
  static std::vector<std::string> MixedNames() {
    return {"fresh", "overlap", "pending", "start", "stale",       "disabled", "missing",
            "lost",  "later",   "moved",   "zero",  "moved-fresh", "unclaimed"};
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

  // A store's tick_claims row as a comparable string: run id (prefix stripped), owner, boundary
  // (s), claimed_at ('claimed': equal to `claimed`; 'at-record': within the second before
  // recorded_at; else s), recorded_at and last_skip_at ('now': within the last minute; else s),
  // skipped_fires, last_skip_reason (a fresh skip's age replaced by N: it may tick over by a
  // second between two records).
  std::string ClaimOf(const std::string& store_id, const std::string& p, absl::Time claimed) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec_params(
        "SELECT replace(run_id, $2, ''), owner, extract(epoch FROM boundary)::bigint, "
        "CASE WHEN claimed_at = 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' "
        "  THEN 'claimed' "
        "  WHEN claimed_at <= recorded_at AND claimed_at > recorded_at - interval '1 second' "
        "  THEN 'at-record' ELSE extract(epoch FROM claimed_at)::bigint::text END, "
        "CASE WHEN recorded_at > now() - interval '1 minute' THEN 'now' "
        "  ELSE coalesce(extract(epoch FROM recorded_at)::bigint::text, 'null') END, "
        "skipped_fires, "
        "CASE WHEN last_skip_at > now() - interval '1 minute' THEN 'now' "
        "  ELSE coalesce(extract(epoch FROM last_skip_at)::bigint::text, 'null') END, "
        "regexp_replace(replace(last_skip_reason, $2, ''), 'last success [0-9]+ s', "
        "'last success N s') "
        "FROM tick_claims WHERE store_id = $1",
        store_id, p, absl::ToUnixMicros(claimed));
    if (r.empty()) return "(none)";
    std::string out;
    for (const auto& f : r[0]) absl::StrAppend(&out, f.c_str(), "|");
    return out;
  }

  // Two replicas (this fixture's repository and `other`) send their requests at the same
  // moment, each in its own chunks (700 and 450, so chunks overlap partially) on two
  // connections. `call(repo, part, owner)` claims or records one chunk ("replica-0" /
  // "replica-1") and returns one result per request. Returns, per replica, each request with
  // its result; a failed call is a test failure and its requests have no result.
  template <typename Result, typename Request, typename Call>
  std::array<std::vector<std::pair<Request, Result>>, 2> TwoReplicasAtOnce(
      PgRepository& other, const std::array<std::vector<Request>, 2>& requests, Call call) {
    std::atomic<int> ready{0};
    std::array<std::vector<std::pair<Request, Result>>, 2> results;
    auto replica = [&](size_t r, PgRepository& repo, size_t chunk) {
      const std::vector<Request>& mine = requests[r];
      std::vector<std::vector<Request>> parts;
      for (size_t b = 0; b < mine.size(); b += chunk) {
        parts.emplace_back(mine.begin() + static_cast<ptrdiff_t>(b),
                           mine.begin() + static_cast<ptrdiff_t>(std::min(mine.size(), b + chunk)));
      }
      std::vector<std::vector<Result>> out(parts.size());
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();  // both start together
      std::vector<std::thread> threads;
      for (size_t t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
          for (size_t k = t; k < parts.size(); k += 2) {
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
          results[r].emplace_back(parts[k][i], out[k][i]);
        }
      }
    };
    std::thread a([&] { replica(0, *repo_, 700); });
    std::thread b([&] { replica(1, other, 450); });
    a.join();
    b.join();
    return results;
  }

  std::unique_ptr<PgRepository> repo_;
};

TEST_F(ClaimBatchTest, EmptyCallsAndWarmingClaimAndRecordNothing) {
  auto claims = repo_->ClaimGroups({}, "replica-a");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(claims->empty());
  auto records = repo_->RecordTicks({}, "replica-a");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_TRUE(records->empty());
  auto unrecorded = repo_->UnrecordedTicks({});
  ASSERT_TRUE(unrecorded.ok()) << unrecorded.status();
  EXPECT_TRUE(unrecorded->empty());
  // Warming runs the claim with no keys on each connection (more than the pool holds is
  // capped): it succeeds and claims nothing.
  ASSERT_TRUE(repo_->WarmClaimConnections(4).ok());
  ASSERT_TRUE(repo_->WarmClaimConnections(8).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_group_claims"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 0);
  // The warmed connections claim as usual (the statement already prepared on each of them).
  const absl::Time tick = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 6; ++i) {
    auto won = repo_->ClaimGroups({{i, tick}}, "replica-a");
    ASSERT_TRUE(won.ok()) << won.status();
    EXPECT_TRUE((*won)[0].won) << i;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_group_claims"), 6);
}

// ---- The record ----

// Schedules per data type (migration 0008): a tick carries the types due at its boundary, and
// each is synced only when its own data is stale, by its own threshold. The last orders success
// is 10 minutes old (threshold 1 h: fresh); the last ads success 3 hours (threshold 2 h: stale).
TEST_F(ClaimBatchTest, EachDataTypeIsDecidedByItsOwnFreshness) {
  const absl::Time tick = absl::FromUnixSeconds(1700000000);
  Exec(
      "INSERT INTO stores (store_id, staleness_seconds, ads_staleness_seconds) "
      "SELECT 't-' || n, 3600, 7200 FROM unnest(ARRAY['both', 'orders', 'ads', 'never', "
      "'no-ads']) n");
  // no-ads: orders synced 10 minutes ago, ads never.
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
      "finished_at, data_types) VALUES ('o-no-ads', 't-no-ads', 'cron', 'completed', "
      "'completed', now() - interval '11 min', now() - interval '10 min', '{orders}')");
  for (const std::string n : {"both", "orders", "ads"}) {
    Exec(
        absl::StrCat("INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, started_at, "
                     "finished_at, data_types) VALUES "
                     "('o-",
                     n, "', 't-", n,
                     "', 'cron', 'completed', 'completed', now() - interval '11 min', "
                     "now() - interval '10 min', '{orders}'), "
                     "('a-",
                     n, "', 't-", n,
                     "', 'cron', 'completed', 'completed', now() - interval '181 min', "
                     "now() - interval '180 min', '{ads}')"));
  }
  auto claims = repo_->RecordTicks({{"t-both", "run-both", tick, tick, kAllDataTypes},
                                    {"t-orders", "run-orders", tick, tick, kOrdersType},
                                    {"t-ads", "run-ads", tick, tick, kAdsType},
                                    {"t-never", "run-never", tick, tick, kAllDataTypes},
                                    {"t-no-ads", "run-no-ads", tick, tick, kOrdersType}},
                                   "replica-a");
  ASSERT_TRUE(claims.ok()) << claims.status();
  // Both due: only the stale ads run. Orders due alone: fresh, skipped (naming the type).
  EXPECT_EQ((*claims)[0].outcome, TickOutcome::kQueued);
  EXPECT_EQ(Text("SELECT array_to_string(data_types, ',') FROM sync_runs WHERE run_id = "
                 "'run-both'"),
            "ads");
  EXPECT_EQ((*claims)[1].outcome, TickOutcome::kSkippedFresh);
  EXPECT_THAT((*claims)[1].detail,
              MatchesRegex("skipped: data is fresh \\(orders: last success 6[0-9][0-9] s ago, "
                           "staleness threshold 3600 s\\)"));
  EXPECT_EQ((*claims)[2].outcome, TickOutcome::kQueued);
  EXPECT_EQ(Text("SELECT array_to_string(data_types, ',') FROM sync_runs WHERE run_id = "
                 "'run-ads'"),
            "ads");
  // Never synced: everything due runs, first in the queue's order (its data is oldest).
  EXPECT_EQ((*claims)[3].outcome, TickOutcome::kQueued);
  EXPECT_EQ(Text("SELECT array_to_string(data_types, ',') || ' ' || (data_as_of = '-infinity') "
                 "FROM sync_runs WHERE run_id = 'run-never'"),
            "orders,ads true");
  // A type that never synced is due at every fire: the orders fire of a store whose ads never
  // synced syncs its ads (its orders are fresh).
  EXPECT_EQ((*claims)[4].outcome, TickOutcome::kQueued);
  EXPECT_EQ(Text("SELECT array_to_string(data_types, ',') FROM sync_runs WHERE run_id = "
                 "'run-no-ads'"),
            "ads");
  // The ads-only run's data dates from its ads success, not from the fresher orders one.
  EXPECT_EQ(Scalar("SELECT round(extract(epoch FROM now() - data_as_of) / 60)::bigint "
                   "FROM sync_runs WHERE run_id = 'run-both'"),
            180);
}

TEST_F(ClaimBatchTest, MixedBatchDecidesEachTickAsTheRowByRowRecord) {
  const absl::Time tick = absl::FromUnixSeconds(1700000000);
  const std::string at = absl::StrCat(absl::ToUnixSeconds(tick));
  // The group claim's time, to the microsecond.
  const absl::Time claimed = tick + absl::Microseconds(1234567);
  MakeMixedStores("a-", tick);
  MakeMixedStores("b-", tick);
  std::vector<TickRequest> batch;
  std::vector<TickRequest> singles;
  for (const std::string& n : MixedNames()) {
    // "unclaimed": recorded by a replica that lost its group (no claim time of its own).
    const absl::Time c = n == "unclaimed" ? absl::InfinitePast() : claimed;
    batch.push_back({"a-" + n, "a-run-" + n, tick, c});
    singles.push_back({"b-" + n, "b-run-" + n, tick, c});
  }
  // Not in store order: the repository orders the writes itself.
  std::shuffle(batch.begin(), batch.end(), std::mt19937(7));
  const absl::Time before = absl::Now();
  auto claims = repo_->RecordTicks(batch, "replica-a");
  const absl::Time after = absl::Now();
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), batch.size());

  std::map<std::string, TickClaim> by_name;
  for (size_t i = 0; i < batch.size(); ++i) by_name[batch[i].store_id.substr(2)] = (*claims)[i];
  const std::map<std::string, std::string> expected = {
      {"fresh", "fresh"},           {"overlap", "overlap"}, {"pending", "overlap"},
      {"start", "queued"},          {"stale", "queued"},    {"disabled", "not-scheduled"},
      {"missing", "not-scheduled"}, {"lost", "lost"},       {"later", "lost"},
      {"moved", "queued"},          {"zero", "queued"},     {"moved-fresh", "fresh"},
      {"unclaimed", "queued"}};
  for (const auto& [n, outcome] : expected) {
    EXPECT_STREQ(Name(by_name[n].outcome), outcome.c_str()) << n;
  }
  const std::string fresh_20m =
      "skipped: data is fresh \\(last success 1[12][0-9][0-9] s ago, staleness threshold 3600 "
      "s\\)";
  const std::string fresh_10m =
      "skipped: data is fresh \\(last success [56][0-9][0-9] s ago, staleness threshold 3600 "
      "s\\)";
  EXPECT_THAT(by_name["fresh"].detail, MatchesRegex(fresh_20m));
  EXPECT_THAT(by_name["moved-fresh"].detail, MatchesRegex(fresh_10m));
  EXPECT_EQ(by_name["overlap"].detail, "skipped: run a-r4 was still in flight");
  EXPECT_EQ(by_name["pending"].detail, "skipped: run a-r5 was still queued");
  for (const std::string n :
       {"start", "stale", "disabled", "missing", "lost", "later", "moved", "zero", "unclaimed"}) {
    EXPECT_EQ(by_name[n].detail, "") << n;
  }

  // The queued runs: cron, 'queued' in stage 'queued', not started, priority 1, the data as of
  // the store's last completed run (-infinity for a store never synced).
  const std::string queued = absl::StrCat("cron|queued|queued|replica-a||t|", at, "|t|t|1|");
  EXPECT_EQ(RowOf("a-run-start", "a-"), queued + "-infinity|");
  EXPECT_EQ(RowOf("a-run-stale", "a-"), queued + "r2|");
  EXPECT_EQ(RowOf("a-run-zero", "a-"), queued + "r3|");
  EXPECT_EQ(RowOf("a-run-moved", "a-"), queued + "-infinity|");
  EXPECT_EQ(RowOf("a-run-unclaimed", "a-"), queued + "-infinity|");
  // Skips, lost and unscheduled ticks write no run row.
  for (const std::string n :
       {"fresh", "overlap", "pending", "disabled", "missing", "lost", "later", "moved-fresh"}) {
    EXPECT_EQ(RowOf("a-run-" + n, "a-"), "(none)") << n;
  }
  // The tick_claims rows: moved to the boundary with the run id, owner and the request's claim
  // time (the record's own for "unclaimed"); a skip counted on it with its reason (the detail),
  // added to the skips of earlier boundaries; a disabled store's row moves too; an unregistered
  // store gets none; a row at this or a later boundary is untouched.
  const auto row = [&](const std::string& run, int skips, const std::string& skip_at,
                       const std::string& reason, const std::string& claim = "claimed") {
    return absl::StrCat(run, "|replica-a|", at, "|", claim, "|now|", skips, "|", skip_at, "|",
                        reason, "|");
  };
  const std::string fresh_reason =
      "skipped: data is fresh (last success N s ago, staleness threshold 3600 s)";
  EXPECT_EQ(ClaimOf("a-fresh", "a-", claimed), row("run-fresh", 1, "now", fresh_reason));
  EXPECT_EQ(ClaimOf("a-overlap", "a-", claimed),
            row("run-overlap", 1, "now", "skipped: run r4 was still in flight"));
  EXPECT_EQ(ClaimOf("a-pending", "a-", claimed),
            row("run-pending", 1, "now", "skipped: run r5 was still queued"));
  for (const std::string n : {"start", "stale", "zero", "disabled"}) {
    EXPECT_EQ(ClaimOf("a-" + n, "a-", claimed), row("run-" + n, 0, "null", "")) << n;
  }
  EXPECT_EQ(ClaimOf("a-unclaimed", "a-", claimed),
            row("run-unclaimed", 0, "null", "", "at-record"));
  EXPECT_EQ(ClaimOf("a-moved", "a-", claimed),
            row("run-moved", 2, "1600000003", "skipped: old reason"));
  EXPECT_EQ(ClaimOf("a-moved-fresh", "a-", claimed),
            row("run-moved-fresh", 3, "now", fresh_reason));
  EXPECT_EQ(ClaimOf("a-missing", "a-", claimed), "(none)");
  EXPECT_EQ(ClaimOf("a-lost", "a-", claimed),
            absl::StrCat("other|replica-b|", at, "|1600000000|1600000005|0|null||"));
  EXPECT_EQ(ClaimOf("a-later", "a-", claimed),
            absl::StrCat("next|replica-b|", absl::ToUnixSeconds(tick) + 3600,
                         "|1600000000|1600000005|0|null||"));
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE store_id = 'a-fresh' "
                                "AND last_skip_reason = '",
                                by_name["fresh"].detail, "'")),
            1);

  // Every queued row's queued_at, and every written row's recorded_at, skip time and (for the
  // tick without a claim time) claimed_at, is the clock at the record (within the call).
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    const auto window = [&](const std::string& column, const std::string& from_where) {
      const pqxx::result r = tx.exec(
          absl::StrCat("SELECT coalesce((extract(epoch FROM min(", column,
                       ")) * 1000000)::bigint, 0), "
                       "coalesce((extract(epoch FROM max(",
                       column, ")) * 1000000)::bigint, 0), count(", column, ") FROM ", from_where));
      SCOPED_TRACE(column);
      EXPECT_GE(absl::FromUnixMicros(r[0][0].as<int64_t>()), before - absl::Milliseconds(5));
      EXPECT_LE(absl::FromUnixMicros(r[0][1].as<int64_t>()), after + absl::Milliseconds(5));
      return r[0][2].as<int64_t>();
    };
    EXPECT_EQ(window("queued_at", "sync_runs WHERE run_id LIKE 'a-run-%'"), 5);
    EXPECT_EQ(window("recorded_at",
                     "tick_claims WHERE store_id LIKE 'a-%' AND owner = "
                     "'replica-a'"),
              10);
    EXPECT_EQ(window("last_skip_at",
                     "tick_claims WHERE store_id LIKE 'a-%' AND owner = "
                     "'replica-a' AND store_id <> 'a-moved'"),
              4);
    EXPECT_EQ(window("claimed_at", "tick_claims WHERE store_id = 'a-unclaimed'"), 1);
  }

  // The same ticks recorded one by one: identical outcomes, details, run rows and claim rows.
  for (const TickRequest& single : singles) {
    const std::string n = single.store_id.substr(2);
    SCOPED_TRACE(n);
    auto one = repo_->RecordTick(single, "replica-a");
    ASSERT_TRUE(one.ok()) << one.status();
    const TickClaim& batched = by_name[n];
    EXPECT_STREQ(Name(one->outcome), Name(batched.outcome));
    if (n == "fresh") {
      EXPECT_THAT(one->detail, MatchesRegex(fresh_20m));
    } else if (n == "moved-fresh") {
      EXPECT_THAT(one->detail, MatchesRegex(fresh_10m));
    } else if (n == "overlap") {
      EXPECT_EQ(one->detail, "skipped: run b-r4 was still in flight");
    } else if (n == "pending") {
      EXPECT_EQ(one->detail, "skipped: run b-r5 was still queued");
    } else {
      EXPECT_EQ(one->detail, batched.detail);
    }
    EXPECT_EQ(RowOf("b-run-" + n, "b-"), RowOf("a-run-" + n, "a-"));
    EXPECT_EQ(ClaimOf("b-" + n, "b-", claimed), ClaimOf("a-" + n, "a-", claimed));
  }

  // A second record of the same ticks (a replica that lost the groups finding them unrecorded
  // too late, with its own run ids, or the winner again) loses every one of them (a store not
  // scheduled stays not scheduled); not a row changes.
  const std::string claims_before = Text(
      "SELECT string_agg(c::text, ';' ORDER BY store_id) FROM tick_claims c WHERE store_id "
      "LIKE 'a-%'");
  const int64_t runs_before = Scalar("SELECT count(*) FROM sync_runs");
  std::vector<TickRequest> again = batch;
  for (TickRequest& t : again) {
    t.run_id += "-again";
    t.claimed_at = absl::InfinitePast();
  }
  for (const std::vector<TickRequest>* ticks : {&batch, &again}) {
    auto second = repo_->RecordTicks(*ticks, "replica-b");
    ASSERT_TRUE(second.ok()) << second.status();
    for (size_t i = 0; i < ticks->size(); ++i) {
      const std::string n = (*ticks)[i].store_id.substr(2);
      EXPECT_STREQ(Name((*second)[i].outcome),
                   n == "disabled" || n == "missing" ? "not-scheduled" : "lost")
          << (*ticks)[i].run_id;
      EXPECT_EQ((*second)[i].detail, "") << (*ticks)[i].run_id;
    }
  }
  EXPECT_EQ(Text("SELECT string_agg(c::text, ';' ORDER BY store_id) FROM tick_claims c "
                 "WHERE store_id LIKE 'a-%'"),
            claims_before);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs"), runs_before);
}

TEST_F(ClaimBatchTest, DuplicateAndOddRequestsInOneBatch) {
  const absl::Time tick = absl::FromUnixSeconds(1700000040);
  const absl::Time claimed = tick + absl::Milliseconds(10);
  Exec("INSERT INTO stores (store_id) VALUES ('dup')");
  // The same store twice for one tick: one is recorded, the other is lost.
  const std::vector<TickRequest> twice = {{"dup", "run-1", tick, claimed},
                                          {"dup", "run-2", tick, claimed}};
  auto claims = repo_->RecordTicks(twice, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), 2u);
  std::multiset<std::string> outcomes = {Name((*claims)[0].outcome), Name((*claims)[1].outcome)};
  EXPECT_THAT(outcomes, ElementsAre("lost", "queued"));
  const std::string recorded_run = (*claims)[0].outcome == TickOutcome::kQueued ? "run-1" : "run-2";
  EXPECT_EQ(Text("SELECT string_agg(run_id, ',') FROM sync_runs WHERE store_id = 'dup'"),
            recorded_run);
  EXPECT_EQ(Text("SELECT run_id FROM tick_claims WHERE store_id = 'dup'"), recorded_run);

  // The same store for two ticks in one batch, the later first: the later tick is recorded,
  // the earlier one lost (one queued-or-running run per store).
  Exec("UPDATE sync_runs SET status = 'failed', finished_at = now() WHERE store_id = 'dup'");
  const std::vector<TickRequest> two_ticks = {{"dup", "run-4", tick + absl::Minutes(2), claimed},
                                              {"dup", "run-3", tick + absl::Minutes(1), claimed}};
  auto both = repo_->RecordTicks(two_ticks, "r");
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_STREQ(Name((*both)[0].outcome), "queued");
  EXPECT_STREQ(Name((*both)[1].outcome), "lost");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup' AND status = "
                   "'queued' AND run_id = 'run-4'"),
            1);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE store_id = 'dup' AND "
                                "run_id = 'run-4' AND boundary = ",
                                SqlTime(tick + absl::Minutes(2)))),
            1);
  // That earlier tick alone, afterwards: lost, nothing changes.
  auto earlier = repo_->RecordTicks({{"dup", "run-3b", tick + absl::Minutes(1), claimed}}, "r");
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_STREQ(Name((*earlier)[0].outcome), "lost");
  EXPECT_EQ(Text("SELECT run_id FROM tick_claims WHERE store_id = 'dup'"), "run-4");
  // The next tick finds that run still queued: an overlap, counted on the store's row.
  const TickRequest next = {"dup", "run-5", tick + absl::Minutes(3), claimed};
  auto overlap = repo_->RecordTicks({next}, "r");
  ASSERT_TRUE(overlap.ok()) << overlap.status();
  EXPECT_STREQ(Name((*overlap)[0].outcome), "overlap");
  EXPECT_EQ((*overlap)[0].detail, "skipped: run run-4 was still queued");
  EXPECT_EQ(Scalar("SELECT skipped_fires FROM tick_claims WHERE store_id = 'dup' AND "
                   "run_id = 'run-5' AND last_skip_reason = 'skipped: run run-4 was still "
                   "queued' AND recorded_at IS NOT NULL AND last_skip_at IS NOT NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id = 'dup'"), 2);

  // Store ids that are not registered (one the stores table could never hold, one of the
  // longest length, one twice): not scheduled, and nothing is written for them.
  const std::vector<TickRequest> odd_ticks = {{"no-such-store", "run-6", tick, claimed},
                                              {std::string(63, 'z'), "run-7", tick, claimed},
                                              {"No.Such:Store", "run-8", tick, claimed},
                                              {"no-such-store", "run-9", tick, claimed}};
  auto odd = repo_->RecordTicks(odd_ticks, "r");
  ASSERT_TRUE(odd.ok()) << odd.status();
  ASSERT_EQ(odd->size(), odd_ticks.size());
  for (const TickClaim& c : *odd) {
    EXPECT_STREQ(Name(c.outcome), "not-scheduled");
    EXPECT_EQ(c.detail, "");
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id <> 'dup'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id <> 'dup'"), 0);
}

// 5000 ticks of one boundary, their groups claimed first as a replica does: one statement
// records them all in one transaction, each with its group's claim time.
TEST_F(ClaimBatchTest, LargeBatchInOneStatement) {
  Exec("INSERT INTO stores (store_id) SELECT 'big' || i FROM generate_series(1, 5000) i");
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
      "SELECT 'seed-' || store_id, store_id, 'api', 'completed', 'completed', now() "
      "FROM stores WHERE store_id LIKE 'big%' AND right(store_id, 1) <> '7'");
  const absl::Time tick = absl::FromUnixSeconds(1700000100);
  std::vector<GroupTick> keys;
  for (int g = 0; g < kTickGroups; ++g) keys.push_back({g, tick});
  auto groups = repo_->ClaimGroups(keys, "r");
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), keys.size());
  std::vector<TickRequest> batch;
  std::map<std::string, int64_t> claimed_us;
  for (int i = 1; i <= 5000; ++i) {
    const std::string id = absl::StrCat("big", i);
    const GroupClaim& group = (*groups)[static_cast<size_t>(TickGroupOf(id))];
    ASSERT_TRUE(group.won) << id;
    batch.push_back({id, absl::StrCat("run-", i), tick, group.claimed_at});
    claimed_us[id] = absl::ToUnixMicros(group.claimed_at);
  }
  std::shuffle(batch.begin(), batch.end(), std::mt19937(11));
  auto claims = repo_->RecordTicks(batch, "r");
  ASSERT_TRUE(claims.ok()) << claims.status();
  ASSERT_EQ(claims->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const bool seven = batch[i].store_id.back() == '7';
    EXPECT_STREQ(Name((*claims)[i].outcome), seven ? "queued" : "fresh") << batch[i].store_id;
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron' AND status = "
                   "'queued' AND right(store_id, 1) = '7' AND run_id = 'run-' || "
                   "substr(store_id, 4)"),
            500);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 500);
  // The fresh skips are counted on the stores' rows, which write no run row.
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE skipped_fires = 1 AND "
                   "last_skip_reason LIKE 'skipped: data is fresh%' AND right(store_id, 1) <> "
                   "'7'"),
            4500);
  EXPECT_EQ(Scalar("SELECT sum(skipped_fires) FROM tick_claims"), 4500);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE recorded_at IS NOT "
                                "NULL AND owner = 'r' AND boundary = ",
                                SqlTime(tick))),
            5000);
  // One transaction wrote every row (run rows and tick_claims rows alike).
  EXPECT_EQ(Scalar("SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM tick_claims "
                   "UNION ALL SELECT xmin::text FROM sync_runs WHERE trigger = 'cron') s"),
            1);
  // Each row keeps its group's claim time.
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  int checked = 0;
  for (const auto& r :
       tx.exec("SELECT store_id, (extract(epoch FROM claimed_at) * 1000000)::bigint "
               "FROM tick_claims")) {
    EXPECT_EQ(r[1].as<int64_t>(), claimed_us[r[0].as<std::string>()]) << r[0].c_str();
    ++checked;
  }
  EXPECT_EQ(checked, 5000);
}

// A statement holding rows of tick_claims holds only those of stores before the one it waits
// for: it locks them in store order, whatever the order of the requests, so two recorders of
// overlapping ticks wait for each other but never deadlock.
TEST_F(ClaimBatchTest, RecordLocksStoreRowsInStoreOrder) {
  const absl::Time tick = absl::FromUnixSeconds(1700000200);
  Exec("INSERT INTO stores (store_id) VALUES ('o1'), ('o2'), ('o3')");
  Exec(
      absl::StrCat("INSERT INTO tick_claims (store_id, boundary, run_id, owner) SELECT "
                   "store_id, ",
                   SqlTime(tick - absl::Hours(1)), ", 'prev-' || store_id, 'x' FROM stores"));
  pqxx::connection holder(url_);
  pqxx::work holder_tx(holder);
  holder_tx.exec("UPDATE tick_claims SET owner = 'holder' WHERE store_id = 'o2'");
  absl::StatusOr<std::vector<TickClaim>> claims;
  std::thread recorder([&] {
    claims = repo_->RecordTicks({{"o3", "t-3", tick}, {"o1", "t-1", tick}, {"o2", "t-2", tick}},
                                "replica-a");
  });
  EXPECT_TRUE(WaitUntilBlocked("WITH req AS"));
  // o1 (before o2) is held by the blocked statement, o3 (after it) not yet.
  const auto unlocked = [&](const std::string& id) {
    return Scalar(
        absl::StrCat("SELECT count(*) FROM (SELECT 1 FROM tick_claims WHERE "
                     "store_id = '",
                     id, "' FOR UPDATE SKIP LOCKED) s"));
  };
  EXPECT_EQ(unlocked("o1"), 0);
  EXPECT_EQ(unlocked("o3"), 1);
  holder_tx.abort();
  recorder.join();
  ASSERT_TRUE(claims.ok()) << claims.status();
  for (const TickClaim& c : *claims) EXPECT_STREQ(Name(c.outcome), "queued");
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE run_id = 't-' || "
                                "substr(store_id, 2) AND boundary = ",
                                SqlTime(tick))),
            3);
}

// Two replicas record the same ticks at the same moment -- the group's winner (with its claim
// time) and a replica that lost the group and found them unrecorded (with its own run ids) --
// each in its own shuffled chunks, so chunks overlap partially and list stores in any order.
// Every tick is recorded exactly once (one queued run, or one skip counted), the row names the
// replica that recorded it, and no batch fails (no deadlock). Over four boundaries.
TEST_F(ClaimBatchTest, TwoReplicasRecordTheSameTicksConcurrently) {
  constexpr int kStores = 3000;
  Exec(
      absl::StrCat("INSERT INTO stores (store_id) SELECT 'c' || lpad(i::text, 5, '0') "
                   "FROM generate_series(1, ",
                   kStores, ") i"));
  // Two thirds fresh (skipped), one third never synced (queued on the first tick, overlap on
  // the next: the run is still queued).
  Exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
      "SELECT 'seed-' || store_id, store_id, 'api', 'completed', 'completed', now() "
      "FROM stores WHERE substr(store_id, 2)::int % 3 <> 0");
  auto other_pool = common::PgPool::Create({.url = url_, .size = 4});
  ASSERT_TRUE(other_pool.ok());
  PgRepository other(**other_pool);
  std::vector<std::string> ids;
  for (int i = 1; i <= kStores; ++i)
    ids.push_back(absl::StrCat("c", absl::Dec(i, absl::kZeroPad5)));

  std::map<std::string, std::string> first_run;  // round 0's recorded run id per store
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(round);
    const absl::Time tick = absl::FromUnixSeconds(1700000000 + 60 * round);
    const absl::Time claimed = tick + absl::Microseconds(1500001);
    std::array<std::vector<TickRequest>, 2> requests;
    for (size_t r = 0; r < 2; ++r) {
      for (const std::string& id : ids) {
        requests[r].push_back({id, absl::StrCat("t", round, "-", r, "-", id), tick,
                               r == 0 ? claimed : absl::InfinitePast()});
      }
      std::shuffle(requests[r].begin(), requests[r].end(),
                   std::mt19937(static_cast<unsigned>(round * 2 + r)));
    }
    const auto results = TwoReplicasAtOnce<TickClaim>(
        other, requests,
        [](PgRepository& repo, const std::vector<TickRequest>& part, const std::string& owner) {
          return repo.RecordTicks(part, owner);
        });
    ASSERT_EQ(results[0].size(), ids.size());
    ASSERT_EQ(results[1].size(), ids.size());
    std::map<std::string, size_t> winner;
    std::map<std::string, std::string> run_of;
    std::map<std::string, int> outcomes;
    for (size_t r = 0; r < 2; ++r) {
      for (const auto& [asked, result] : results[r]) {
        EXPECT_NE(result.outcome, TickOutcome::kNotScheduled);
        if (result.outcome == TickOutcome::kLost) continue;
        EXPECT_TRUE(winner.emplace(asked.store_id, r).second)
            << "recorded twice: " << asked.store_id;
        run_of[asked.store_id] = asked.run_id;
        ++outcomes[Name(result.outcome)];
        if (result.outcome == TickOutcome::kSkippedOverlap) {
          EXPECT_EQ(result.detail,
                    absl::StrCat("skipped: run ", first_run[asked.store_id], " was still queued"));
        }
      }
    }
    EXPECT_EQ(winner.size(), ids.size());
    EXPECT_EQ(outcomes["fresh"], kStores * 2 / 3);
    EXPECT_EQ(outcomes["queued"], round == 0 ? kStores / 3 : 0);
    EXPECT_EQ(outcomes["overlap"], round == 0 ? 0 : kStores / 3);
    if (round == 0) first_run = run_of;
    // Only a queued tick writes a run row: the recorder's, under its run id.
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    int runs = 0;
    for (const auto& row : tx.exec(absl::StrCat(
             "SELECT store_id, run_id, owner FROM sync_runs WHERE trigger = 'cron' AND "
             "scheduled_for = ",
             SqlTime(tick)))) {
      const std::string id = row[0].as<std::string>();
      EXPECT_EQ(row[1].as<std::string>(), run_of[id]);
      EXPECT_EQ(row[2].as<std::string>(), absl::StrCat("replica-", winner[id]));
      ++runs;
    }
    EXPECT_EQ(runs, round == 0 ? kStores / 3 : 0);
    // One queued-or-running run per store at most, and the never-synced third is queued.
    EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE status IN ('queued', 'running')"),
              kStores / 3);
    // Every store's row at this boundary, naming its recorder, with the winner's claim time
    // or (for the other replica, which had none) the record's.
    int rows = 0;
    for (const auto& row : tx.exec(absl::StrCat(
             "SELECT store_id, run_id, owner, (extract(epoch FROM claimed_at) * 1000000)::bigint, "
             "claimed_at <= recorded_at AND claimed_at > recorded_at - interval '1 second' "
             "FROM tick_claims WHERE boundary = ",
             SqlTime(tick)))) {
      const std::string id = row[0].as<std::string>();
      SCOPED_TRACE(id);
      EXPECT_EQ(row[1].as<std::string>(), run_of[id]);
      EXPECT_EQ(row[2].as<std::string>(), absl::StrCat("replica-", winner[id]));
      if (winner[id] == 0) {
        EXPECT_EQ(row[3].as<int64_t>(), absl::ToUnixMicros(claimed));
      } else {
        EXPECT_TRUE(row[4].as<bool>());
      }
      ++rows;
    }
    EXPECT_EQ(rows, kStores);
    // Each skip counted once: two thirds per round, and from the second round on the queued
    // third too.
    EXPECT_EQ(Scalar("SELECT sum(skipped_fires) FROM tick_claims"),
              kStores * 2 / 3 * (round + 1) + kStores / 3 * round);
  }
}

// A manual run queued after the batch's snapshot but before its insert: the unique index on
// queued-or-running runs refuses the whole statement; nothing of the batch is recorded, and the
// row-by-row record that follows counts the overlap. Likewise a store deleted meanwhile
// (ABORTED), which the row-by-row record then finds not scheduled.
TEST_F(ClaimBatchTest, ConcurrentCommitsRollTheBatchBack) {
  Exec("INSERT INTO stores (store_id) VALUES ('m1'), ('m2'), ('m3'), ('m4'), ('m5')");
  const absl::Time tick = absl::FromUnixSeconds(1700000400);
  const absl::Time claimed = tick + absl::Milliseconds(3);
  const std::vector<TickRequest> ticks = {
      {"m1", "t-1", tick, claimed}, {"m2", "t-2", tick, claimed}, {"m3", "t-3", tick, claimed}};
  pqxx::connection manual(url_);
  pqxx::work manual_tx(manual);
  manual_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, priority) "
      "VALUES ('manual-1', 'm2', 'manual', 'queued', 'queued', 'x', 0)");
  absl::StatusOr<std::vector<TickClaim>> claims;
  std::thread recorder([&] { claims = repo_->RecordTicks(ticks, "replica-a"); });
  EXPECT_TRUE(WaitUntilBlocked("WITH req AS"));
  manual_tx.commit();
  recorder.join();
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kAlreadyExists) << claims.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE trigger = 'cron'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 0);
  // Row by row (what TickClaimer does next): m2 overlaps the manual run, m1 queues.
  auto m1 = repo_->RecordTick(ticks[0], "replica-a");
  auto m2 = repo_->RecordTick(ticks[1], "replica-a");
  ASSERT_TRUE(m1.ok()) << m1.status();
  ASSERT_TRUE(m2.ok()) << m2.status();
  EXPECT_EQ(m1->outcome, TickOutcome::kQueued);
  EXPECT_EQ(m2->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_EQ(m2->detail, "skipped: run manual-1 was still queued");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-1' AND status = 'queued'"), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-2'"), 0);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_claims WHERE store_id IN ('m1', "
                                "'m2') AND claimed_at = ",
                                SqlTime(claimed))),
            2);

  // The same race on the row-by-row path: its statement is rolled back too, and the next
  // attempt sees the committed manual run and counts the overlap.
  pqxx::connection manual3(url_);
  pqxx::work manual3_tx(manual3);
  manual3_tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, owner, priority) "
      "VALUES ('manual-3', 'm3', 'manual', 'queued', 'queued', 'x', 0)");
  absl::StatusOr<TickClaim> m3;
  std::thread single([&] { m3 = repo_->RecordTick(ticks[2], "replica-a"); });
  EXPECT_TRUE(WaitUntilBlocked("WITH req AS"));
  manual3_tx.commit();
  single.join();
  ASSERT_TRUE(m3.ok()) << m3.status();
  EXPECT_EQ(m3->outcome, TickOutcome::kSkippedOverlap);
  EXPECT_EQ(m3->detail, "skipped: run manual-3 was still queued");
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-3'"), 0);
  EXPECT_EQ(Scalar(absl::StrCat(
                "SELECT count(*) FROM tick_claims WHERE store_id = 'm3' AND run_id = 't-3' AND "
                "recorded_at IS NOT NULL AND skipped_fires = 1 AND last_skip_at IS NOT NULL AND "
                "last_skip_reason = 'skipped: run manual-3 was still queued' AND claimed_at = ",
                SqlTime(claimed))),
            1);

  // A store deleted after the snapshot: its run row fails the foreign key, the batch is
  // rolled back (ABORTED); row by row, the deleted store is not scheduled (no row written) and
  // the other one queues.
  const std::vector<TickRequest> deleted = {{"m5", "t-5", tick, claimed},
                                            {"m4", "t-4", tick, claimed}};
  pqxx::connection deleter(url_);
  pqxx::work deleter_tx(deleter);
  deleter_tx.exec("DELETE FROM stores WHERE store_id = 'm4'");
  std::thread recorder2([&] { claims = repo_->RecordTicks(deleted, "replica-a"); });
  EXPECT_TRUE(WaitUntilBlocked("WITH req AS"));
  deleter_tx.commit();
  recorder2.join();
  EXPECT_EQ(claims.status().code(), absl::StatusCode::kAborted) << claims.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id IN ('m4', 'm5')"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE store_id IN ('m4', 'm5')"), 0);
  auto m5 = repo_->RecordTick(deleted[0], "replica-a");
  auto m4 = repo_->RecordTick(deleted[1], "replica-a");
  ASSERT_TRUE(m5.ok()) << m5.status();
  ASSERT_TRUE(m4.ok()) << m4.status();
  EXPECT_EQ(m5->outcome, TickOutcome::kQueued);
  EXPECT_EQ(m4->outcome, TickOutcome::kNotScheduled);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims WHERE store_id = 'm4'"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs WHERE run_id = 't-5' AND status = 'queued'"), 1);
}

// A replica that lost a group checks its ticks after a grace: the ones whose store row is
// absent or at an earlier boundary are unrecorded (returned in store order with their run ids
// and boundaries), the ones at that boundary or a later one are not. Once recorded, they are
// no longer found.
TEST_F(ClaimBatchTest, UnrecordedTicksAreTheOnesAtAnEarlierBoundaryOrAbsent) {
  const absl::Time tick = absl::FromUnixSeconds(1700000600);
  Exec(
      "INSERT INTO stores (store_id) VALUES ('u-absent'), ('u-earlier'), ('u-equal'), "
      "('u-later'), ('u-micro')");
  Exec(absl::StrCat(
      "INSERT INTO tick_claims (store_id, boundary, run_id, owner, recorded_at) VALUES "
      "('u-earlier', ",
      SqlTime(tick - absl::Hours(1)),
      ", 'w-earlier', 'w', now()), "
      "('u-equal', ",
      SqlTime(tick),
      ", 'w-equal', 'w', now()), "
      "('u-later', ",
      SqlTime(tick + absl::Hours(1)),
      ", 'w-later', 'w', now()), "
      "('u-micro', ",
      SqlTime(tick), ", 'w-micro', 'w', now())"));
  const std::vector<TickRequest> lost = {
      {"u-later", "l-later", tick},
      {"u-micro", "l-micro", tick + absl::Microseconds(1)},  // a microsecond after the row's
      {"u-equal", "l-equal", tick},
      {"u-earlier", "l-earlier", tick},
      {"u-earlier", "l-older", tick - absl::Hours(2)},  // before the row's: recorded
      {"u-gone", "l-gone", tick},                       // not registered: no row, ever
      {"u-absent", "l-absent", tick}};
  auto found = repo_->UnrecordedTicks(lost);
  ASSERT_TRUE(found.ok()) << found.status();
  std::vector<std::string> found_ids;
  for (const TickRequest& t : *found) {
    found_ids.push_back(absl::StrCat(t.store_id, " ", t.run_id, " ",
                                     absl::ToInt64Microseconds(t.scheduled_for - tick)));
  }
  EXPECT_THAT(found_ids, ElementsAre("u-absent l-absent 0", "u-earlier l-earlier 0",
                                     "u-gone l-gone 0", "u-micro l-micro 1"));
  // Recording them: the registered ones move to the boundary; the unregistered one is not
  // scheduled and stays unrecorded (it has no row to move).
  auto recorded = repo_->RecordTicks(*found, "replica-b");
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  std::vector<std::string> outcomes;
  for (const TickClaim& c : *recorded) outcomes.push_back(Name(c.outcome));
  EXPECT_THAT(outcomes, ElementsAre("queued", "queued", "not-scheduled", "queued"));
  auto again = repo_->UnrecordedTicks(lost);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].store_id, "u-gone");
  // Rows recorded at this boundary or later are left as they were.
  EXPECT_EQ(Text("SELECT string_agg(run_id, ',' ORDER BY store_id) FROM tick_claims"),
            "l-absent,l-earlier,w-equal,w-later,l-micro");
}

// ---- The claim ----

TEST_F(ClaimBatchTest, EachGroupAndBoundaryIsWonOnce) {
  const absl::Time tick = absl::FromUnixSeconds(1700003600);
  const absl::Time odd = tick + absl::Microseconds(123457);  // exact to the microsecond
  const absl::Time before = absl::Now();
  auto a = repo_->ClaimGroups({{7, tick}, {3, tick}, {kTickGroups - 1, odd}}, "replica-a");
  const absl::Time after = absl::Now();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 3u);
  for (const GroupClaim& c : *a) {
    EXPECT_TRUE(c.won);
    EXPECT_GE(c.claimed_at, before - absl::Milliseconds(5));
    EXPECT_LE(c.claimed_at, after + absl::Milliseconds(5));
  }
  // The rows: the winner and its claim time, as returned.
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_group_claims WHERE group_id = 7 "
                                "AND owner = 'replica-a' AND boundary = ",
                                SqlTime(tick), " AND claimed_at = ", SqlTime((*a)[0].claimed_at))),
            1);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_group_claims WHERE group_id = ",
                                kTickGroups - 1, " AND boundary = ", SqlTime(odd),
                                " AND claimed_at = ", SqlTime((*a)[2].claimed_at))),
            1);
  // Another replica, the same keys and one more: only the new one.
  auto b =
      repo_->ClaimGroups({{3, tick}, {7, tick}, {8, tick}, {kTickGroups - 1, odd}}, "replica-b");
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<bool> won;
  for (const GroupClaim& c : *b) won.push_back(c.won);
  EXPECT_THAT(won, ElementsAre(false, false, true, false));
  // An earlier boundary of a group nobody claimed (a catch-up, a replica with a slow clock) is
  // still won, once: not by the other replica. The winner claiming its own key again (a
  // boundary larger than one pass of the schedule loop comes in several passes) gets it back,
  // told the time of this call, and the row keeps its first claim time.
  auto earlier = repo_->ClaimGroups({{7, tick - absl::Hours(1)}}, "replica-b");
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  EXPECT_TRUE((*earlier)[0].won);
  auto other = repo_->ClaimGroups({{7, tick - absl::Hours(1)}}, "replica-a");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE((*other)[0].won);
  auto own = repo_->ClaimGroups({{7, tick - absl::Hours(1)}}, "replica-b");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE((*own)[0].won);
  EXPECT_GE((*own)[0].claimed_at, (*earlier)[0].claimed_at);
  EXPECT_EQ(Scalar(absl::StrCat("SELECT count(*) FROM tick_group_claims WHERE group_id = 7 AND "
                                "owner = 'replica-b' AND claimed_at = ",
                                SqlTime((*earlier)[0].claimed_at))),
            1);
  // A key repeated in one call is won once (one row).
  auto repeated = repo_->ClaimGroups({{9, tick}, {9, tick}, {10, tick}, {9, tick}}, "replica-a");
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  ASSERT_EQ(repeated->size(), 4u);
  EXPECT_EQ((*repeated)[0].won + (*repeated)[1].won + (*repeated)[3].won, 1);
  EXPECT_TRUE((*repeated)[2].won);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_group_claims WHERE group_id = 9"), 1);
  // A key the table refuses (no negative group) fails the call, and nothing of it is claimed.
  auto refused = repo_->ClaimGroups({{11, tick}, {-1, tick}}, "replica-a");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_group_claims WHERE group_id = 11"), 0);
  // All the rows; claiming writes no tick_claims row and no run.
  EXPECT_EQ(Text("SELECT string_agg(group_id || ' ' || owner, ',' ORDER BY group_id, boundary) "
                 "FROM tick_group_claims"),
            absl::StrCat("3 replica-a,7 replica-b,7 replica-a,8 replica-b,9 replica-a,10 "
                         "replica-a,",
                         kTickGroups - 1, " replica-a"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_claims"), 0);
  EXPECT_EQ(Scalar("SELECT count(*) FROM sync_runs"), 0);
}

// Two replicas pop the same boundaries and claim every group of them at the same moment, two
// connections each, in chunks of different sizes listing the keys in different orders: every
// key is won exactly once, its row names the winner and the claim time it was told, and no
// statement fails (keys are inserted in key order, so there is no deadlock).
TEST_F(ClaimBatchTest, TwoReplicasClaimingTheSameGroupsWinEachKeyOnce) {
  auto other_pool = common::PgPool::Create({.url = url_, .size = 4});
  ASSERT_TRUE(other_pool.ok());
  PgRepository other(**other_pool);
  std::array<std::vector<GroupTick>, 2> keys;
  for (size_t r = 0; r < 2; ++r) {
    for (int b = 0; b < 3; ++b) {
      for (int g = 0; g < kTickGroups; ++g) {
        keys[r].push_back({g, absl::FromUnixSeconds(1700000000 + 60 * b)});
      }
    }
    std::shuffle(keys[r].begin(), keys[r].end(), std::mt19937(static_cast<unsigned>(r + 1)));
  }
  const auto results = TwoReplicasAtOnce<GroupClaim>(
      other, keys,
      [](PgRepository& repo, const std::vector<GroupTick>& part, const std::string& owner) {
        return repo.ClaimGroups(part, owner);
      });
  ASSERT_EQ(results[0].size(), keys[0].size());
  ASSERT_EQ(results[1].size(), keys[1].size());
  // Per key: the winner and its claim time.
  std::map<std::pair<int, int64_t>, std::pair<size_t, int64_t>> won;
  for (size_t r = 0; r < 2; ++r) {
    for (const auto& [key, claim] : results[r]) {
      if (!claim.won) continue;
      const bool first = won.emplace(std::make_pair(key.group, absl::ToUnixMicros(key.boundary)),
                                     std::make_pair(r, absl::ToUnixMicros(claim.claimed_at)))
                             .second;
      EXPECT_TRUE(first) << "won twice: " << key.group << " " << key.boundary;
    }
  }
  EXPECT_EQ(won.size(), keys[0].size());
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  int rows = 0;
  for (const auto& row : tx.exec("SELECT group_id, (extract(epoch FROM boundary) * 1000000)"
                                 "::bigint, owner, (extract(epoch FROM claimed_at) * 1000000)"
                                 "::bigint FROM tick_group_claims")) {
    const auto it = won.find({row[0].as<int>(), row[1].as<int64_t>()});
    ASSERT_NE(it, won.end()) << row[0].c_str();
    EXPECT_EQ(row[2].as<std::string>(), absl::StrCat("replica-", it->second.first));
    EXPECT_EQ(row[3].as<int64_t>(), it->second.second);
    ++rows;
  }
  EXPECT_EQ(rows, static_cast<int>(keys[0].size()));
}

TEST_F(ClaimBatchTest, PruneDeletesOnlyOldGroupClaims) {
  const absl::Time tick = absl::FromUnixSeconds(1700000000);
  Exec(
      absl::StrCat("INSERT INTO tick_group_claims (group_id, boundary, owner, claimed_at) VALUES "
                   "(1, ",
                   SqlTime(tick),
                   ", 'x', now() - interval '3 days'), "
                   "(2, ",
                   SqlTime(tick),
                   ", 'x', now() - interval '49 hours'), "
                   "(3, ",
                   SqlTime(tick),
                   ", 'x', now() - interval '47 hours'), "
                   "(4, ",
                   SqlTime(tick), ", 'x', now() - interval '1 minute')"));
  ASSERT_TRUE(repo_->ClaimGroups({{5, tick}}, "replica-a").ok());
  auto pruned = repo_->PruneGroupClaims(absl::Hours(48));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(Text("SELECT string_agg(group_id::text, ',' ORDER BY group_id) FROM "
                 "tick_group_claims"),
            "3,4,5");
  auto none = repo_->PruneGroupClaims(absl::Hours(48));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  // Nothing older than zero: every claim made before the call.
  auto all = repo_->PruneGroupClaims(absl::ZeroDuration());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, 3);
  EXPECT_EQ(Scalar("SELECT count(*) FROM tick_group_claims"), 0);
}

}  // namespace
}  // namespace autosync::scheduler
