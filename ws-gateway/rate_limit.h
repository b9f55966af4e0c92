// Token-bucket rate limiting keyed by a string (a store id, a client id): `burst` tokens, one
// more every `refill` interval. Time is passed in, so tests drive it. Thread-safe.
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autosync::gateway {

class RateLimiter final {
 public:
  RateLimiter(int burst, absl::Duration refill) : burst_(burst), refill_(refill) {}

  // Takes one token for `key` at `now`; false (nothing taken) when the bucket is empty.
  bool Allow(absl::string_view key, absl::Time now);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  const int burst_;
  const absl::Duration refill_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::gateway

namespace autosync::gateway {

// Manual-trigger limits shared by HTTP and WebSocket triggers: per store and per client.
class TriggerLimiter final {
 public:
  TriggerLimiter(int store_burst, absl::Duration store_refill, int client_burst,
                 absl::Duration client_refill)
      : per_store_(store_burst, store_refill), per_client_(client_burst, client_refill) {}

  // RESOURCE_EXHAUSTED naming which limit was hit; a per-client refusal takes no store token.
  absl::Status Check(absl::string_view store_id, absl::string_view client_key, absl::Time now);

 private:
  RateLimiter per_store_;
  RateLimiter per_client_;
};

}  // namespace autosync::gateway
