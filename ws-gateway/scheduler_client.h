// The gateway's connection to the scheduler-service: one channel, reused stubs, deadlines on
// every call. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}

namespace autosync::gateway {

class SchedulerClient {
 public:
  virtual ~SchedulerClient() = default;
  // grpc.health.v1 Check of the scheduler; OK when SERVING, UNAVAILABLE with the reason otherwise.
  virtual absl::Status CheckHealth() = 0;
};

std::unique_ptr<SchedulerClient> MakeGrpcSchedulerClient(const std::string& target,
                                                         absl::Duration timeout);

}  // namespace autosync::gateway
