// Test support: what an operator's tools see of a gRPC service — health (grpc.health.v1) and
// the list of services from server reflection (v1alpha, what gRPC 1.51 serves). Also a plain
// HTTP GET for the gateway and /metrics.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace autosync::testing {

// One Health.Check of `service` ("" = the whole server). Returns the status name ("SERVING",
// "NOT_SERVING", …) or the RPC error.
absl::StatusOr<std::string> HealthCheck(const std::string& target, const std::string& service,
                                        absl::Duration timeout = absl::Seconds(2));
// The same over `channel` (e.g. one with TLS credentials).
absl::StatusOr<std::string> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service, absl::Duration timeout);

// Repeats HealthCheck until it answers SERVING or `timeout` passes (a freshly started process
// needs a moment to bind); returns the last answer on timeout.
absl::Status WaitForServing(const std::string& target, absl::Duration timeout);
// The same with `credentials` (a service started with the --tls_* files).
absl::Status WaitForServing(const std::string& target,
                            const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                            absl::Duration timeout);

// ServerReflectionInfo list_services.
absl::StatusOr<std::vector<std::string>> ListServices(const std::string& target);

struct HttpResult {
  long status = 0;
  std::string body;
  std::string content_type;
};
absl::StatusOr<HttpResult> HttpGet(const std::string& url,
                                   absl::Duration timeout = absl::Seconds(5));
absl::StatusOr<HttpResult> HttpPost(const std::string& url, const std::string& body,
                                    absl::Duration timeout = absl::Seconds(5));

// Repeats HttpGet until it answers (any status) or `timeout` passes.
absl::StatusOr<HttpResult> WaitForHttp(const std::string& url, absl::Duration timeout);

// One scrape of a Prometheus text endpoint (http://127.0.0.1:<port>/metrics): each series, as
// exposed (`name` or `name{labels}`), to its value. Comment lines are left out.
using MetricValues = absl::flat_hash_map<std::string, double>;
absl::StatusOr<MetricValues> ScrapeMetrics(int port, absl::Duration timeout = absl::Seconds(5));
// The value of one series in a scrape, 0 when it is absent (a counter not yet incremented).
double SeriesValue(const MetricValues& values, const std::string& series);

}  // namespace autosync::testing
