// Least privilege in PostgreSQL (issue 19, migration 0014): a database migrated by its owner,
// and login users that are members of autosync_scheduler, autosync_worker and
// autosync_readonly. Each group may do what its service's SQL needs and nothing else; the
// catalog rule holds every table to a list of expected grants (a table added without grants
// fails it by name); and the real scheduler-service and sync-worker, each on its own login, run
// a store's whole life without a single "permission denied".
#include <cstdio>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/faults/fault_system.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOwner[] = "pgroles_owner";
constexpr char kScheduler[] = "pgroles_scheduler";
constexpr char kWorker[] = "pgroles_worker";
constexpr char kReadonly[] = "pgroles_readonly";
constexpr char kPermissionDenied[] = "42501";  // SQLSTATE insufficient_privilege

// Every table of the schema and the privileges its services' SQL needs (scheduler-service/pg_*.cc,
// sync-worker/pg_*.cc, the trigger functions of the migrations). autosync_readonly has SELECT on
// every one. A migration that adds a table adds it here, with its grants in the migration.
struct TableGrants {
  std::set<std::string> scheduler;
  std::set<std::string> worker;
};
const std::map<std::string, TableGrants>& ExpectedTableGrants() {
  static const auto* grants = new std::map<std::string, TableGrants>{
      {"schema_migrations", {{"SELECT"}, {}}},
      {"stores", {{"SELECT", "INSERT", "UPDATE", "DELETE"}, {"SELECT"}}},
      {"stores_version", {{"SELECT"}, {}}},
      {"sync_tracking", {{}, {"SELECT", "INSERT", "UPDATE"}}},
      {"sync_runs", {{"SELECT", "INSERT", "UPDATE", "DELETE"}, {}}},
      {"orders", {{"SELECT", "DELETE"}, {"SELECT", "INSERT", "UPDATE", "DELETE"}}},
      {"ads", {{"SELECT", "DELETE"}, {"SELECT", "INSERT", "UPDATE"}}},
      {"customer_ltv_cohorts", {{"SELECT", "DELETE"}, {"SELECT", "INSERT", "DELETE"}}},
      {"gateway_connections", {{"SELECT", "INSERT", "UPDATE", "DELETE"}, {}}},
      {"ltv_state", {{}, {"SELECT", "INSERT", "DELETE"}}},
      {"ltv_cells", {{}, {"SELECT", "INSERT", "UPDATE", "DELETE"}}},
      {"ltv_order_changes", {{}, {"SELECT", "DELETE"}}},
      {"tick_claims", {{"SELECT", "INSERT", "UPDATE", "DELETE"}, {}}},
      {"tick_group_claims", {{"SELECT", "INSERT", "UPDATE", "DELETE"}, {}}},
      {"worker_slots", {{"SELECT"}, {"SELECT", "INSERT", "UPDATE", "DELETE"}}},
      {"quarantined_records", {{"SELECT"}, {"SELECT", "INSERT", "UPDATE", "DELETE"}}},
      {"store_notifications", {{"SELECT", "INSERT", "UPDATE"}, {}}},
      {"fx_rates", {{"SELECT", "INSERT", "UPDATE"}, {"SELECT"}}},
      {"audit_log", {{"SELECT", "INSERT"}, {}}},
      {"audit_log_id_seq", {{"USAGE"}, {}}},
  };
  return *grants;
}
// Functions of the schema and who may EXECUTE them (trigger functions: nobody; the writers whose
// statements fire them need no EXECUTE).
const std::map<std::string, std::set<std::string>>& ExpectedFunctionGrants() {
  static const auto* grants = new std::map<std::string, std::set<std::string>>{
      {"fx_per_eur", {"autosync_worker", "autosync_readonly"}},
      {"ltv_log_order_changes", {}},
      {"ltv_forget_all", {}},
      {"stores_version_bump", {}},
  };
  return *grants;
}

std::string Joined(const std::set<std::string>& s) {
  return s.empty() ? "nothing" : absl::StrJoin(s, ", ");
}

// What differs between the catalog and the expected grants, one line per table or function,
// each naming it. Empty when everything matches.
std::vector<std::string> GrantProblems(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  // name -> grantee -> privileges; every table, view and sequence of the schema is a key.
  std::map<std::string, std::map<std::string, std::set<std::string>>> actual;
  std::map<std::string, std::string> kind;
  for (const auto& row : tx.exec(
           "SELECT c.relname, c.relkind::text, "
           "  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, "
           "  a.privilege_type "
           "FROM pg_class c LEFT JOIN LATERAL aclexplode(c.relacl) a ON a.grantee <> c.relowner "
           "WHERE c.relnamespace = current_schema()::regnamespace "
           "  AND c.relkind IN ('r', 'p', 'v', 'm', 'S')")) {
    const std::string name = row[0].as<std::string>();
    kind[name] = row[1].as<std::string>();
    auto& grants = actual[name];
    if (!row[2].is_null()) grants[row[2].as<std::string>()].insert(row[3].as<std::string>());
  }
  std::vector<std::string> problems;
  for (const auto& [name, grants] : actual) {
    const bool sequence = kind[name] == "S";
    const auto expected = ExpectedTableGrants().find(name);
    if (expected == ExpectedTableGrants().end()) {
      problems.push_back(absl::StrCat(
          sequence ? "sequence " : "table ", name,
          " has no entry in the expected grants (tests/integration/security/pg_roles_test.cc) and "
          "grants ",
          grants.empty() ? "nothing to anyone"
                         : "to " + absl::StrJoin(grants, "; ",
                                                 [](std::string* out, const auto& g) {
                                                   absl::StrAppend(out, g.first, " ",
                                                                   Joined(g.second));
                                                 }),
          ": grant it to autosync_readonly (SELECT) and to the services that use it in its "
          "migration, then list it here"));
      continue;
    }
    const std::map<std::string, std::set<std::string>> want = {
        {"autosync_readonly", {"SELECT"}},
        {"autosync_scheduler", expected->second.scheduler},
        {"autosync_worker", expected->second.worker},
    };
    for (const auto& [role, privileges] : want) {
      const auto got = grants.find(role);
      const std::set<std::string> have =
          got == grants.end() ? std::set<std::string>{} : got->second;
      if (have != privileges) {
        problems.push_back(absl::StrCat("table ", name, ": ", role, " has ", Joined(have),
                                        ", expected ", Joined(privileges)));
      }
    }
    for (const auto& [role, privileges] : grants) {
      if (!want.contains(role)) {
        problems.push_back(absl::StrCat("table ", name, ": ", role, " has ", Joined(privileges),
                                        ", expected nothing"));
      }
    }
  }
  std::map<std::string, std::set<std::string>> functions;
  for (const auto& row :
       tx.exec("SELECT p.proname, "
               "  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END "
               "FROM pg_proc p LEFT JOIN LATERAL "
               "  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
               "  ON a.grantee <> p.proowner "
               "WHERE p.pronamespace = current_schema()::regnamespace")) {
    auto& grantees = functions[row[0].as<std::string>()];
    if (!row[1].is_null()) grantees.insert(row[1].as<std::string>());
  }
  for (const auto& [name, grantees] : functions) {
    const auto expected = ExpectedFunctionGrants().find(name);
    if (expected == ExpectedFunctionGrants().end()) {
      problems.push_back(absl::StrCat("function ", name,
                                      " has no entry in the expected function grants; it may be "
                                      "executed by ",
                                      Joined(grantees)));
    } else if (grantees != expected->second) {
      problems.push_back(absl::StrCat("function ", name, " may be executed by ", Joined(grantees),
                                      ", expected ", Joined(expected->second)));
    }
  }
  return problems;
}

// Runs `sql` in its own transaction as whoever `url` names: "" when it succeeded, else the
// SQLSTATE and the message. `autocommit`: outside a transaction block (CREATE DATABASE).
std::string Attempt(const std::string& url, const std::string& sql, bool autocommit = false) {
  try {
    pqxx::connection conn(url);
    if (autocommit) {
      pqxx::nontransaction tx(conn);
      tx.exec(sql);
      return "";
    }
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
    return "";
  } catch (const pqxx::insufficient_privilege& e) {
    // libpqxx 6.4 leaves sqlstate() empty here; the class is the SQLSTATE.
    return absl::StrCat(kPermissionDenied, " ", e.what());
  } catch (const pqxx::sql_error& e) {
    return absl::StrCat(e.sqlstate(), " ", e.what());
  } catch (const std::exception& e) {
    return absl::StrCat("? ", e.what());
  }
}

void ExecAs(const std::string& url, const std::string& sql) {
  const std::string error = Attempt(url, sql);
  ASSERT_EQ(error, "") << sql;
}

// A database owned by kOwner (so its `public` schema is the owner's too), migrated by kOwner,
// and the three login users, members of their groups. Roles are cluster-wide: created once per
// cluster.
class PgRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string admin_url = FreshDatabaseUrl();
    ASSERT_FALSE(admin_url.empty());
    database_ = std::string(admin_url.substr(admin_url.rfind('/') + 1));
    ExecAs(admin_url,
           absl::StrCat("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '", kOwner,
                        "') THEN CREATE ROLE ", kOwner, " LOGIN CREATEROLE; END IF; END $$"));
    ExecAs(admin_url, absl::StrCat("ALTER DATABASE ", database_, " OWNER TO ", kOwner));
    owner_url_ = UrlAs(kOwner);
    {
      auto pool = common::PgPool::Create({.url = owner_url_, .size = 1});
      ASSERT_TRUE(pool.ok()) << pool.status();
      const absl::StatusOr<int> applied =
          common::ApplyMigrations(**pool, common::EmbeddedMigrations());
      ASSERT_TRUE(applied.ok()) << applied.status();
    }
    for (const auto& [login, group] :
         std::vector<std::pair<std::string, std::string>>{{kScheduler, "autosync_scheduler"},
                                                          {kWorker, "autosync_worker"},
                                                          {kReadonly, "autosync_readonly"}}) {
      ExecAs(admin_url,
             absl::StrCat("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '",
                          login, "') THEN CREATE ROLE ", login, " LOGIN; END IF; END $$; GRANT ",
                          group, " TO ", login));
    }
  }

  std::string UrlAs(const std::string& user) const {
    return absl::StrCat("postgresql://", user, "@127.0.0.1:", SharedPgCluster().port(), "/",
                        database_);
  }

  std::string database_;
  std::string owner_url_;
};

TEST_F(PgRolesTest, TheWorkerReadsStoresButCannotChangeThemReachOtherSchemasOrCreateTables) {
  ExecAs(owner_url_,
         "INSERT INTO stores (store_id) VALUES ('shop'); CREATE SCHEMA other; "
         "CREATE TABLE other.secrets (x int); INSERT INTO other.secrets VALUES (1); "
         "CREATE TABLE other_public_probe (x int)");
  const std::string worker = UrlAs(kWorker);
  // What it needs works: the permission checks below are not failing for another reason.
  EXPECT_EQ(Attempt(worker, "SELECT credentials_ref FROM stores WHERE store_id = 'shop'"), "");
  EXPECT_EQ(
      Attempt(worker, "INSERT INTO sync_tracking (store_id, stage) VALUES ('shop', 'orders')"), "");
  for (const char* sql : {
           "UPDATE stores SET enabled = false WHERE store_id = 'shop'",
           "INSERT INTO stores (store_id) VALUES ('mine')",
           "DELETE FROM stores WHERE store_id = 'shop'",
           "SELECT 1 FROM stores FOR UPDATE",
           "SELECT * FROM other.secrets",
           "SELECT * FROM other_public_probe",  // a table of the schema nobody granted
           "CREATE TABLE worker_table (x int)",
           "CREATE TEMP TABLE t AS SELECT * FROM sync_runs",
           "UPDATE sync_runs SET error = ''",
           "ALTER TABLE orders ADD COLUMN x int",
       }) {
    EXPECT_THAT(Attempt(worker, sql), HasSubstr(kPermissionDenied)) << sql;
  }
}

TEST_F(PgRolesTest, TheReadonlyRoleReadsEveryTableAndWritesNone) {
  std::vector<std::pair<std::string, std::string>> tables;  // name, a column
  size_t sequences = 0;                                     // ExpectedTableGrants() lists them too
  {
    pqxx::connection conn(owner_url_);
    pqxx::read_transaction tx(conn);
    sequences = tx.exec1(
                      "SELECT count(*) FROM pg_class WHERE relnamespace = "
                      "current_schema()::regnamespace AND relkind = 'S'")[0]
                    .as<size_t>();
    for (const auto& row :
         tx.exec("SELECT c.relname, (SELECT attname FROM pg_attribute WHERE attrelid = c.oid "
                 "AND attnum = 1) FROM pg_class c "
                 "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'")) {
      tables.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    }
  }
  ASSERT_GE(tables.size() + sequences, ExpectedTableGrants().size());
  const std::string readonly = UrlAs(kReadonly);
  for (const auto& [table, column] : tables) {
    SCOPED_TRACE(table);
    EXPECT_EQ(Attempt(readonly, absl::StrCat("SELECT count(*) FROM ", table)), "");
    for (const std::string& sql : {
             absl::StrCat("INSERT INTO ", table, " DEFAULT VALUES"),
             absl::StrCat("UPDATE ", table, " SET ", column, " = ", column),
             absl::StrCat("DELETE FROM ", table),
             absl::StrCat("TRUNCATE ", table),
             absl::StrCat("SELECT 1 FROM ", table, " FOR UPDATE"),
         }) {
      EXPECT_THAT(Attempt(readonly, sql), HasSubstr(kPermissionDenied)) << sql;
    }
  }
  EXPECT_EQ(Attempt(readonly, "SELECT fx_per_eur('USD', current_date)"), "");
  EXPECT_THAT(Attempt(readonly, "CREATE TABLE readonly_table (x int)"),
              HasSubstr(kPermissionDenied));
}

TEST_F(PgRolesTest, TheSchedulerCannotAlterTheSchemaNorMoveTheStoresVersionByHand) {
  const std::string scheduler = UrlAs(kScheduler);
  // Its own writes work, and its store delete clears the LTV log through the owner's trigger.
  EXPECT_EQ(Attempt(scheduler, "INSERT INTO stores (store_id) VALUES ('shop')"), "");
  ExecAs(UrlAs(kWorker),
         "INSERT INTO ltv_state (store_id, timezone) VALUES ('shop', 'UTC'); "
         "INSERT INTO orders (store_id, order_id, created_at, updated_at) "
         "VALUES ('shop', 1, now(), now())");
  EXPECT_EQ(Attempt(scheduler, "DELETE FROM orders WHERE store_id = 'shop'"), "");
  for (const char* sql : {
           "ALTER TABLE stores ADD COLUMN x int",
           "CREATE TABLE scheduler_table (x int)",
           "CREATE INDEX ON sync_runs (error)",
           "DROP TABLE orders",
           "TRUNCATE orders",
           "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
           "ALTER FUNCTION stores_version_bump() SECURITY INVOKER",
           "UPDATE stores_version SET version = 0",
           "INSERT INTO ltv_order_changes (store_id, order_id, existed, counted) "
           "VALUES ('shop', 2, false, false)",
           "UPDATE orders SET name = 'x'",
           "INSERT INTO schema_migrations (version, name) VALUES (9999, 'x')",
           "SELECT fx_per_eur('USD', current_date)",
       }) {
    EXPECT_THAT(Attempt(scheduler, sql), HasSubstr(kPermissionDenied)) << sql;
  }

  // Its start-up check passes on a migrated database and explains a pending migration.
  auto pool = common::PgPool::Create({.url = scheduler, .size = 1});
  ASSERT_TRUE(pool.ok()) << pool.status();
  const absl::StatusOr<int> up_to_date =
      common::ApplyMigrations(**pool, common::EmbeddedMigrations());
  ASSERT_TRUE(up_to_date.ok()) << up_to_date.status();
  EXPECT_EQ(*up_to_date, 0);
  std::vector<common::Migration> newer = common::EmbeddedMigrations();
  newer.push_back({.version = 9999, .name = "9999_probe", .sql = "CREATE TABLE probe (x int)"});
  const absl::StatusOr<int> pending = common::ApplyMigrations(**pool, newer);
  EXPECT_EQ(pending.status().code(), absl::StatusCode::kPermissionDenied) << pending.status();
  EXPECT_THAT(pending.status().message(), HasSubstr("migration 9999 (9999_probe)"));
  EXPECT_THAT(pending.status().message(), HasSubstr("--migrate_only with the owner's"));
}

TEST_F(PgRolesTest, EveryTableAndFunctionHasExactlyTheExpectedGrants) {
  const std::vector<std::string> problems = GrantProblems(owner_url_);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
}

TEST_F(PgRolesTest, ATableAddedWithoutGrantsFailsTheRuleByName) {
  ExecAs(owner_url_,
         "CREATE TABLE audit_probe (id bigserial PRIMARY KEY); "
         "GRANT SELECT ON fx_rates TO PUBLIC; REVOKE SELECT ON ads FROM autosync_readonly");
  const std::string problems = absl::StrJoin(GrantProblems(owner_url_), "\n");
  EXPECT_THAT(problems, HasSubstr("table audit_probe has no entry in the expected grants"));
  EXPECT_THAT(problems, HasSubstr("sequence audit_probe_id_seq has no entry"));
  EXPECT_THAT(problems, HasSubstr("table fx_rates: PUBLIC has SELECT, expected nothing"));
  EXPECT_THAT(problems, HasSubstr("table ads: autosync_readonly has nothing, expected SELECT"));
}

// A role without CREATEROLE on a cluster without the group roles: the migration stops and names
// the statements a DBA must run; once they ran, it goes through.
TEST(PgRolesBootstrapTest, AnOwnerWithoutCreateroleIsToldWhatTheDbaMustRun) {
  auto cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string admin_url = (*cluster)->UrlFor("postgres");
  ExecAs(admin_url, "CREATE ROLE plain_owner LOGIN");
  ASSERT_EQ(Attempt(admin_url, "CREATE DATABASE app OWNER plain_owner", /*autocommit=*/true), "");
  auto pool = common::PgPool::Create(
      {.url = absl::StrCat("postgresql://plain_owner@127.0.0.1:", (*cluster)->port(), "/app"),
       .size = 1});
  ASSERT_TRUE(pool.ok()) << pool.status();
  const absl::StatusOr<int> refused = common::ApplyMigrations(**pool, common::EmbeddedMigrations());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("may not create roles (no CREATEROLE)"));
  EXPECT_THAT(refused.status().message(),
              HasSubstr("CREATE ROLE autosync_readonly NOLOGIN; CREATE ROLE autosync_scheduler "
                        "NOLOGIN; CREATE ROLE autosync_worker NOLOGIN"));
  ExecAs(admin_url,
         "CREATE ROLE autosync_readonly NOLOGIN; CREATE ROLE autosync_scheduler NOLOGIN; "
         "CREATE ROLE autosync_worker NOLOGIN");
  const absl::StatusOr<int> applied = common::ApplyMigrations(**pool, common::EmbeddedMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int>(common::EmbeddedMigrations().size()));
}

// ---- The real services on their own logins ----

bool Ok(const grpc::Status& s, std::string* why) {
  if (!s.ok()) *why = absl::StrCat(s.error_code(), " ", s.error_message());
  return s.ok();
}

class PgRolesSystemTest : public PgRolesTest {
 protected:
  // The run of `store` with `run_id` once it is no longer queued or running ("" on timeout).
  std::string WaitForRunStatus(FaultSystem& sys, const std::string& where) {
    std::string status;
    WaitUntil(
        [&] {
          auto s = sys.Text(absl::StrCat(
              "SELECT coalesce((SELECT status FROM sync_runs WHERE ", where,
              " AND status NOT IN ('queued', 'running') ORDER BY queued_at DESC LIMIT 1), '')"));
          if (s.ok()) status = *s;
          return !status.empty();
        },
        absl::Seconds(60));
    return status;
  }
};

TEST_F(PgRolesSystemTest, TheServicesRunAStoresWholeLifeOnTheirOwnRoles) {
  FaultSystem sys(owner_url_);  // the owner URL: the test's own checks and arrangements
  absl::Status started =
      sys.StartSim({"--stores=roles:300:invalid,cron:40,stale:5", "--leak_per_second=0",
                    "--live_delete_probability=1", "--seed=5"});
  ASSERT_TRUE(started.ok()) << started;
  // Stores the scheduler finds at start: `cron` missed a tick ten minutes ago (its catch-up is a
  // cron fire through the tick claims), `stale` never synced and has a webhook (a data_stale
  // notification, claimed in store_notifications; nothing listens, so the delivery fails).
  const std::string secret = ::testing::TempDir() + "/pgroles-webhook-secret";
  {
    FILE* f = std::fopen(secret.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("webhook-key\n", f);
    std::fclose(f);
  }
  ExecAs(owner_url_,
         absl::StrCat(
             "INSERT INTO stores (store_id, schedule, ads_schedule, staleness_seconds, "
             "orders_api_base, ads_api_base, ad_account_id, credentials_ref, created_at) VALUES "
             "('cron', '* * * * *', '* * * * *', 0, '",
             sys.sim().orders_base("cron"),
             "', '', '', 'env:SIM_TOKEN', now() - interval '10 "
             "minutes'); "
             "INSERT INTO stores (store_id, schedule, ads_schedule, staleness_seconds, "
             "orders_api_base, credentials_ref, notify_webhook_url, notify_secret_ref, "
             "created_at) VALUES ('stale', '0 0 1 1 *', '0 0 1 1 *', 1, '",
             sys.sim().orders_base("stale"), "', 'env:SIM_TOKEN', 'http://127.0.0.1:", FreePort(),
             "/hook', 'file:", secret, "', now() - interval '1 hour')"));

  // Each service on its own login (a later --database_url overrides FaultSystem's).
  sys.WorkerTarget(1);
  started = sys.StartWorker(0, {"--database_url=" + UrlAs(kWorker)});
  ASSERT_TRUE(started.ok()) << started;
  started = sys.StartScheduler(
      "roles", {"--database_url=" + UrlAs(kScheduler), "--schedule_refresh_seconds=1",
                "--run_stale_seconds=5", "--notify_attempts=1"});
  ASSERT_TRUE(started.ok()) << started;
  std::string why;
  auto& stub = sys.stub();

  // Create, pause, resume.
  ASSERT_TRUE(Ok(sys.Upsert(sys.StoreFor("roles")), &why)) << why;
  {
    grpc::ClientContext ctx;
    v1::PauseStoreRequest req;
    req.set_store_id("roles");
    req.set_note("checking roles");
    v1::Store out;
    ASSERT_TRUE(Ok(stub.PauseStore(&ctx, req, &out), &why)) << why;
    EXPECT_FALSE(out.enabled());
  }
  {
    grpc::ClientContext ctx;
    v1::ResumeStoreRequest req;
    req.set_store_id("roles");
    v1::Store out;
    ASSERT_TRUE(Ok(stub.ResumeStore(&ctx, req, &out), &why)) << why;
    EXPECT_TRUE(out.enabled());
  }

  // The cron catch-up fire of `cron` ran through the worker.
  EXPECT_EQ(WaitForRunStatus(sys, "store_id = 'cron' AND trigger = 'cron'"), "completed");

  // A manual sync of a store with rule-breaking records: orders, ads, cohorts, quarantine.
  v1::TriggerSyncResponse first;
  ASSERT_TRUE(Ok(sys.Trigger("roles", &first), &why)) << why;
  EXPECT_EQ(WaitForRunStatus(sys, absl::StrCat("run_id = '", first.run_id(), "'")), "completed");
  EXPECT_GT(sys.ScalarOrDie("SELECT count(*) FROM orders WHERE store_id = 'roles'"), 0);
  EXPECT_GT(sys.ScalarOrDie("SELECT count(*) FROM ads WHERE store_id = 'roles'"), 0);
  EXPECT_GT(sys.ScalarOrDie("SELECT count(*) FROM customer_ltv_cohorts WHERE store_id = 'roles'"),
            0);
  EXPECT_GT(sys.ScalarOrDie("SELECT count(*) FROM quarantined_records WHERE store_id = 'roles'"),
            0);

  // The source deletes an order: the next run removes it (and the LTV log records it).
  ASSERT_TRUE(sys.sim().Tick("roles").ok());
  v1::TriggerSyncResponse second;
  ASSERT_TRUE(Ok(sys.Trigger("roles", &second), &why)) << why;
  EXPECT_EQ(WaitForRunStatus(sys, absl::StrCat("run_id = '", second.run_id(), "'")), "completed");
  EXPECT_GT(sys.ScalarOrDie(absl::StrCat("SELECT orders_deleted FROM sync_runs WHERE run_id = '",
                                         second.run_id(), "'")),
            0);
  EXPECT_EQ(sys.CompareWithSource("roles"), "");

  // The scheduler's reads and its other writes.
  {
    grpc::ClientContext ctx;
    v1::ImportFxRatesRequest req;
    req.set_csv("Date,USD,GBP,\n2026-12-04,1.05,0.84,\n2026-12-03,1.04,0.85,\n");
    v1::ImportFxRatesResponse out;
    ASSERT_TRUE(Ok(stub.ImportFxRates(&ctx, req, &out), &why)) << why;
    EXPECT_EQ(out.rates(), 4);
  }
  {
    grpc::ClientContext ctx;
    v1::ListQuarantineRequest req;
    req.set_store_id("roles");
    v1::ListQuarantineResponse out;
    ASSERT_TRUE(Ok(stub.ListQuarantine(&ctx, req, &out), &why)) << why;
  }
  {
    grpc::ClientContext ctx;
    v1::GetLtvCohortsRequest req;
    req.set_store_id("roles");
    v1::GetLtvCohortsResponse out;
    ASSERT_TRUE(Ok(stub.GetLtvCohorts(&ctx, req, &out), &why)) << why;
    EXPECT_GT(out.cohorts_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    v1::ReportConnectionsRequest req;
    req.set_gateway_id("gw-roles");
    v1::StoreConnections* c = req.add_stores();
    c->set_store_id("roles");
    c->set_connections(2);
    v1::ReportConnectionsResponse out;
    ASSERT_TRUE(Ok(stub.ReportConnections(&ctx, req, &out), &why)) << why;
  }
  {
    grpc::ClientContext ctx;
    v1::GetSyncStatusRequest req;
    req.set_store_id("roles");
    v1::GetSyncStatusResponse out;
    ASSERT_TRUE(Ok(stub.GetSyncStatus(&ctx, req, &out), &why)) << why;
  }
  // The stale store's notification was claimed and its delivery ended.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto n = sys.Scalar(
            "SELECT count(*) FROM store_notifications WHERE store_id = 'stale' "
            "AND last_outcome <> 'sending'");
        return n.ok() && *n > 0;
      },
      absl::Seconds(30)));

  // Housekeeping (heartbeats, reaping, pruning, the schedule refresh) ran twice more since.
  const auto refreshes = [&] {
    absl::StatusOr<MetricValues> m = ScrapeMetrics(sys.scheduler(0).metrics_port);
    if (!m.ok()) return -1.0;
    return SeriesValue(*m, "autosync_scheduler_schedule_refreshes_total{outcome=\"reloaded\"}") +
           SeriesValue(*m, "autosync_scheduler_schedule_refreshes_total{outcome=\"unchanged\"}");
  };
  const double before = refreshes();
  ASSERT_GE(before, 0);
  EXPECT_TRUE(WaitUntil([&] { return refreshes() >= before + 2; }, absl::Seconds(30)));

  // Delete: the store's data goes, the LTV log through the owner's trigger.
  {
    grpc::ClientContext ctx;
    v1::DeleteStoreRequest req;
    req.set_store_id("roles");
    v1::DeleteStoreResponse out;
    ASSERT_TRUE(Ok(stub.DeleteStore(&ctx, req, &out), &why)) << why;
  }
  EXPECT_EQ(sys.ScalarOrDie("SELECT count(*) FROM orders WHERE store_id = 'roles'"), 0);

  const std::string output =
      absl::StrCat(sys.scheduler(0).process->Output(), "\n", sys.worker(0).process->Output());
  EXPECT_FALSE(absl::StrContains(output, "permission denied")) << output;
  EXPECT_FALSE(absl::StrContains(output, "42501")) << output;
}

}  // namespace
}  // namespace autosync::testing
