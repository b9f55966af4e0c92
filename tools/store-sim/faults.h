// Fault switches for store-sim (set by flags or POST /_sim/faults) and their counters. Each
// switch's counter restarts when that switch is set. "Orders requests" and "data pages" are REST
// and GraphQL orders alike (and insights pages). Not thread-safe; the Simulator locks.
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
  // Counts one data page (orders list or insights) about to be answered 200.
  PageFault NextPage();

 private:
  void Set(const FaultSettings& s, bool all);

  FaultSettings settings_;
  int64_t requests_seen_ = 0;
  int64_t failures_sent_ = 0;
  int64_t burst_left_ = 0;
  int64_t throttle_left_ = 0;
  int64_t pages_drop_ = 0;
  int64_t pages_truncate_ = 0;
  int64_t pages_malformed_ = 0;
};

}  // namespace autosync::storesim
