// The ws-gateway's command-line flags (each also read from AUTOSYNC_<NAME>, see common/config.h),
// declared for the config function that checks them (config.h) and for tests, which set them
// with absl::SetFlag under an absl::FlagSaver. Defined in flags.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, scheduler_tls_name);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, scheduler_target);
ABSL_DECLARE_FLAG(int32_t, threads);
ABSL_DECLARE_FLAG(int32_t, blocking_threads);
ABSL_DECLARE_FLAG(int32_t, upstream_timeout_ms);
ABSL_DECLARE_FLAG(std::string, web_root);
ABSL_DECLARE_FLAG(std::string, jwt_secret_file);
ABSL_DECLARE_FLAG(bool, allow_remote_dev_mode);
ABSL_DECLARE_FLAG(std::string, jwks_url);
ABSL_DECLARE_FLAG(int32_t, jwks_refresh_seconds);
ABSL_DECLARE_FLAG(int32_t, jwks_min_refresh_seconds);
ABSL_DECLARE_FLAG(int32_t, jwks_timeout_ms);
ABSL_DECLARE_FLAG(std::string, jwt_issuer);
ABSL_DECLARE_FLAG(std::string, jwt_audience);
ABSL_DECLARE_FLAG(int32_t, jwt_leeway_seconds);
ABSL_DECLARE_FLAG(std::string, role_claim);
ABSL_DECLARE_FLAG(std::string, default_role);
ABSL_DECLARE_FLAG(std::string, stores_claim);
ABSL_DECLARE_FLAG(std::string, allowed_origins);
ABSL_DECLARE_FLAG(int32_t, ping_interval_ms);
ABSL_DECLARE_FLAG(int32_t, ping_timeout_ms);
ABSL_DECLARE_FLAG(int64_t, max_payload_bytes);
ABSL_DECLARE_FLAG(int32_t, connect_timeout_ms);
ABSL_DECLARE_FLAG(int32_t, send_queue_max);
ABSL_DECLARE_FLAG(int32_t, store_triggers_per_minute);
ABSL_DECLARE_FLAG(int32_t, client_triggers_per_minute);
ABSL_DECLARE_FLAG(bool, bench_endpoints);
ABSL_DECLARE_FLAG(bool, protocol_conformance);
ABSL_DECLARE_FLAG(std::string, gateway_id);
