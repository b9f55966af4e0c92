#include "ws-gateway/gateway_metrics.h"

#include <string>

namespace autosync::gateway {

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : connections_family_(prometheus::BuildGauge()
                              .Name("autosync_gateway_connections")
                              .Help("Open WebSocket / Socket.IO client connections")
                              .Register(registry)),
      ws_connections_(connections_family_.Add({{"protocol", "ws"}})),
      sio_connections_(connections_family_.Add({{"protocol", "socketio"}})),
      messages_family_(prometheus::BuildCounter()
                           .Name("autosync_gateway_messages_sent_total")
                           .Help("Event messages queued to clients")
                           .Register(registry)),
      ws_messages_(messages_family_.Add({{"protocol", "ws"}})),
      sio_messages_(messages_family_.Add({{"protocol", "socketio"}})),
      bytes_family_(prometheus::BuildCounter()
                        .Name("autosync_gateway_sent_bytes_total")
                        .Help("Bytes of event messages written to clients")
                        .Register(registry)),
      ws_bytes_(bytes_family_.Add({{"protocol", "ws"}})),
      sio_bytes_(bytes_family_.Add({{"protocol", "socketio"}})),
      slow_consumers_(prometheus::BuildCounter()
                          .Name("autosync_gateway_slow_consumer_disconnects_total")
                          .Help("Clients disconnected because their send queue overflowed")
                          .Register(registry)
                          .Add({})),
      protocol_errors_(prometheus::BuildCounter()
                           .Name("autosync_gateway_protocol_errors_total")
                           .Help("Malformed frames, packets and events received from clients")
                           .Register(registry)
                           .Add({})),
      upstream_streams_(prometheus::BuildGauge()
                            .Name("autosync_gateway_upstream_streams")
                            .Help("Open WatchStore streams to the scheduler")
                            .Register(registry)
                            .Add({})),
      upstream_reconnects_(prometheus::BuildCounter()
                               .Name("autosync_gateway_upstream_reconnects_total")
                               .Help("WatchStore streams re-opened after they broke")
                               .Register(registry)
                               .Add({})),
      upstream_events_(prometheus::BuildCounter()
                           .Name("autosync_gateway_upstream_events_total")
                           .Help("Events received on WatchStore streams")
                           .Register(registry)
                           .Add({})),
      http_requests_(prometheus::BuildCounter()
                         .Name("autosync_gateway_http_requests_total")
                         .Help("HTTP requests by route pattern and status code")
                         .Register(registry)),
      http_latency_(prometheus::BuildHistogram()
                        .Name("autosync_gateway_http_request_duration_seconds")
                        .Help("HTTP request latency by route pattern")
                        .Register(registry)) {}

void GatewayMetrics::ObserveHttp(absl::string_view route, int code, double seconds) {
  http_requests_.Add({{"route", std::string(route)}, {"code", std::to_string(code)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  http_latency_.Add({{"route", std::string(route)}}, kBuckets).Observe(seconds);
}

}  // namespace autosync::gateway
