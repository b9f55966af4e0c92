// Counters one connector client keeps about its HTTP traffic, for the worker to copy into
// Prometheus (autosync_sync_worker_store_api_requests_total{api,status} and friends).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/time/time.h"

namespace autosync::worker {

struct ConnectorStats {
  std::map<int, int64_t> requests_by_status;  // HTTP status → answers received
  int64_t transport_errors = 0;               // requests that got no HTTP answer
  int64_t retries = 0;                        // requests repeated after a 5xx or transport error
  int64_t throttled = 0;     // 429 / Meta throttle answers (each followed by a wait)
  int64_t pacing_waits = 0;  // proactive waits because the rate-limit bucket was nearly full
  absl::Duration waited;     // total time spent in backoff, throttle and pacing waits
  // Answers that announced the API version asked for is deprecated or past (Shopify's
  // X-Shopify-API-Deprecated-Reason, or an API version served other than the one asked for),
  // and what they said, each text once.
  int64_t deprecated_answers = 0;
  std::set<std::string> deprecation_notices;

  // Counts one such answer and keeps what it said (a few distinct texts are enough to act on).
  void NoteDeprecation(std::string notice) {
    ++deprecated_answers;
    if (deprecation_notices.size() < 8) deprecation_notices.insert(std::move(notice));
  }
};

}  // namespace autosync::worker
