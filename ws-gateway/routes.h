// The gateway's HTTP routes as a pure function of the request and the gateway's collaborators
// (scheduler client, metrics registry). Unknown routes answer a JSON 404.
#pragma once

#include <memory>

#include "prometheus/registry.h"
#include "ws-gateway/http_types.h"
#include "ws-gateway/scheduler_client.h"

namespace autosync::gateway {

class Router final {
 public:
  Router(SchedulerClient& scheduler, std::shared_ptr<prometheus::Registry> registry);

  // Thread-safe; may block on an upstream call bounded by its deadline.
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Health();

  SchedulerClient& scheduler_;
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace autosync::gateway
