// End-to-end event latency benchmark (issue #9, row 6): a whole system on loopback -- a
// throw-away PostgreSQL cluster, store-sim, sync-worker, scheduler-service and ws-gateway, each
// the real binary -- and the stock socket.io-client (latency_client.js) as the browser. The
// client triggers manual syncs one after another on an otherwise idle system and times every
// progress message from the worker's `SyncProgress.time` (set when the worker emitted it) to its
// receipt by the client, through scheduler and gateway. Prints one Markdown table.
//
//   e2e_bench [--orders=5000] [--runs=5] [--idle_ms=500] [--client=PATH/latency_client.js]
#include <cstdio>
#include <pqxx/pqxx>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"
#include "tests/support/store_sim.h"

ABSL_FLAG(int64_t, orders, 5000, "orders in the store (250 per page: one progress event each)");
ABSL_FLAG(int32_t, runs, 5, "manual syncs, one after another");
ABSL_FLAG(int32_t, idle_ms, 500, "pause before each run");
ABSL_FLAG(std::string, client, AUTOSYNC_BENCH_E2E_DIR "/latency_client.js",
          "the Node latency client (needs tests/bench/node installed)");
ABSL_FLAG(int32_t, timeout_seconds, 300, "bound on the whole client run");

namespace autosync::bench {
namespace {

using autosync::testing::ChildProcess;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "e2e_bench: %s\n", what.c_str());
  std::exit(1);
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int64_t orders = absl::GetFlag(FLAGS_orders);
  const int runs = absl::GetFlag(FLAGS_runs);
  if (orders < 1 || runs < 1) Die("--orders and --runs must be positive");

  auto cluster = autosync::testing::PgCluster::Start();
  if (!cluster.ok()) Die(cluster.status().ToString());
  auto url = (*cluster)->CreateDatabase();
  if (!url.ok()) Die(url.status().ToString());
  {
    auto pool = common::PgPool::Create({.url = *url, .size = 1});
    if (!pool.ok() || !common::ApplyMigrations(**pool, common::EmbeddedMigrations()).ok()) {
      Die("migration failed");
    }
  }
  auto sim = autosync::testing::StoreSim::Start(
      {absl::StrCat("--stores=e2e:", orders), "--leak_per_second=0", "--threads=1"});
  if (!sim.ok()) Die(sim.status().ToString());
  {
    // Scheduled once a year: only the client's manual triggers run during the measurement.
    pqxx::connection conn(*url);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO stores (store_id, schedule, ads_schedule, staleness_seconds, "
        "orders_api_base, ads_api_base, ad_account_id, credentials_ref) "
        "VALUES ('e2e', '0 0 1 1 *', '0 0 1 1 *', 60, $1, $2, 'e2e', 'env:SIM_TOKEN')",
        (*sim)->orders_base("e2e"), (*sim)->base_url());
    tx.commit();
  }
  const int worker_port = autosync::testing::FreePort();
  auto worker = ChildProcess::Start(autosync::testing::BinaryPath("sync-worker"),
                                    {.args = {"--database_url=" + *url, "--insecure_grpc",
                                              absl::StrCat("--listen=127.0.0.1:", worker_port),
                                              "--metrics_listen=127.0.0.1:0", "--log_level=warn"},
                                     .env = {{"SIM_TOKEN", "sim-token"}}});
  if (!worker.ok()) Die(worker.status().ToString());
  const std::string worker_target = absl::StrCat("127.0.0.1:", worker_port);
  if (!autosync::testing::WaitForServing(worker_target, absl::Seconds(30)).ok()) {
    Die("worker not serving");
  }
  const int scheduler_port = autosync::testing::FreePort();
  auto scheduler = ChildProcess::Start(
      autosync::testing::BinaryPath("scheduler-service"),
      {.args = {"--database_url=" + *url, "--insecure_grpc",
                absl::StrCat("--listen=127.0.0.1:", scheduler_port), "--metrics_listen=127.0.0.1:0",
                "--log_level=warn", "--worker_target=" + worker_target}});
  if (!scheduler.ok()) Die(scheduler.status().ToString());
  const std::string scheduler_target = absl::StrCat("127.0.0.1:", scheduler_port);
  if (!autosync::testing::WaitForServing(scheduler_target, absl::Seconds(30)).ok()) {
    Die("scheduler not serving");
  }
  const int gateway_port = autosync::testing::FreePort();
  auto gateway = ChildProcess::Start(
      autosync::testing::BinaryPath("ws-gateway"),
      {.args = {"--insecure_grpc", absl::StrCat("--listen=127.0.0.1:", gateway_port),
                "--metrics_listen=127.0.0.1:0", "--scheduler_target=" + scheduler_target,
                "--log_level=warn", "--store_triggers_per_minute=6000",
                "--client_triggers_per_minute=6000"}});
  if (!gateway.ok()) Die(gateway.status().ToString());
  const std::string gateway_url = absl::StrCat("http://127.0.0.1:", gateway_port);
  // Up and connected to the scheduler (/health answers 200 only then), bounded.
  const absl::Time health_deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    auto health = autosync::testing::HttpGet(gateway_url + "/health", absl::Seconds(2));
    if (health.ok() && health->status == 200) break;
    if (absl::Now() > health_deadline) Die("gateway not healthy: " + (*gateway)->Output());
    absl::SleepFor(absl::Milliseconds(100));
  }

  auto client = ChildProcess::Start(
      "/usr/bin/env",
      {.args = {"node", absl::GetFlag(FLAGS_client), "--url=" + gateway_url, "--store=e2e",
                absl::StrCat("--runs=", runs),
                absl::StrCat("--idle-ms=", absl::GetFlag(FLAGS_idle_ms)),
                absl::StrCat("--timeout-ms=", absl::GetFlag(FLAGS_timeout_seconds) * 1000)}});
  if (!client.ok()) Die(client.status().ToString());
  auto code = (*client)->Wait(absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds) + 10));
  const std::string output = (*client)->Output();
  if (!code.ok() || *code != 0) Die(absl::StrCat("latency client failed: ", output));
  std::string result;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "{\"ok\":true")) result = std::string(line);
  }
  if (result.empty()) Die("no result from the latency client: " + output);
  std::printf("e2e latency benchmark: %lld-order store, %d runs, %s\n",
              static_cast<long long>(orders), runs,
              absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()).c_str());
  // The client's JSON line, for tests/bench/run to read, then nothing else.
  std::printf("RESULT %s\n", result.c_str());
  return 0;
}

}  // namespace
}  // namespace autosync::bench

int main(int argc, char** argv) { return autosync::bench::Main(argc, argv); }
