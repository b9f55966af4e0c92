// The autosync.v1.Scheduler gRPC service. Issue #4 fills in the RPCs; until then every RPC
// answers UNIMPLEMENTED (the generated CallbackService default), which is honest to callers.
#pragma once

#include "autosync/v1/scheduler.grpc.pb.h"
#include "scheduler-service/config.h"

namespace autosync::scheduler {

class SchedulerService final : public autosync::v1::Scheduler::CallbackService {
 public:
  explicit SchedulerService(const SchedulerConfig& config) : config_(config) {}

 private:
  const SchedulerConfig& config_;
};

}  // namespace autosync::scheduler
