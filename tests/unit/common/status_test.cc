#include "common/status.h"

#include "gtest/gtest.h"

namespace autosync::common {
namespace {

TEST(StatusMappingTest, KeepsCodeAndMessageBothWays) {
  const std::vector<absl::Status> cases = {
      absl::InvalidArgumentError("bad store id \"X\""),
      absl::NotFoundError("no store acme"),
      absl::AlreadyExistsError("run r1 in flight"),
      absl::AbortedError("serialization"),
      absl::UnavailableError("database down"),
      absl::DeadlineExceededError("slow"),
      absl::PermissionDeniedError("token"),
      absl::ResourceExhaustedError("busy"),
      absl::UnimplementedError("later"),
      absl::CancelledError("cancelled"),
  };
  for (const absl::Status& s : cases) {
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(s.code())) << s;
    EXPECT_EQ(g.error_message(), s.message());
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
}

TEST(StatusMappingTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(StatusMappingTest, NamedCodesMatchTheWire) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("x")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace autosync::common
