#include "ws-gateway/rate_limit.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace autosync::gateway {

bool RateLimiter::Allow(absl::string_view key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  // Full buckets carry no information: forget them so the map stays bounded by active keys.
  if (buckets_.size() > 10000) {
    absl::erase_if(buckets_, [&](const auto& entry) {
      return now - entry.second.updated >= refill_ * burst_;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(std::string(key));
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = burst_;
  } else if (now > bucket.updated) {
    bucket.tokens =
        std::min<double>(burst_, bucket.tokens + absl::FDivDuration(now - bucket.updated, refill_));
  }
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

}  // namespace autosync::gateway

namespace autosync::gateway {

absl::Status TriggerLimiter::Check(absl::string_view store_id, absl::string_view client_key,
                                   absl::Time now) {
  if (!per_client_.Allow(client_key, now)) {
    return absl::ResourceExhaustedError("too many manual triggers from this client; retry later");
  }
  if (!per_store_.Allow(store_id, now)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many manual triggers for store ", store_id, "; retry later"));
  }
  return absl::OkStatus();
}

}  // namespace autosync::gateway
