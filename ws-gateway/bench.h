// POST /bench/broadcast (only with --bench_endpoints, loopback callers only): emits `count`
// events to a store's local clients without a scheduler in the loop, so benchmarks can measure
// fan-out alone. Body {store, event, count, intervalMs, payloadBytes, runId}; answer
// {emitted, recipients, startUs, endUs} on the steady clock that `sentAtUs` in each event uses.
#pragma once

#include "ws-gateway/http_types.h"
#include "ws-gateway/hub.h"

namespace autosync::gateway {

// Blocking while it paces events by intervalMs: run it on the blocking pool.
HttpResponse BenchBroadcast(Hub& hub, const HttpRequest& request);

}  // namespace autosync::gateway
