// The sync-worker's command-line flags (each also read from AUTOSYNC_<NAME>, see common/config.h),
// declared for the config function that checks them (config.h) and for tests, which set them
// with absl::SetFlag under an absl::FlagSaver. Defined in flags.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, database_url);
ABSL_DECLARE_FLAG(int32_t, database_pool_size);
ABSL_DECLARE_FLAG(int32_t, max_concurrent_syncs);
ABSL_DECLARE_FLAG(std::string, worker_id);
ABSL_DECLARE_FLAG(int32_t, orders_lookback_seconds);
ABSL_DECLARE_FLAG(int32_t, ads_window_days);
ABSL_DECLARE_FLAG(int32_t, ads_initial_days);
ABSL_DECLARE_FLAG(int32_t, ads_max_throttle_wait_seconds);
ABSL_DECLARE_FLAG(int32_t, source_request_timeout_seconds);
ABSL_DECLARE_FLAG(int32_t, sweep_interval_hours);
ABSL_DECLARE_FLAG(int32_t, orders_sweep_days);
ABSL_DECLARE_FLAG(int32_t, ads_sweep_days);
ABSL_DECLARE_FLAG(bool, orders_deletions);
ABSL_DECLARE_FLAG(bool, graphql_bulk);
ABSL_DECLARE_FLAG(int32_t, bulk_timeout_seconds);
ABSL_DECLARE_FLAG(int32_t, bulk_max_poll_seconds);
ABSL_DECLARE_FLAG(bool, ads_async);
ABSL_DECLARE_FLAG(int32_t, ads_async_timeout_seconds);
ABSL_DECLARE_FLAG(bool, verify_tls);
ABSL_DECLARE_FLAG(int32_t, startup_timeout_seconds);
