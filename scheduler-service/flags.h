// The scheduler-service's command-line flags (each also read from AUTOSYNC_<NAME>, see
// common/config.h), declared for the config function that checks them (config.h) and for tests,
// which set them with absl::SetFlag under an absl::FlagSaver. Defined in flags.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, database_url);
ABSL_DECLARE_FLAG(int32_t, database_pool_size);
ABSL_DECLARE_FLAG(std::string, worker_target);
ABSL_DECLARE_FLAG(std::string, worker_tls_name);
ABSL_DECLARE_FLAG(bool, migrate_only);
ABSL_DECLARE_FLAG(int32_t, startup_timeout_seconds);
ABSL_DECLARE_FLAG(std::string, default_schedule);
ABSL_DECLARE_FLAG(std::string, default_ads_schedule);
ABSL_DECLARE_FLAG(std::string, default_orders_api);
ABSL_DECLARE_FLAG(std::string, default_timezone);
ABSL_DECLARE_FLAG(int64_t, default_staleness_seconds);
ABSL_DECLARE_FLAG(std::string, replica_id);
ABSL_DECLARE_FLAG(int32_t, max_concurrent_runs);
ABSL_DECLARE_FLAG(bool, adaptive_dispatch);
ABSL_DECLARE_FLAG(int32_t, run_timeout_seconds);
ABSL_DECLARE_FLAG(int32_t, run_stale_seconds);
ABSL_DECLARE_FLAG(int32_t, catchup_window_seconds);
ABSL_DECLARE_FLAG(int32_t, schedule_refresh_seconds);
ABSL_DECLARE_FLAG(int32_t, run_history_days);
ABSL_DECLARE_FLAG(int32_t, notify_timeout_seconds);
ABSL_DECLARE_FLAG(int32_t, notify_attempts);
ABSL_DECLARE_FLAG(int32_t, watcher_queue_limit);
