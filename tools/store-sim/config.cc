#include "tools/store-sim/config.h"

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/store-sim/flags.h"
#include "tools/store-sim/store_data.h"

namespace autosync::storesim {
namespace {

// --end: an RFC 3339 instant, or by default the start of the current UTC day.
absl::StatusOr<absl::Time> EndFromFlag() {
  const std::string end = absl::GetFlag(FLAGS_end);
  if (end.empty()) {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return absl::FromUnixSeconds(now - now % 86400);
  }
  absl::Time time;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, end, &time, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--end: '", end, "' is not an RFC 3339 time (", err, ")"));
  }
  return time;
}

void FaultsFromFlags(FaultSettings& f) {
  f.latency_ms = absl::GetFlag(FLAGS_latency_ms);
  f.fail_5xx_every = absl::GetFlag(FLAGS_fail_5xx_every);
  f.burst_429 = absl::GetFlag(FLAGS_burst_429);
  f.drop_connection_on_page = absl::GetFlag(FLAGS_drop_connection_on_page);
  f.truncate_page = absl::GetFlag(FLAGS_truncate_page);
  f.malformed_page = absl::GetFlag(FLAGS_malformed_page);
  f.ads_throttle = absl::GetFlag(FLAGS_ads_throttle);
  f.bulk_fail = absl::GetFlag(FLAGS_bulk_fail);
  f.bulk_stuck = absl::GetFlag(FLAGS_bulk_stuck);
  f.bulk_url_expired = absl::GetFlag(FLAGS_bulk_url_expired);
  f.bulk_truncate = absl::GetFlag(FLAGS_bulk_truncate);
  f.ads_async_fail = absl::GetFlag(FLAGS_ads_async_fail);
  f.ads_async_stuck = absl::GetFlag(FLAGS_ads_async_stuck);
  f.ads_token_expired = absl::GetFlag(FLAGS_ads_token_expired);
}

}  // namespace

absl::StatusOr<StoreSimConfig> StoreSimConfigFromFlags() {
  StoreSimConfig out;
  SimConfig& config = out.sim;
  config.seed = absl::GetFlag(FLAGS_seed);
  auto stores = ParseStoreSpecs(absl::GetFlag(FLAGS_stores));
  if (!stores.ok()) return absl::InvalidArgumentError(stores.status().message());
  config.stores = *stores;
  absl::StatusOr<absl::Time> end = EndFromFlag();
  if (!end.ok()) return end.status();
  config.end = *end;
  config.access_token = absl::GetFlag(FLAGS_access_token);
  config.bucket_size = absl::GetFlag(FLAGS_bucket_size);
  config.leak_per_second = absl::GetFlag(FLAGS_leak_per_second);
  config.graphql_bucket_size = absl::GetFlag(FLAGS_graphql_bucket_size);
  config.graphql_restore_rate = absl::GetFlag(FLAGS_graphql_restore_rate);
  config.live_interval_ms = absl::GetFlag(FLAGS_live_interval_ms);
  config.live_delete_probability = absl::GetFlag(FLAGS_live_delete_probability);
  if (config.live_delete_probability < 0 || config.live_delete_probability > 1) {
    return absl::InvalidArgumentError("--live_delete_probability must be in [0, 1]");
  }
  config.read_all_orders = absl::GetFlag(FLAGS_read_all_orders);
  config.bulk_min_ms = absl::GetFlag(FLAGS_bulk_min_ms);
  config.bulk_url_ttl_seconds = absl::GetFlag(FLAGS_bulk_url_ttl_seconds);
  config.ads_async_ms = absl::GetFlag(FLAGS_ads_async_ms);
  config.shopify_oldest_version = absl::GetFlag(FLAGS_shopify_oldest_version);
  config.meta_oldest_version = absl::GetFlag(FLAGS_meta_oldest_version);
  FaultsFromFlags(config.faults);
  const FaultSettings& f = config.faults;
  for (int64_t v :
       {f.latency_ms, f.fail_5xx_every, f.burst_429, f.drop_connection_on_page, f.truncate_page,
        f.malformed_page, f.ads_throttle, f.bulk_fail, f.bulk_stuck, f.bulk_url_expired,
        f.bulk_truncate, f.ads_async_fail, f.ads_async_stuck, f.ads_token_expired}) {
    if (v < 0) return absl::InvalidArgumentError("fault flags must be >= 0");
  }

  ServerOptions& server = out.server;
  server.threads = absl::GetFlag(FLAGS_threads);
  if (server.threads < 1 || server.threads > 64) {
    return absl::InvalidArgumentError("--threads must be in [1, 64]");
  }
  server.idle_timeout_seconds = absl::GetFlag(FLAGS_idle_timeout_seconds);
  if (server.idle_timeout_seconds < 1 || server.idle_timeout_seconds > 3600) {
    return absl::InvalidArgumentError("--idle_timeout_seconds must be in [1, 3600]");
  }
  auto listen = ParseListen(absl::GetFlag(FLAGS_listen), absl::GetFlag(FLAGS_allow_non_loopback));
  if (!listen.ok()) return absl::InvalidArgumentError(listen.status().message());
  server.address = listen->first;
  server.port = listen->second;
  server.live = absl::GetFlag(FLAGS_live);
  server.live_interval_ms = config.live_interval_ms;
  return out;
}

}  // namespace autosync::storesim
