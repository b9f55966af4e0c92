// sync-worker: parses configuration and serves the SyncWorker API. Wiring only; the logic lives
// in the autosync_worker library.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/grpc_server.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "common/pg_pool.h"
#include "common/service_flags.h"
#include "common/shutdown.h"
#include "prometheus/registry.h"
#include "sync-worker/capacity_reporter.h"
#include "sync-worker/config.h"
#include "sync-worker/connectors/curl_transport.h"
#include "sync-worker/metrics.h"
#include "sync-worker/sync_store.h"
#include "sync-worker/sync_worker_service.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50052", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9102", "Prometheus /metrics listen address");
ABSL_FLAG(std::string, database_url, "postgresql://autosync@127.0.0.1:5432/autosync",
          "PostgreSQL connection string (libpq URI or key=value); prefer AUTOSYNC_DATABASE_URL "
          "from a Secret, since it may hold a password");
ABSL_FLAG(int32_t, database_pool_size, 16, "PostgreSQL connections kept by this process (1-100)");
ABSL_FLAG(int32_t, max_concurrent_syncs, 64,
          "Runs this worker executes at once (1-256), a thread each: a run mostly waits on the "
          "store APIs, so the pool is sized for waiting, not for cores. Published to the "
          "schedulers (worker_slots), who dispatch only to free slots");
ABSL_FLAG(std::string, worker_id, "",
          "Name of this worker in worker_slots (default: host name + pid); unique per process");
ABSL_FLAG(int32_t, orders_lookback_seconds, 300,
          "Orders are re-read from (stored cursor - this) so late source commits are not missed");
ABSL_FLAG(int32_t, ads_window_days, 28,
          "Trailing days of ad spend re-read on every sync (ad platforms restate recent days)");
ABSL_FLAG(int32_t, ads_initial_days, 730, "Days of ad history read by a store's first sync");
ABSL_FLAG(int32_t, ads_max_throttle_wait_seconds, 300,
          "Longest single wait when the ads API says it is throttling us (1-3600)");
ABSL_FLAG(int32_t, source_request_timeout_seconds, 0,
          "Longest wait for one store-API answer before it counts as failed and is retried "
          "(1-300; 0 = the defaults: 30 s for orders, 60 s for ad insights)");
ABSL_FLAG(int32_t, sweep_interval_hours, 24,
          "How often a store's run also re-reads its recent history for changes that arrived "
          "late (the late-change sweep); 0 turns the sweep off");
ABSL_FLAG(int32_t, orders_sweep_days, 7,
          "The sweep re-reads the orders updated in this many days before the orders cursor");
ABSL_FLAG(int32_t, ads_sweep_days, 90,
          "The sweep re-reads this many days of ad spend (restatements beyond --ads_window_days)");
ABSL_FLAG(bool, orders_deletions, true,
          "After the orders, read Shopify's order destroy events (events.json) since the last "
          "ones applied and remove those orders from the tables and the cohorts");
ABSL_FLAG(bool, graphql_bulk, true,
          "Read a GraphQL store's first sync, forced re-syncs and backfills through a Shopify bulk "
          "operation instead of paging");
ABSL_FLAG(int32_t, bulk_timeout_seconds, 7200,
          "A bulk operation not finished after this long is cancelled and the run fails "
          "(10-864000)");
ABSL_FLAG(int32_t, bulk_max_poll_seconds, 10,
          "Longest interval between two polls of a running bulk operation (1-600)");
ABSL_FLAG(bool, ads_async, true,
          "Read an ad range longer than --ads_window_days (the first pull, a forced re-fetch) as "
          "one of Meta's async report runs instead of paging it synchronously");
ABSL_FLAG(int32_t, ads_async_timeout_seconds, 1800,
          "An async ad report (a range longer than --ads_window_days) still unfinished after this "
          "long fails the run, to be asked again by the next (10-86400)");
ABSL_FLAG(bool, verify_tls, true,
          "Verify store-API TLS certificates (never turn off in production)");
ABSL_FLAG(int32_t, startup_timeout_seconds, 30,
          "How long to wait for PostgreSQL at start before giving up (1-600)");

namespace autosync::worker {
namespace {

WorkerConfig ConfigFromFlags(common::ConfigErrors& errors) {
  WorkerConfig config;
  config.listen = common::ListenFromFlag(absl::GetFlag(FLAGS_listen), "listen", errors);
  config.metrics_listen =
      common::ListenFromFlag(absl::GetFlag(FLAGS_metrics_listen), "metrics_listen", errors);
  config.database_url = absl::GetFlag(FLAGS_database_url);
  errors.Check(common::ValidateDatabaseUrl(config.database_url), "database_url");
  config.database_pool_size = absl::GetFlag(FLAGS_database_pool_size);
  errors.Require(config.database_pool_size >= 1 && config.database_pool_size <= 100,
                 "database_pool_size", "must be between 1 and 100");
  config.max_concurrent_syncs = absl::GetFlag(FLAGS_max_concurrent_syncs);
  errors.Require(config.max_concurrent_syncs >= 1 && config.max_concurrent_syncs <= 256,
                 "max_concurrent_syncs", "must be between 1 and 256");
  const int startup = absl::GetFlag(FLAGS_startup_timeout_seconds);
  errors.Require(startup >= 1 && startup <= 600, "startup_timeout_seconds",
                 "must be between 1 and 600");
  config.startup_timeout = absl::Seconds(startup);
  const int lookback = absl::GetFlag(FLAGS_orders_lookback_seconds);
  errors.Require(lookback >= 0 && lookback <= 86400, "orders_lookback_seconds",
                 "must be between 0 and 86400");
  config.pipeline.orders_lookback = absl::Seconds(lookback);
  config.pipeline.ads_window_days = absl::GetFlag(FLAGS_ads_window_days);
  errors.Require(config.pipeline.ads_window_days >= 1 && config.pipeline.ads_window_days <= 90,
                 "ads_window_days", "must be between 1 and 90");
  config.pipeline.ads_initial_days = absl::GetFlag(FLAGS_ads_initial_days);
  errors.Require(config.pipeline.ads_initial_days >= 1 && config.pipeline.ads_initial_days <= 1100,
                 "ads_initial_days", "must be between 1 and 1100 (the ads API keeps 37 months)");
  const int throttle = absl::GetFlag(FLAGS_ads_max_throttle_wait_seconds);
  errors.Require(throttle >= 1 && throttle <= 3600, "ads_max_throttle_wait_seconds",
                 "must be between 1 and 3600");
  config.pipeline.ads_client.max_throttle_wait = absl::Seconds(throttle);
  config.pipeline.ads_client.default_throttle_wait =
      std::min(config.pipeline.ads_client.default_throttle_wait, absl::Seconds(throttle));
  const int request_timeout = absl::GetFlag(FLAGS_source_request_timeout_seconds);
  errors.Require(request_timeout >= 0 && request_timeout <= 300, "source_request_timeout_seconds",
                 "must be between 0 and 300");
  if (request_timeout > 0) {
    config.pipeline.orders_client.request_timeout = absl::Seconds(request_timeout);
    config.pipeline.ads_client.request_timeout = absl::Seconds(request_timeout);
  }
  config.pipeline.graphql_bulk = absl::GetFlag(FLAGS_graphql_bulk);
  config.pipeline.orders_deletions = absl::GetFlag(FLAGS_orders_deletions);
  const int sweep_hours = absl::GetFlag(FLAGS_sweep_interval_hours);
  errors.Require(sweep_hours >= 0 && sweep_hours <= 24 * 366, "sweep_interval_hours",
                 "must be 0 (no sweep) to 8784");
  config.pipeline.sweep_interval = absl::Hours(sweep_hours);
  const int orders_sweep_days = absl::GetFlag(FLAGS_orders_sweep_days);
  errors.Require(orders_sweep_days >= 1 && orders_sweep_days <= 366, "orders_sweep_days",
                 "must be 1 to 366");
  config.pipeline.orders_sweep = absl::Hours(24 * orders_sweep_days);
  const int ads_sweep_days = absl::GetFlag(FLAGS_ads_sweep_days);
  errors.Require(ads_sweep_days >= 1 && ads_sweep_days <= 1100, "ads_sweep_days",
                 "must be 1 to 1100");
  config.pipeline.ads_sweep_days = ads_sweep_days;
  const int bulk_timeout = absl::GetFlag(FLAGS_bulk_timeout_seconds);
  errors.Require(bulk_timeout >= 10 && bulk_timeout <= 864000, "bulk_timeout_seconds",
                 "must be between 10 and 864000 (Shopify's own limit is 10 days)");
  config.pipeline.bulk.timeout = absl::Seconds(bulk_timeout);
  const int bulk_poll = absl::GetFlag(FLAGS_bulk_max_poll_seconds);
  errors.Require(bulk_poll >= 1 && bulk_poll <= 600, "bulk_max_poll_seconds",
                 "must be between 1 and 600");
  config.pipeline.bulk.max_poll = absl::Seconds(bulk_poll);
  config.pipeline.ads_async = absl::GetFlag(FLAGS_ads_async);
  const int ads_async_timeout = absl::GetFlag(FLAGS_ads_async_timeout_seconds);
  errors.Require(ads_async_timeout >= 10 && ads_async_timeout <= 86400, "ads_async_timeout_seconds",
                 "must be between 10 and 86400");
  config.pipeline.ads_async_timeout = absl::Seconds(ads_async_timeout);
  config.verify_tls = absl::GetFlag(FLAGS_verify_tls);
  config.worker_id = absl::GetFlag(FLAGS_worker_id);
  if (config.worker_id.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    config.worker_id = absl::StrCat(host, "-", ::getpid());
  }
  errors.Require(config.worker_id.size() <= 128, "worker_id", "is longer than 128 characters");
  return config;
}

int Main(int argc, char** argv) {
  common::BlockShutdownSignals();
  common::ParseFlagsWithEnv(argc, argv,
                            "sync-worker: runs one store's Orders -> Ads -> LTV sync per "
                            "autosync.v1.SyncWorker.RunSync call");
  common::ConfigErrors errors;
  common::InitLoggingFromFlags("sync-worker", errors);
  const WorkerConfig config = ConfigFromFlags(errors);
  const common::GrpcSecurity security = common::GrpcSecurityFromFlags(
      {std::string(common::kSchedulerName), std::string(common::kOperatorName)}, errors);
  if (!errors.ok()) common::ExitWithConfigError(argv[0], errors.Summary());

  auto pool = common::PgPool::Create({.url = config.database_url,
                                      .size = config.database_pool_size,
                                      .application_name = "sync-worker"});
  if (!pool.ok()) common::ExitWithConfigError(argv[0], pool.status().message());
  if (absl::Status s = common::WaitForDatabase(**pool, config.startup_timeout); !s.ok()) {
    common::LogError(
        "cannot reach the database (--database_url)",
        {{"error", s.message()}, {"database", common::RedactDatabaseUrl(config.database_url)}});
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics metrics(*registry);
  std::unique_ptr<SyncStore> store = MakePgSyncStore(**pool);
  CurlOptions curl;
  curl.verify_tls = config.verify_tls;
  TransportFactory transports = [curl]() -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
    auto transport = CurlTransport::Create(curl);
    if (!transport.ok()) return transport.status();
    return std::unique_ptr<HttpTransport>(std::move(*transport));
  };
  SyncWorkerService service(config, *store, transports, metrics);
  CapacityReporter capacity(**pool, config.worker_id, config.max_concurrent_syncs,
                            [&service] { return service.in_flight(); });
  capacity.Start();
  // Readiness follows the database (without it no run can write anything) and this service's
  // own TLS certificate (expired, no scheduler accepts it).
  common::PgPool& db = **pool;
  std::unique_ptr<common::CertificateExpiryCheck> expiry;
  if (!security.insecure) {
    expiry = std::make_unique<common::CertificateExpiryCheck>(security.files.cert_file, *registry);
  }
  const int rc = common::ServeGrpcUntilSignal(
      config.listen, config.metrics_listen, {&service}, {"autosync.v1.SyncWorker"},
      security.ServerCredentials(), registry, config.shutdown_grace, {.check = [&db, &expiry] {
        if (expiry != nullptr) {
          if (absl::Status s = expiry->Check(); !s.ok()) return s;
        }
        return db.Ping();
      }});
  capacity.Stop();
  return rc;
}

}  // namespace
}  // namespace autosync::worker

int main(int argc, char** argv) { return autosync::worker::Main(argc, argv); }
