// Conversions between absl::Status (our code) and grpc::Status (the wire). Abseil's codes are
// gRPC's codes, so the mapping is a cast plus the message.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace autosync::common {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace autosync::common
