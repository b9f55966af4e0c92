#include "common/status_macros.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace autosync::common {
namespace {

using ::autosync::testing::IsOk;
using ::autosync::testing::IsOkAndHolds;
using ::autosync::testing::StatusIs;

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::Status Check(bool ok) { return ok ? absl::OkStatus() : absl::NotFoundError("missing"); }

absl::StatusOr<int> Quarter(int n, int* steps) {
  AUTOSYNC_ASSIGN_OR_RETURN(const int half, Half(n));
  ++*steps;
  int quarter = 0;
  AUTOSYNC_ASSIGN_OR_RETURN(quarter, Half(half));  // an existing lvalue
  ++*steps;
  return quarter;
}

absl::Status Both(bool a, bool b, int* steps) {
  AUTOSYNC_RETURN_IF_ERROR(Check(a));
  ++*steps;
  AUTOSYNC_RETURN_IF_ERROR(Check(b));
  ++*steps;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnAssignsOrReturnsTheFirstError) {
  int steps = 0;
  EXPECT_THAT(Quarter(8, &steps), IsOkAndHolds(2));
  EXPECT_EQ(steps, 2);
  steps = 0;
  EXPECT_THAT(Quarter(6, &steps), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
  EXPECT_EQ(steps, 1);  // stopped at the second step
  steps = 0;
  EXPECT_THAT(Quarter(5, &steps), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(steps, 0);
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int steps = 0;
  EXPECT_THAT(Both(true, true, &steps), IsOk());
  EXPECT_EQ(steps, 2);
  steps = 0;
  EXPECT_THAT(Both(true, false, &steps), StatusIs(absl::StatusCode::kNotFound, "missing"));
  EXPECT_EQ(steps, 1);
  steps = 0;
  EXPECT_THAT(Both(false, true, &steps), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(steps, 0);
}

TEST(StatusMacrosTest, EvaluatesTheExpressionOnce) {
  int calls = 0;
  const auto counted = [&calls]() -> absl::StatusOr<std::string> {
    ++calls;
    return std::string("x");
  };
  const auto use = [&]() -> absl::Status {
    AUTOSYNC_ASSIGN_OR_RETURN(std::string value, counted());
    AUTOSYNC_RETURN_IF_ERROR(value == "x" ? absl::OkStatus() : absl::InternalError("value"));
    return absl::OkStatus();
  };
  EXPECT_THAT(use(), IsOk());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace autosync::common
