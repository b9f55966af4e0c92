// Migrations against a real PostgreSQL: idempotent, safe when several processes start at once,
// and refusing a schema newer than the binary.
#include "common/migrations.h"

#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/time/clock.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/pg_cluster.h"

namespace autosync::common {
namespace {

using ::testing::IsSupersetOf;

std::unique_ptr<PgPool> PoolFor(const std::string& url) {
  auto pool = PgPool::Create({.url = url, .size = 2});
  EXPECT_TRUE(pool.ok()) << pool.status();
  return std::move(*pool);
}

std::vector<std::string> Tables(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  std::vector<std::string> out;
  for (const auto& row :
       tx.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")) {
    out.push_back(row[0].as<std::string>());
  }
  return out;
}

TEST(MigrationsTest, CreatesTheDesignTables) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  absl::StatusOr<int> applied = ApplyMigrations(*pool, EmbeddedMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int>(EmbeddedMigrations().size()));
  EXPECT_THAT(Tables(url), IsSupersetOf({"stores", "sync_tracking", "sync_runs", "orders", "ads",
                                         "customer_ltv_cohorts", "schema_migrations"}));
}

TEST(MigrationsTest, SecondRunIsANoOp) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  ASSERT_TRUE(ApplyMigrations(*pool, EmbeddedMigrations()).ok());
  absl::StatusOr<int> again = ApplyMigrations(*pool, EmbeddedMigrations());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>(),
            static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigrationsTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  constexpr int kMigrators = 6;
  std::vector<absl::StatusOr<int>> results(kMigrators, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      auto pool = PoolFor(url);  // each like a separate process: its own connections
      results[i] = ApplyMigrations(*pool, EmbeddedMigrations());
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    total += *r;
  }
  EXPECT_EQ(total, static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigrationsTest, RefusesADatabaseNewerThanTheBinary) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  ASSERT_TRUE(ApplyMigrations(*pool, EmbeddedMigrations()).ok());
  {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')");
    tx.commit();
  }
  absl::StatusOr<int> r = ApplyMigrations(*pool, EmbeddedMigrations());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MigrationsTest, OneRunningRunPerStoreIsEnforcedByTheDatabase) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  ASSERT_TRUE(ApplyMigrations(*pool, EmbeddedMigrations()).ok());
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec("INSERT INTO stores (store_id) VALUES ('buycosari')");
  tx.exec(
      "INSERT INTO sync_runs (run_id, store_id, trigger, status) "
      "VALUES ('r1', 'buycosari', 'manual', 'running')");
  EXPECT_THROW(tx.exec("INSERT INTO sync_runs (run_id, store_id, trigger, status) "
                       "VALUES ('r2', 'buycosari', 'api', 'running')"),
               pqxx::unique_violation);
  // A finished run does not block the next one.
  tx.exec("UPDATE sync_runs SET status = 'completed' WHERE run_id = 'r1'");
  EXPECT_NO_THROW(
      tx.exec("INSERT INTO sync_runs (run_id, store_id, trigger, status) "
              "VALUES ('r2', 'buycosari', 'api', 'running')"));
}

TEST(MigrationsTest, StoreIdsAreValidatedByTheSchema) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  ASSERT_TRUE(ApplyMigrations(*pool, EmbeddedMigrations()).ok());
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  EXPECT_THROW(tx.exec("INSERT INTO stores (store_id) VALUES ('Bad Id')"), pqxx::check_violation);
}

// Upgrading a database with cron history to 0004: each store's latest recorded tick becomes its
// claim, so no boundary already run is claimed again and the schedule load still sees it.
TEST(MigrationsTest, TickClaimsStartFromTheLatestRecordedCronTick) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  std::vector<Migration> before;
  for (const Migration& m : EmbeddedMigrations()) {
    if (m.version < 4) before.push_back(m);
  }
  ASSERT_EQ(before.size(), 3u);
  ASSERT_TRUE(ApplyMigrations(*pool, before).ok());
  {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec("INSERT INTO stores (store_id) VALUES ('h1'), ('h2'), ('h3')");
    tx.exec(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, scheduled_for, owner, "
        "started_at, finished_at) VALUES "
        "('old', 'h1', 'cron', 'completed', 'completed', to_timestamp(1700000000), 'a', "
        "to_timestamp(1700000001), to_timestamp(1700000002)), "
        "('new', 'h1', 'cron', 'skipped', 'skipped', to_timestamp(1700003600), 'b', "
        "to_timestamp(1700003601), to_timestamp(1700003601)), "
        "('manual', 'h2', 'manual', 'completed', 'completed', NULL, 'a', now(), now())");
    tx.commit();
  }
  absl::StatusOr<int> applied = ApplyMigrations(*pool, EmbeddedMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  const pqxx::result r = tx.exec(
      "SELECT store_id, extract(epoch FROM boundary)::bigint, run_id, owner, "
      "extract(epoch FROM claimed_at)::bigint FROM tick_claims ORDER BY store_id");
  ASSERT_EQ(r.size(), 1u);  // h2 has only a manual run, h3 none
  EXPECT_EQ(r[0][0].as<std::string>(), "h1");
  EXPECT_EQ(r[0][1].as<int64_t>(), 1700003600);
  EXPECT_EQ(r[0][2].as<std::string>(), "new");
  EXPECT_EQ(r[0][3].as<std::string>(), "b");
  EXPECT_EQ(r[0][4].as<int64_t>(), 1700003601);
}

// Migration 0008: a store from before per-type schedules keeps its one schedule and staleness
// for both types (nothing changes for it); its history reads as having synced both; a new row
// gets the ads defaults; the run columns refuse unknown types and half a backfill range.
TEST(MigrationsTest, ExistingStoresKeepTheirOneScheduleForBothDataTypes) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  std::vector<Migration> before;
  for (const Migration& m : EmbeddedMigrations()) {
    if (m.version < 8) before.push_back(m);
  }
  ASSERT_EQ(before.size(), 7u);
  ASSERT_TRUE(ApplyMigrations(*pool, before).ok());
  {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec(
        "INSERT INTO stores (store_id, schedule, staleness_seconds) VALUES "
        "('old', '*/5 * * * *', 600)");
    tx.exec(
        "INSERT INTO sync_runs (run_id, store_id, trigger, status, stage, finished_at) "
        "VALUES ('r1', 'old', 'manual', 'completed', 'completed', now())");
    tx.commit();
  }
  ASSERT_TRUE(ApplyMigrations(*pool, EmbeddedMigrations()).ok());
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  const pqxx::row old = tx.exec1(
      "SELECT ads_schedule, ads_staleness_seconds, version FROM stores WHERE store_id = 'old'");
  EXPECT_EQ(old[0].as<std::string>(), "*/5 * * * *");
  EXPECT_EQ(old[1].as<int64_t>(), 600);
  EXPECT_EQ(old[2].as<int64_t>(), 1);
  EXPECT_EQ(tx.exec1("SELECT array_to_string(data_types, ',') FROM sync_runs")[0].as<std::string>(),
            "orders,ads");
  tx.exec("INSERT INTO stores (store_id) VALUES ('new')");
  EXPECT_EQ(tx.exec1("SELECT ads_schedule FROM stores WHERE store_id = 'new'")[0].as<std::string>(),
            "0 */6 * * *");
  EXPECT_THROW(tx.exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, data_types) "
                       "VALUES ('r2', 'new', 'api', 'queued', '{orders,ltv}')"),
               pqxx::check_violation);
  EXPECT_THROW(tx.exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, data_types) "
                       "VALUES ('r3', 'new', 'api', 'queued', '{}')"),
               pqxx::check_violation);
  EXPECT_THROW(tx.exec("INSERT INTO sync_runs (run_id, store_id, trigger, status, backfill_from) "
                       "VALUES ('r4', 'new', 'api', 'queued', '2024-01-01')"),
               pqxx::check_violation);
}

TEST(PgPoolTest, UnreachableDatabaseIsUnavailable) {
  auto pool = PgPool::Create({.url = "postgresql://postgres@127.0.0.1:1/none",
                              .size = 1,
                              .connect_timeout = absl::Seconds(1)});
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ((*pool)->Ping().code(), absl::StatusCode::kUnavailable);
}

TEST(PgPoolTest, ReconnectsAfterTheServerDroppedTheConnection) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PoolFor(url);
  ASSERT_TRUE(pool->Ping().ok());
  {
    // Kill every other backend on this database and wait until they are gone (their sockets
    // closed): the pooled connection is now dead.
    pqxx::connection admin(url);
    pqxx::nontransaction tx(admin);
    tx.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")[0]
                   .as<int>() > 0 &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));  // polling the server, bounded by the deadline
    }
  }
  // The dead idle connection is noticed before it is handed out and replaced: no caller fails.
  const absl::Status first = pool->Ping();
  EXPECT_TRUE(first.ok()) << first;
  EXPECT_TRUE(pool->Ping().ok());
}

// Warm takes n connections at once (so n distinct backends), runs the function on each, and
// leaves them pooled: later work runs on those same backends. An error of the function is
// returned, and its connection still goes back to the pool.
TEST(PgPoolTest, WarmPreparesSeveralConnectionsThatStayPooled) {
  const std::string url = autosync::testing::FreshDatabaseUrl();
  auto pool = PgPool::Create({.url = url, .size = 3});
  ASSERT_TRUE(pool.ok());
  std::set<int> warmed;
  ASSERT_TRUE((*pool)
                  ->Warm(5,  // more than the pool holds: takes 3
                         [&](pqxx::connection_base& c) {
                           warmed.insert(c.backendpid());
                           return absl::OkStatus();
                         })
                  .ok());
  EXPECT_EQ(warmed.size(), 3u);
  for (int i = 0; i < 6; ++i) {
    int pid = 0;
    ASSERT_TRUE((*pool)
                    ->Run([&](pqxx::connection_base& c) {
                      pid = c.backendpid();
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_TRUE(warmed.count(pid)) << pid;
  }
  int calls = 0;
  const absl::Status failed = (*pool)->Warm(2, [&](pqxx::connection_base& c) {
    ++calls;
    pqxx::nontransaction tx(c);
    tx.exec("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.message()), ::testing::HasSubstr("no_such_table"));
  EXPECT_TRUE((*pool)->Ping().ok());
}

}  // namespace
}  // namespace autosync::common
