#include "ws-gateway/scheduler_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace autosync::gateway {
namespace {

class GrpcSchedulerClient final : public SchedulerClient {
 public:
  GrpcSchedulerClient(const std::string& target, absl::Duration timeout)
      : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
        health_(grpc::health::v1::Health::NewStub(channel_)),
        timeout_(timeout) {}

  absl::Status CheckHealth() override {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health_->Check(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("scheduler unreachable: ", status.error_message()));
    }
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::UnavailableError(absl::StrCat(
          "scheduler not serving: ",
          grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
    }
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  const absl::Duration timeout_;
};

}  // namespace

std::unique_ptr<SchedulerClient> MakeGrpcSchedulerClient(const std::string& target,
                                                         absl::Duration timeout) {
  return std::make_unique<GrpcSchedulerClient>(target, timeout);
}

}  // namespace autosync::gateway
