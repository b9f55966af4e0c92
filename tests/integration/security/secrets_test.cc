// Secrets never appear: a whole running system with known secret values — PostgreSQL with a
// password (scram-sha-256 for our role), store API tokens (one the API accepts, one it refuses),
// the gateway's JWT key and a client JWT — runs good and failing syncs (store-sim faults, a 401
// from the API, a second process given the wrong database password), then everything a user or
// operator can see is searched for each secret in its raw, URL-encoded and base64 forms: every
// process's output (text and JSON logs), WatchStore and RunSync events, the registry and run
// APIs, gateway HTTP answers and WebSocket events, and every /metrics page.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/integration/security/security_support.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/store_watcher.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;

// Each secret holds characters that need URL-encoding, so the encoded and raw forms differ.
constexpr char kDbPassword[] = "Pg/Pw@7f3a:9c21+secret";
constexpr char kWrongDbPassword[] = "WrongPw#99x/secret";
constexpr char kStoreToken[] = "shpat_TOKEN-5e8d1b77-secret";
constexpr char kRefusedToken[] = "refused-TOKEN-1a2b3c-secret";
constexpr char kJwtKey[] = "jwt-KEY-0c4e2aa9-secret-abcdef";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// The forms a secret could leak in.
std::vector<std::string> Forms(const std::string& secret) {
  std::string url_safe = absl::WebSafeBase64Escape(secret);
  return {secret,
          PercentEncode(secret),
          absl::AsciiStrToLower(PercentEncode(secret)),
          absl::Base64Escape(secret),
          url_safe,
          absl::CHexEscape(secret)};
}

// The test's database gets a role with a password that PostgreSQL really checks: a
// scram-sha-256 line for that role and database goes first in the (throw-away) cluster's
// pg_hba.conf, which otherwise trusts loopback.
struct PasswordDatabase {
  std::string url;        // with kDbPassword
  std::string wrong_url;  // with kWrongDbPassword
};

absl::StatusOr<PasswordDatabase> MakePasswordDatabase() {
  const std::string admin_url = FreshDatabaseUrl();
  // postgresql://postgres@127.0.0.1:<port>/<db>
  const size_t host = admin_url.find("@") + 1;
  const size_t slash = admin_url.rfind('/');
  const std::string host_port = admin_url.substr(host, slash - host);
  const std::string db = admin_url.substr(slash + 1);
  const std::string role = absl::StrCat("sec_", db);
  try {
    pqxx::connection conn(admin_url);
    pqxx::nontransaction tx(conn);
    // CREATEROLE: it owns the schema and migrates it, and migration 0014 creates the services'
    // group roles (README "Database roles").
    tx.exec(absl::StrCat("CREATE ROLE ", tx.quote_name(role), " LOGIN CREATEROLE PASSWORD ",
                         tx.quote(kDbPassword)));
    tx.exec(absl::StrCat("ALTER DATABASE ", tx.quote_name(db), " OWNER TO ", tx.quote_name(role)));
    const std::string hba = tx.exec("SHOW hba_file")[0][0].as<std::string>();
    std::ifstream in(hba);
    std::stringstream old;
    old << in.rdbuf();
    std::ofstream(hba, std::ios::trunc)
        << "host " << db << " " << role << " 127.0.0.1/32 scram-sha-256\n"
        << old.str();
    tx.exec("SELECT pg_reload_conf()");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  PasswordDatabase out;
  out.url =
      absl::StrCat("postgresql://", role, ":", PercentEncode(kDbPassword), "@", host_port, "/", db);
  out.wrong_url = absl::StrCat("postgresql://", role, ":", PercentEncode(kWrongDbPassword), "@",
                               host_port, "/", db);
  // The reload is asynchronous: wait until the wrong password is refused (and the right one
  // works).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    bool wrong_refused = false;
    try {
      pqxx::connection conn(out.wrong_url);
    } catch (const std::exception&) {
      wrong_refused = true;
    }
    if (wrong_refused) {
      try {
        pqxx::connection conn(out.url);
        return out;
      } catch (const std::exception& e) {
        return absl::InternalError(absl::StrCat("the right password is refused: ", e.what()));
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("pg_hba.conf reload never took effect");
}

class SecretsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SecretsTest, NoSecretAppearsAnywhereAUserOrOperatorLooks) {
  const std::string log_format = GetParam();
  auto db = MakePasswordDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  auto started =
      System::Start({.sim_args = {"--stores=good:300,faulty:300,refused:50",
                                  absl::StrCat("--access_token=", kStoreToken)},
                     .database_url = db->url,
                     .worker_env = {{"SIM_TOKEN", kStoreToken}, {"REFUSED_TOKEN", kRefusedToken}},
                     .service_args = {"--log_format=" + log_format, "--log_level=debug"},
                     .jwt_secret = kJwtKey});
  ASSERT_TRUE(started.ok()) << started.status();
  System& system = **started;
  ASSERT_TRUE(system.RegisterStore("good").ok());
  ASSERT_TRUE(system.RegisterStore("faulty").ok());
  ASSERT_TRUE(system.RegisterStore("refused", "env:REFUSED_TOKEN").ok());
  const std::string jwt = SignedToken(kJwtKey, R"("*")");
  const std::string jwt_signature = jwt.substr(jwt.rfind('.') + 1);

  std::string seen;  // everything a user or operator could see
  auto see = [&](absl::string_view where, absl::string_view text) {
    // The label never carries a query string (it may hold the test's own token).
    absl::StrAppend(&seen, "\n=== ", where.substr(0, where.find('?')), " ===\n", text);
  };

  // A browser client watching the good store through the gateway, and gRPC watchers of all.
  auto ws = WsTestClient::Connect(system.gateway_port(), "/ws?token=" + jwt);
  ASSERT_TRUE(ws.ok()) << ws.status();
  ASSERT_TRUE((*ws)->SendText(R"({"event":"selectStore","data":"good"})").ok());
  auto first = (*ws)->ReadUntil("\"syncStatus\"");
  ASSERT_TRUE(first.ok()) << first.status();
  see("ws", *first);
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (const char* store : {"good", "faulty", "refused"}) {
    watchers.push_back(std::make_unique<Watcher>(system.scheduler(), store, "secrets-test"));
  }

  // 1. A good run, triggered by the browser client.
  ASSERT_TRUE((*ws)->SendText(R"({"event":"triggerManualSync"})").ok());
  for (int i = 0; i < 100; ++i) {
    auto msg = (*ws)->Read(absl::Seconds(60));
    ASSERT_TRUE(msg.ok()) << msg.status() << "\n" << system.AllOutput();
    see("ws", *msg);
    if (absl::StrContains(*msg, "\"stage\":\"completed\"")) break;
    ASSERT_FALSE(absl::StrContains(*msg, "\"stage\":\"failed\"")) << *msg;
  }
  // 2. Failing runs: a garbage page, then 5xx on every request; the API refusing a token (401).
  ASSERT_TRUE(system.sim().SetFaults(R"({"malformed_page":1})").ok());
  auto garbage = system.TriggerAndWait("faulty");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_EQ(garbage->status(), "failed");
  ASSERT_TRUE(system.sim().SetFaults(R"({"fail_5xx_every":1})").ok());
  auto errors = system.TriggerAndWait("faulty", absl::Seconds(120));
  ASSERT_TRUE(errors.ok()) << errors.status();
  ASSERT_TRUE(system.sim().ClearFaults().ok());
  auto refused = system.TriggerAndWait("refused");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status(), "failed");
  EXPECT_THAT(refused->error(), ::testing::HasSubstr("401"));
  // The worker's own stream of a refused run.
  {
    auto worker = v1::SyncWorker::NewStub(
        grpc::CreateChannel(system.worker_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(60)));
    v1::RunSyncRequest req;
    req.set_store_id("refused");
    req.set_run_id("run-direct-refused");
    req.set_trigger(v1::TRIGGER_API);
    auto reader = worker->RunSync(&ctx, req);
    v1::SyncProgress p;
    while (reader->Read(&p)) see("RunSync", p.DebugString());
    see("RunSync status", reader->Finish().error_message());
  }
  // 3. A second process given the wrong database password, in each log format.
  for (const char* binary : {"sync-worker", "scheduler-service"}) {
    auto wrong = ChildProcess::Start(
        BinaryPath(binary),
        {.args = {"--database_url=" + db->wrong_url, "--insecure_grpc",
                  absl::StrCat("--listen=127.0.0.1:", FreePort()),
                  absl::StrCat("--metrics_listen=127.0.0.1:", FreePort()),
                  "--startup_timeout_seconds=1", "--log_format=" + log_format}});
    ASSERT_TRUE(wrong.ok());
    auto code = (*wrong)->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << binary;
    EXPECT_NE(*code, 0) << binary;
    EXPECT_THAT((*wrong)->Output(), ::testing::HasSubstr("password authentication failed"))
        << (*wrong)->Output();
    see(binary, (*wrong)->Output());
  }
  // The same password in an environment variable and a bad flag value next to it.
  {
    auto bad_flag = ChildProcess::Start(
        BinaryPath("sync-worker"),
        {.args = {"--listen=nonsense", "--insecure_grpc", "--log_format=" + log_format},
         .env = {{"AUTOSYNC_DATABASE_URL", db->wrong_url}}});
    ASSERT_TRUE(bad_flag.ok());
    auto code = (*bad_flag)->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 2);
    see("bad flag", (*bad_flag)->Output());
  }

  // What the APIs say now.
  v1::Scheduler::Stub& stub = system.scheduler();
  {
    grpc::ClientContext ctx;
    v1::ListStoresRequest req;
    v1::ListStoresResponse resp;
    ASSERT_TRUE(stub.ListStores(&ctx, req, &resp).ok());
    see("ListStores", resp.DebugString());
  }
  for (const char* store : {"good", "faulty", "refused"}) {
    {
      grpc::ClientContext ctx;
      v1::GetStoreRequest req;
      req.set_store_id(store);
      v1::Store resp;
      ASSERT_TRUE(stub.GetStore(&ctx, req, &resp).ok());
      see("GetStore", resp.DebugString());
    }
    {
      grpc::ClientContext ctx;
      v1::ListRunsRequest req;
      req.set_store_id(store);
      v1::ListRunsResponse resp;
      ASSERT_TRUE(stub.ListRuns(&ctx, req, &resp).ok());
      see("ListRuns", resp.DebugString());
    }
    {
      grpc::ClientContext ctx;
      v1::GetSyncStatusRequest req;
      req.set_store_id(store);
      v1::GetSyncStatusResponse resp;
      ASSERT_TRUE(stub.GetSyncStatus(&ctx, req, &resp).ok());
      see("GetSyncStatus", resp.DebugString());
    }
    for (const std::string& path :
         {absl::StrCat("/api/sync/status/", store), absl::StrCat("/api/stores/", store, "/runs"),
          absl::StrCat("/api/stores/", store, "/ltv")}) {
      auto res = HttpCall("GET", system.GatewayUrl(path), {{"Authorization", "Bearer " + jwt}});
      ASSERT_TRUE(res.ok());
      see(path, absl::StrCat(res->headers, res->body));
    }
  }
  // Gateway answers, including refusals of tokens signed with a wrong key.
  for (const std::string& path : {std::string("/health"), std::string("/api/stores?token=") + jwt,
                                  std::string("/api/sync/status/good?token=") +
                                      SignedToken("wrong-key-0123456789abc", "\"*\""),
                                  std::string("/api/sync/status/good?token=") + jwt + "x",
                                  std::string("/api/nonexistent?token=") + jwt}) {
    auto res = HttpCall("GET", system.GatewayUrl(path));
    ASSERT_TRUE(res.ok());
    see(path, absl::StrCat(res->headers, res->body));
  }
  auto bad_ws = WsTestClient::Connect(system.gateway_port(), "/ws?token=" + jwt + "x");
  if (bad_ws.ok()) see("ws refused", std::string((*bad_ws)->Read().status().message()));
  for (const std::string& url : system.MetricsUrls()) {
    auto res = HttpCall("GET", url);
    ASSERT_TRUE(res.ok()) << url;
    EXPECT_EQ(res->status, 200) << url;
    see(url, res->body);
  }
  for (auto& w : watchers) see("WatchStore", w->text());
  watchers.clear();
  ws->reset();
  see("processes", system.AllOutput());
  // The checks themselves must see what they claim to: the runs, the failures, the metrics.
  EXPECT_THAT(seen, ::testing::HasSubstr("401"));
  EXPECT_THAT(seen, ::testing::HasSubstr("password authentication failed"));
  EXPECT_THAT(seen, ::testing::HasSubstr("autosync_gateway_"));
  EXPECT_THAT(seen, ::testing::HasSubstr("STAGE_COMPLETED"));

  for (const auto& [name, secret] : std::vector<std::pair<std::string, std::string>>{
           {"database password", kDbPassword},
           {"wrong database password", kWrongDbPassword},
           {"store API token", kStoreToken},
           {"refused store API token", kRefusedToken},
           {"JWT key", kJwtKey},
           {"client JWT signature", jwt_signature}}) {
    for (const std::string& form : Forms(secret)) {
      const size_t at = seen.find(form);
      if (at == std::string::npos) continue;
      const size_t section = seen.rfind("\n=== ", at);
      ADD_FAILURE() << name << " (as \"" << form << "\") appears in "
                    << seen.substr(section == std::string::npos ? 0 : section + 1, 80) << "\n…"
                    << seen.substr(at > 300 ? at - 300 : 0, 600);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LogFormats, SecretsTest, ::testing::Values("text", "json"));

}  // namespace
}  // namespace autosync::testing
