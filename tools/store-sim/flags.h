// store-sim's command-line flags (each also read from AUTOSYNC_<NAME>, see ParseStoreSimFlags),
// declared for the config function that checks them (config.h) and for tests, which set them
// with absl::SetFlag under an absl::FlagSaver. Defined in flags.cc.
#pragma once

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(bool, allow_non_loopback);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(int64_t, idle_timeout_seconds);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, stores);
ABSL_DECLARE_FLAG(std::string, end);
ABSL_DECLARE_FLAG(std::string, access_token);
ABSL_DECLARE_FLAG(int64_t, bucket_size);
ABSL_DECLARE_FLAG(double, leak_per_second);
ABSL_DECLARE_FLAG(int64_t, graphql_bucket_size);
ABSL_DECLARE_FLAG(double, graphql_restore_rate);
ABSL_DECLARE_FLAG(bool, live);
ABSL_DECLARE_FLAG(int64_t, live_interval_ms);
ABSL_DECLARE_FLAG(double, live_delete_probability);
ABSL_DECLARE_FLAG(bool, read_all_orders);
ABSL_DECLARE_FLAG(int64_t, bulk_min_ms);
ABSL_DECLARE_FLAG(int64_t, bulk_url_ttl_seconds);
ABSL_DECLARE_FLAG(int64_t, ads_async_ms);
ABSL_DECLARE_FLAG(std::string, shopify_oldest_version);
ABSL_DECLARE_FLAG(std::string, meta_oldest_version);
ABSL_DECLARE_FLAG(int64_t, latency_ms);
ABSL_DECLARE_FLAG(int64_t, fail_5xx_every);
ABSL_DECLARE_FLAG(int64_t, burst_429);
ABSL_DECLARE_FLAG(int64_t, drop_connection_on_page);
ABSL_DECLARE_FLAG(int64_t, truncate_page);
ABSL_DECLARE_FLAG(int64_t, malformed_page);
ABSL_DECLARE_FLAG(int64_t, ads_throttle);
ABSL_DECLARE_FLAG(int64_t, bulk_fail);
ABSL_DECLARE_FLAG(int64_t, bulk_stuck);
ABSL_DECLARE_FLAG(int64_t, bulk_url_expired);
ABSL_DECLARE_FLAG(int64_t, bulk_truncate);
ABSL_DECLARE_FLAG(int64_t, ads_async_fail);
ABSL_DECLARE_FLAG(int64_t, ads_async_stuck);
ABSL_DECLARE_FLAG(int64_t, ads_token_expired);

namespace autosync::storesim {

// Parses argv after applying AUTOSYNC_<FLAG> environment variables to the flags of flags.cc (the
// command line wins), with the usage text of --help. A bad value prints absl's message and exits.
void ParseStoreSimFlags(int argc, char** argv);

}  // namespace autosync::storesim
