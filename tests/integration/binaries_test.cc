// Starts the real binaries against a real PostgreSQL and checks what an operator sees:
// clear one-line config errors, grpc.health.v1 SERVING, reflection, /metrics, /health, and a
// clean exit on SIGTERM.
#include <csignal>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(5);

// Starts `name` with exactly `args`.
std::unique_ptr<ChildProcess> StartBinaryWith(const std::string& name,
                                              std::vector<std::string> args,
                                              std::map<std::string, std::string> env = {}) {
  auto child = ChildProcess::Start(BinaryPath(name), {.args = std::move(args), .env = env});
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(*child) : nullptr;
}

// Starts `name` with `args` and plaintext gRPC (--insecure_grpc): these tests run on loopback.
std::unique_ptr<ChildProcess> StartBinary(const std::string& name, std::vector<std::string> args,
                                          std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "--insecure_grpc");
  return StartBinaryWith(name, std::move(args), std::move(env));
}

std::vector<std::string> NonEmptyLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  return lines;
}

struct GrpcBinary {
  std::string name;
  std::string service;
};

class GrpcBinaryTest : public ::testing::TestWithParam<GrpcBinary> {};

TEST_P(GrpcBinaryTest, ServesHealthReflectionAndMetricsThenStopsOnSigterm) {
  const std::string url = FreshDatabaseUrl();
  if (GetParam().name == "sync-worker") {
    // The worker does not migrate; the scheduler (or the migration Job) does.
    auto migrate = StartBinary("scheduler-service", {"--database_url=" + url, "--migrate_only"});
    ASSERT_NE(migrate, nullptr);
    auto code = migrate->Wait(kStartTimeout);
    ASSERT_TRUE(code.ok() && *code == 0) << migrate->Output();
  }
  const int port = FreePort();
  const int metrics_port = FreePort();
  auto child = StartBinary(GetParam().name,
                           {"--database_url=" + url, absl::StrCat("--listen=127.0.0.1:", port),
                            absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port)});
  ASSERT_NE(child, nullptr);
  const std::string target = absl::StrCat("127.0.0.1:", port);
  ASSERT_TRUE(WaitForServing(target, kStartTimeout).ok()) << child->Output();

  auto service_health = HealthCheck(target, GetParam().service);
  ASSERT_TRUE(service_health.ok()) << service_health.status();
  EXPECT_EQ(*service_health, "SERVING");

  auto services = ListServices(target);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, IsSupersetOf({GetParam().service, std::string("grpc.health.v1.Health"),
                                       std::string("grpc.reflection.v1alpha.ServerReflection")}));

  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", metrics_port, "/metrics"));
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->content_type, HasSubstr("text/plain"));
  EXPECT_THAT(metrics->body, HasSubstr("process_resident_memory_bytes"));

  child->Signal(SIGTERM);
  auto code = child->Wait(kStopTimeout);
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << child->Output();
  EXPECT_EQ(*code, 0) << child->Output();
  EXPECT_THAT(child->Output(), HasSubstr("stopped"));
}

INSTANTIATE_TEST_SUITE_P(Services, GrpcBinaryTest,
                         ::testing::Values(GrpcBinary{"scheduler-service", "autosync.v1.Scheduler"},
                                           GrpcBinary{"sync-worker", "autosync.v1.SyncWorker"}),
                         [](const ::testing::TestParamInfo<GrpcBinary>& param_info) {
                           return param_info.param.name == "sync-worker" ? "SyncWorker"
                                                                         : "Scheduler";
                         });

TEST(ConfigErrorTest, MalformedDatabaseUrlExitsWithOneLineNamingTheOption) {
  for (const char* binary : {"scheduler-service", "sync-worker"}) {
    auto child = StartBinary(binary, {"--database_url=not a url", "--listen=127.0.0.1:0",
                                      "--metrics_listen=127.0.0.1:0"});
    ASSERT_NE(child, nullptr);
    auto code = child->Wait(kStopTimeout);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_NE(*code, 0);
    const auto lines = NonEmptyLines(child->Output());
    ASSERT_EQ(lines.size(), 1u) << child->Output();
    EXPECT_THAT(lines[0], HasSubstr("--database_url"));
  }
}

TEST(ConfigErrorTest, UnreachableDatabaseExitsNonZeroWithoutThePassword) {
  auto child =
      StartBinary("scheduler-service", {"--database_url=postgresql://app:s3cret@127.0.0.1:1/x",
                                        "--startup_timeout_seconds=1", "--listen=127.0.0.1:0",
                                        "--metrics_listen=127.0.0.1:0"});
  ASSERT_NE(child, nullptr);
  auto code = child->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(child->Output(), HasSubstr("database_url"));
  EXPECT_THAT(child->Output(), Not(HasSubstr("s3cret")));
}

TEST(ConfigErrorTest, BadValuesFromEnvironmentOrFlagsNameTheirOption) {
  // From the environment: AUTOSYNC_<FLAG>.
  auto from_env = StartBinary("ws-gateway", {}, {{"AUTOSYNC_LISTEN", "nonsense"}});
  ASSERT_NE(from_env, nullptr);
  auto code = from_env->Wait(kStopTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(from_env->Output(), HasSubstr("--listen"));
  EXPECT_THAT(from_env->Output(), HasSubstr("nonsense"));

  // Dev mode (no --jwt_secret_file) makes every caller an admin: only on a loopback address
  // unless asked for explicitly.
  auto open_dev = StartBinary("ws-gateway", {"--listen=0.0.0.0:0"});
  ASSERT_NE(open_dev, nullptr);
  code = open_dev->Wait(kStopTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(open_dev->Output(), HasSubstr("--jwt_secret_file"));
  EXPECT_THAT(open_dev->Output(), HasSubstr("--allow_remote_dev_mode"));

  auto bad_int = StartBinary("sync-worker", {"--max_concurrent_syncs=0"});
  ASSERT_NE(bad_int, nullptr);
  code = bad_int->Wait(kStopTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(bad_int->Output(), HasSubstr("--max_concurrent_syncs"));

  auto not_int = StartBinary("sync-worker", {}, {{"AUTOSYNC_DATABASE_POOL_SIZE", "many"}});
  ASSERT_NE(not_int, nullptr);
  code = not_int->Wait(kStopTimeout);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(not_int->Output(), HasSubstr("AUTOSYNC_DATABASE_POOL_SIZE"));
}

TEST(ConfigErrorTest, HelpListsTheOptions) {
  auto child = StartBinary("scheduler-service", {"--help"});
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->Wait(kStopTimeout).ok());
  EXPECT_THAT(child->Output(), HasSubstr("--database_url"));
  EXPECT_THAT(child->Output(), HasSubstr("--worker_target"));
}

// gRPC is mTLS (the three --tls_* files) or, said explicitly, plaintext (--insecure_grpc):
// neither and both stop every binary at start with one line naming the flags.
TEST(ConfigErrorTest, GrpcNeedsTheTlsFilesOrInsecureGrpcButNotBoth) {
  for (const std::string binary : {"scheduler-service", "sync-worker", "ws-gateway"}) {
    auto neither = StartBinaryWith(binary, {"--listen=127.0.0.1:0"});
    ASSERT_NE(neither, nullptr);
    auto code = neither->Wait(kStartTimeout);
    ASSERT_TRUE(code.ok()) << binary;
    EXPECT_EQ(*code, 2) << binary;
    const std::vector<std::string> lines = NonEmptyLines(neither->Output());
    ASSERT_EQ(lines.size(), 1u) << neither->Output();
    for (const char* flag :
         {"--tls_cert_file", "--tls_key_file", "--tls_ca_file", "--insecure_grpc"}) {
      EXPECT_THAT(lines[0], HasSubstr(flag)) << binary;
    }

    auto both = StartBinaryWith(
        binary, {"--listen=127.0.0.1:0", "--insecure_grpc", "--tls_cert_file=/etc/hostname"});
    ASSERT_NE(both, nullptr);
    code = both->Wait(kStartTimeout);
    ASSERT_TRUE(code.ok()) << binary;
    EXPECT_EQ(*code, 2) << binary;
    EXPECT_THAT(both->Output(), HasSubstr("--insecure_grpc")) << binary;
    EXPECT_THAT(both->Output(), HasSubstr("not both")) << binary;

    auto missing = StartBinaryWith(
        binary, {"--listen=127.0.0.1:0", "--tls_cert_file=/nonexistent/cert.pem",
                 "--tls_key_file=/nonexistent/key.pem", "--tls_ca_file=/nonexistent/ca.pem"});
    ASSERT_NE(missing, nullptr);
    code = missing->Wait(kStartTimeout);
    ASSERT_TRUE(code.ok()) << binary;
    EXPECT_EQ(*code, 2) << binary;
    EXPECT_THAT(missing->Output(), HasSubstr("--tls_cert_file: cannot read /nonexistent/cert.pem"))
        << binary;
  }
}

TEST(MigrateOnlyTest, AppliesTheSchemaAndExits) {
  const std::string url = FreshDatabaseUrl();
  auto child = StartBinary("scheduler-service", {"--database_url=" + url, "--migrate_only"});
  ASSERT_NE(child, nullptr);
  auto code = child->Wait(kStartTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << child->Output();
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM pg_tables WHERE tablename = 'customer_ltv_cohorts'")[0][0]
                .as<int>(),
            1);
}

TEST(GatewayTest, HealthFollowsTheScheduler) {
  const std::string url = FreshDatabaseUrl();
  const int scheduler_port = FreePort();
  const int gateway_port = FreePort();
  const int gateway_metrics_port = FreePort();
  auto gateway =
      StartBinary("ws-gateway", {absl::StrCat("--listen=127.0.0.1:", gateway_port),
                                 absl::StrCat("--metrics_listen=127.0.0.1:", gateway_metrics_port),
                                 absl::StrCat("--scheduler_target=127.0.0.1:", scheduler_port),
                                 "--upstream_timeout_ms=300"});
  ASSERT_NE(gateway, nullptr);
  const std::string health_url = absl::StrCat("http://127.0.0.1:", gateway_port, "/health");

  // No scheduler yet: 503 with a reason.
  auto down = WaitForHttp(health_url, kStartTimeout);
  ASSERT_TRUE(down.ok()) << down.status() << gateway->Output();
  EXPECT_EQ(down->status, 503);
  EXPECT_THAT(down->body, HasSubstr("\"reason\":\"scheduler"));

  auto scheduler =
      StartBinary("scheduler-service",
                  {"--database_url=" + url, absl::StrCat("--listen=127.0.0.1:", scheduler_port),
                   "--metrics_listen=127.0.0.1:0"});
  ASSERT_NE(scheduler, nullptr);
  ASSERT_TRUE(WaitForServing(absl::StrCat("127.0.0.1:", scheduler_port), kStartTimeout).ok())
      << scheduler->Output();
  // The gateway's channel reconnects with backoff; wait for it to see the scheduler.
  absl::StatusOr<HttpResult> up = HttpGet(health_url);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (up.ok() && up->status != 200 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    up = HttpGet(health_url);
  }
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->status, 200) << up->body;
  EXPECT_THAT(up->body, HasSubstr("\"status\":\"ok\""));

  // /metrics only on --metrics_listen; the public port answers 404 for it.
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", gateway_metrics_port, "/metrics"));
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("autosync_gateway_"));
  auto public_metrics = HttpGet(absl::StrCat("http://127.0.0.1:", gateway_port, "/metrics"));
  ASSERT_TRUE(public_metrics.ok());
  EXPECT_EQ(public_metrics->status, 404);
  EXPECT_THAT(public_metrics->body, Not(HasSubstr("autosync_gateway_")));
  auto missing = HttpGet(absl::StrCat("http://127.0.0.1:", gateway_port, "/nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("\"success\":false"));

  for (auto* child : {gateway.get(), scheduler.get()}) {
    child->Signal(SIGTERM);
    auto code = child->Wait(kStopTimeout);
    ASSERT_TRUE(code.ok()) << code.status() << "\n" << child->Output();
    EXPECT_EQ(*code, 0) << child->Output();
  }
}

}  // namespace
}  // namespace autosync::testing
