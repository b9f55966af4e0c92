// The scheduler-service's flags (declared in flags.h): names, defaults and help text.
// deploy/ and README.md name these flags: a rename is a breaking change.
#include "scheduler-service/flags.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC listen address (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9101", "Prometheus /metrics listen address");
ABSL_FLAG(std::string, database_url, "postgresql://autosync@127.0.0.1:5432/autosync",
          "PostgreSQL connection string (libpq URI or key=value); prefer AUTOSYNC_DATABASE_URL "
          "from a Secret, since it may hold a password");
ABSL_FLAG(int32_t, database_pool_size, 8, "PostgreSQL connections kept by this process (1-100)");
ABSL_FLAG(std::string, worker_target, "dns:///127.0.0.1:50052",
          "gRPC target of the sync-worker(s); dns:/// names round-robin across replicas");
ABSL_FLAG(std::string, worker_tls_name, "autosync-worker",
          "DNS name the workers' TLS certificates must carry (checked instead of the host in "
          "--worker_target)");
ABSL_FLAG(bool, migrate_only, false, "Apply database migrations and exit (for a Kubernetes Job)");
ABSL_FLAG(int32_t, startup_timeout_seconds, 30,
          "How long to wait for PostgreSQL at start before giving up (1-600)");
ABSL_FLAG(std::string, default_schedule, "0 * * * *",
          "Orders cron expression of stores registered without one");
ABSL_FLAG(std::string, default_ads_schedule, "0 */6 * * *",
          "Ads cron expression of stores registered without any schedule (a store registered "
          "with only `schedule` uses it for ads too)");
ABSL_FLAG(std::string, default_orders_api, "graphql",
          "Shopify Admin API of stores registered without orders_api: graphql (Shopify's "
          "current API) or rest (legacy since October 2024)");
ABSL_FLAG(std::string, default_timezone, "UTC", "IANA time zone of stores registered without one");
ABSL_FLAG(int64_t, default_staleness_seconds, 3600,
          "Staleness threshold of stores registered without one (1-31536000): a scheduled fire "
          "syncs only when the last success is older");
ABSL_FLAG(std::string, replica_id, "",
          "Name of this replica in sync_runs.owner (default: host name + pid); unique per process");
ABSL_FLAG(int32_t, max_concurrent_runs, 256,
          "Runs this replica streams from the workers at once (1-1024), a thread each while it "
          "waits on its stream; the fleet's capacity is the workers' slots (worker_slots), so "
          "this only bounds one replica's share");
ABSL_FLAG(bool, adaptive_dispatch, true,
          "Keep fewer runs in flight than the workers' free slots when runs start slower than "
          "usual (a crowded CPU or database): each run, a person's included, stays near its time "
          "alone (scheduler-service/dispatch_limit.h). false: fill every free slot");
ABSL_FLAG(int32_t, run_timeout_seconds, 1800,
          "Budget of one run, worker retries included (10-86400)");
ABSL_FLAG(int32_t, run_stale_seconds, 60,
          "A running run whose heartbeat is older than this is marked failed (2-3600)");
ABSL_FLAG(int32_t, catchup_window_seconds, 3600,
          "After a restart, a scheduled fire missed within this window runs once (0-86400)");
ABSL_FLAG(int32_t, schedule_refresh_seconds, 60,
          "Full reload of the schedule from the database, catching changes made through other "
          "replicas if a notification was missed (1-3600)");
ABSL_FLAG(int32_t, run_history_days, 30,
          "Runs older than this are pruned from sync_runs in small batches (1-3650); each "
          "store's newest run is kept");
ABSL_FLAG(int32_t, notify_timeout_seconds, 10,
          "Budget of one POST to a store's notification webhook (1-300)");
ABSL_FLAG(int32_t, notify_attempts, 4,
          "POSTs of one store notification at most, with exponential backoff and jitter between "
          "them (1-10)");
ABSL_FLAG(int32_t, watcher_queue_limit, 256,
          "Events queued for one WatchStore stream before it is dropped as too slow (8-100000)");
