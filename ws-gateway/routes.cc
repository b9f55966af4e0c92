#include "ws-gateway/routes.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/metrics.h"

namespace autosync::gateway {
namespace {

std::string NowIso() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
}

absl::string_view PathOf(absl::string_view target) {
  const size_t q = target.find('?');
  return q == absl::string_view::npos ? target : target.substr(0, q);
}

}  // namespace

HttpResponse JsonError(int status, absl::string_view message) {
  HttpResponse res;
  res.status = status;
  res.body = "{\"success\":false,\"error\":\"";
  common::AppendJsonEscaped(res.body, message);
  res.body += "\"}";
  return res;
}

Router::Router(SchedulerClient& scheduler, std::shared_ptr<prometheus::Registry> registry)
    : scheduler_(scheduler), registry_(std::move(registry)) {}

HttpResponse Router::Handle(const HttpRequest& request) {
  const absl::string_view path = PathOf(request.target);
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (path == "/health") {
    if (!read) return JsonError(405, "use GET /health");
    return Health();
  }
  if (path == "/metrics") {
    if (!read) return JsonError(405, "use GET /metrics");
    HttpResponse res;
    res.content_type = std::string(common::kMetricsContentType);
    res.body = common::SerializeMetrics(*registry_);
    return res;
  }
  return JsonError(404, absl::StrCat("no route for ", request.method, " ", path));
}

HttpResponse Router::Health() {
  HttpResponse res;
  const absl::Status upstream = scheduler_.CheckHealth();
  if (upstream.ok()) {
    res.status = 200;
    res.body = absl::StrCat("{\"status\":\"ok\",\"scheduler\":\"SERVING\",\"timestamp\":\"",
                            NowIso(), "\"}");
  } else {
    res.status = 503;
    res.body = "{\"status\":\"unavailable\",\"reason\":\"";
    common::AppendJsonEscaped(res.body, upstream.message());
    absl::StrAppend(&res.body, "\",\"timestamp\":\"", NowIso(), "\"}");
  }
  return res;
}

}  // namespace autosync::gateway
