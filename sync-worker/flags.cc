// The sync-worker's flags (declared in flags.h): names, defaults and help text.
// deploy/ and README.md name these flags: a rename is a breaking change.
#include "sync-worker/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"

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
