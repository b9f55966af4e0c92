// Fault switches for store-sim (set by flags or POST /_sim/faults) and their counters. Each
// switch's counter restarts when that switch is set. "Orders requests" and "data pages" are REST
// and GraphQL orders alike (and insights pages); the bulk and async switches count operations,
// downloads, report runs or Meta requests ("the next N"). Not thread-safe; the Simulator locks.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::storesim {

struct FaultSettings {
  int64_t latency_ms = 0;               // delay every API answer by this much
  int64_t fail_5xx_every = 0;           // every Nth API request answers 500, then 503, alternating
  int64_t burst_429 = 0;                // the next N orders requests answer 429 + Retry-After
  int64_t drop_connection_on_page = 0;  // close the socket, no answer, on the Nth data page
  int64_t truncate_page = 0;            // the Nth data page's body is cut in half
  int64_t malformed_page = 0;           // the Nth data page's body is not JSON
  int64_t ads_throttle = 0;             // the next N insights calls answer Meta's code-80000 error
  // Shopify bulk operations (graphql_bulk.h):
  int64_t bulk_fail = 0;         // the next N operations end FAILED (INTERNAL_SERVER_ERROR) partway
  int64_t bulk_stuck = 0;        // the next N operations stay RUNNING until cancelled
  int64_t bulk_url_expired = 0;  // the next N downloads answer 403 ExpiredToken
  int64_t bulk_truncate = 0;     // the next N downloads close the connection halfway
  // Meta async report runs (meta_insights.h) and every Meta route:
  int64_t ads_async_fail = 0;     // the next N report runs end "Job Failed" at about 50%
  int64_t ads_async_stuck = 0;    // the next N report runs stay "Job Running" forever
  int64_t ads_token_expired = 0;  // the next N Meta requests answer OAuthException 190/463
};

// What a request should suffer, decided once per request.
enum class PageFault { kNone, kDrop, kTruncate, kMalformed };

class Faults final {
 public:
  Faults() = default;
  explicit Faults(const FaultSettings& s) { Set(s, /*all=*/true); }

  // Applies a JSON object of switches ({"fail_5xx_every":3,...}); keys not present keep their
  // value. Unknown keys, non-integers and negatives are errors and change nothing.
  absl::Status ApplyJson(absl::string_view json);
  void Clear() { *this = Faults(); }
  // {"latency_ms":0,...,"counters":{...}}
  std::string ToJson() const;
  const FaultSettings& settings() const { return settings_; }

  int64_t latency_ms() const { return settings_.latency_ms; }
  // Counts one API request; returns 500 or 503 when this one must fail, else 0.
  int Next5xx();
  // Consumes one from burst_429 / ads_throttle; true when this request must be refused.
  bool TakeBurst429();
  bool TakeAdsThrottle();
  // Each consumes one from its "next N" switch; true when this operation, download, report run
  // or request must suffer it.
  bool TakeBulkFail() { return Take(bulk_fail_left_); }
  bool TakeBulkStuck() { return Take(bulk_stuck_left_); }
  bool TakeBulkUrlExpired() { return Take(bulk_url_expired_left_); }
  bool TakeBulkTruncate() { return Take(bulk_truncate_left_); }
  bool TakeAdsAsyncFail() { return Take(ads_async_fail_left_); }
  bool TakeAdsAsyncStuck() { return Take(ads_async_stuck_left_); }
  bool TakeAdsTokenExpired() { return Take(ads_token_expired_left_); }
  // Counts one data page (orders list or insights) about to be answered 200.
  PageFault NextPage();

 private:
  void Set(const FaultSettings& s, bool all);
  static bool Take(int64_t& left) {
    if (left <= 0) return false;
    --left;
    return true;
  }

  FaultSettings settings_;
  int64_t requests_seen_ = 0;
  int64_t failures_sent_ = 0;
  int64_t burst_left_ = 0;
  int64_t throttle_left_ = 0;
  int64_t pages_drop_ = 0;
  int64_t pages_truncate_ = 0;
  int64_t pages_malformed_ = 0;
  int64_t bulk_fail_left_ = 0;
  int64_t bulk_stuck_left_ = 0;
  int64_t bulk_url_expired_left_ = 0;
  int64_t bulk_truncate_left_ = 0;
  int64_t ads_async_fail_left_ = 0;
  int64_t ads_async_stuck_left_ = 0;
  int64_t ads_token_expired_left_ = 0;
};

}  // namespace autosync::storesim
