// The Prometheus registry every service registers its metrics in, its text exposition, and a
// small HTTP server that serves it at /metrics (scheduler and worker; the gateway serves it
// from its own listener).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/config.h"
#include "prometheus/registry.h"

namespace autosync::common {

// Prometheus text exposition format (version 0.0.4) of everything in `registry`, plus the
// process_* metrics (resident memory, CPU seconds, open fds, start time) of this process.
std::string SerializeMetrics(prometheus::Registry& registry);

inline constexpr absl::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Whether the process is ready for work, and why not: what GET /ready answers. Thread-safe.
// Kubernetes' HTTP readiness probe reads it where the gRPC port needs a client certificate
// (kubelet's grpc probe cannot present one).
class ReadyState final {
 public:
  void Set(bool ready, std::string reason) ABSL_LOCKS_EXCLUDED(mu_);
  // {ready, the reason it is not ("" when ready)}.
  std::pair<bool, std::string> Get() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = true;
  std::string reason_ ABSL_GUARDED_BY(mu_);
};

// Serves GET /metrics on its own thread, and GET /ready when given a ReadyState: 200 "ready" or
// 503 "not ready: <reason>". Stop() (or destruction) closes the listener and joins.
class MetricsServer final {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const HostPort& listen, std::shared_ptr<prometheus::Registry> registry,
      std::shared_ptr<const ReadyState> ready = nullptr);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;
  void Stop();

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::common
