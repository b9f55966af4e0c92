// The Prometheus registry every service registers its metrics in, its text exposition, and a
// small HTTP server that serves it at /metrics (scheduler and worker; the gateway serves it
// from its own listener).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"
#include "prometheus/registry.h"

namespace autosync::common {

// Prometheus text exposition format (version 0.0.4) of everything in `registry`, plus the
// process_* metrics (resident memory, CPU seconds, open fds, start time) of this process.
std::string SerializeMetrics(prometheus::Registry& registry);

inline constexpr absl::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Serves GET /metrics on its own thread. Stop() (or destruction) closes the listener and joins.
class MetricsServer final {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const HostPort& listen, std::shared_ptr<prometheus::Registry> registry);
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
