// The gateway's JWKS keys, fetched from --jwks_url on a thread of their own (never on the io
// threads) and cached: refreshed every refresh interval, and sooner when a token names a key id
// the cached set lacks (rate-limited). Verification reads the cached snapshot and never waits on
// the network.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "ws-gateway/jwks.h"

namespace autosync::gateway {

// Gets the JWKS document: the I/O seam (libcurl in production, a fake in unit tests).
class JwksFetcher {
 public:
  virtual ~JwksFetcher() = default;
  // The response body of a 200 answer from `url`, at most kMaxJwksBytes; an error for anything
  // else: no connection, a timeout, another status, a bigger body, `cancel` set while waiting.
  virtual absl::StatusOr<std::string> Fetch(const std::string& url, absl::Duration timeout,
                                            const std::atomic<bool>& cancel) = 0;
};

// libcurl: http(s) only (redirects too, at most 3), the timeout covering the whole transfer.
std::unique_ptr<JwksFetcher> MakeCurlJwksFetcher();

struct JwksCacheOptions {
  std::string url;
  absl::Duration refresh_interval = absl::Seconds(600);     // --jwks_refresh_seconds
  absl::Duration min_refresh_interval = absl::Seconds(30);  // --jwks_min_refresh_seconds
  absl::Duration timeout = absl::Seconds(5);                // --jwks_timeout_ms
};

// Thread-safe. Start() begins the first fetch at once; until one succeeds Keys() is UNAVAILABLE
// with the reason. Later fetches replace the keys only when they succeed and hold at least one
// usable key: a failed, timed-out, oversized or unparsable answer (or one with no usable key)
// keeps the previous set and is reported by LastRefreshError(). Fetches happen every
// `refresh_interval` after a good one, every `min_refresh_interval` after a failed one, and on
// RequestRefresh() no sooner than `min_refresh_interval` after the previous fetch began.
// Metrics: autosync_gateway_jwks_refresh_total{outcome="ok"|"fetch_error"|"invalid"} and the
// gauge autosync_gateway_jwks_keys. Stop() (or the destructor) aborts a fetch in flight and
// joins the thread.
class JwksCache final : public KeyProvider {
 public:
  JwksCache(JwksCacheOptions options, std::unique_ptr<JwksFetcher> fetcher,
            prometheus::Registry& registry);
  ~JwksCache() override;
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  void Start();
  void Stop();

  absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> Keys() const override;
  void RequestRefresh() const override;
  std::string LastRefreshError() const override;

  // Fetches finished so far (any outcome); tests wait on it.
  int64_t refreshes() const;

 private:
  void Run();
  // One fetch and parse, outside the lock; the outcome is applied under it.
  void Refresh();

  const JwksCacheOptions options_;
  const std::unique_ptr<JwksFetcher> fetcher_;
  prometheus::Counter& ok_;
  prometheus::Counter& fetch_error_;
  prometheus::Counter& invalid_;
  prometheus::Gauge& keys_loaded_;
  std::atomic<bool> cancel_{false};

  mutable absl::Mutex mu_;
  mutable absl::CondVar wake_;
  std::shared_ptr<const JsonWebKeySet> keys_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  bool last_ok_ ABSL_GUARDED_BY(mu_) = false;
  mutable bool refresh_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t refreshes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace autosync::gateway
