// The gateway's Prometheus metrics (autosync_gateway_*), registered once and shared by the
// router, the sessions and the hub. prometheus-cpp metrics are thread-safe.
#pragma once

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace autosync::gateway {

enum class Framing { kPlainWs, kSocketIo };

class GatewayMetrics final {
 public:
  explicit GatewayMetrics(prometheus::Registry& registry);

  prometheus::Gauge& connections(Framing framing) {
    return framing == Framing::kPlainWs ? ws_connections_ : sio_connections_;
  }
  prometheus::Counter& messages_sent(Framing framing) {
    return framing == Framing::kPlainWs ? ws_messages_ : sio_messages_;
  }
  prometheus::Counter& bytes_sent(Framing framing) {
    return framing == Framing::kPlainWs ? ws_bytes_ : sio_bytes_;
  }
  prometheus::Counter& slow_consumer_disconnects() { return slow_consumers_; }
  prometheus::Counter& protocol_errors() { return protocol_errors_; }
  prometheus::Gauge& upstream_streams() { return upstream_streams_; }
  prometheus::Counter& upstream_reconnects() { return upstream_reconnects_; }
  prometheus::Counter& upstream_events() { return upstream_events_; }

  // One finished HTTP request: route label (pattern), status code, seconds taken.
  void ObserveHttp(absl::string_view route, int code, double seconds);

 private:
  prometheus::Family<prometheus::Gauge>& connections_family_;
  prometheus::Gauge& ws_connections_;
  prometheus::Gauge& sio_connections_;
  prometheus::Family<prometheus::Counter>& messages_family_;
  prometheus::Counter& ws_messages_;
  prometheus::Counter& sio_messages_;
  prometheus::Family<prometheus::Counter>& bytes_family_;
  prometheus::Counter& ws_bytes_;
  prometheus::Counter& sio_bytes_;
  prometheus::Counter& slow_consumers_;
  prometheus::Counter& protocol_errors_;
  prometheus::Gauge& upstream_streams_;
  prometheus::Counter& upstream_reconnects_;
  prometheus::Counter& upstream_events_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
};

}  // namespace autosync::gateway
