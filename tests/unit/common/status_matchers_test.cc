#include "tests/support/status_matchers.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::testing {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

// Runs `matcher` on `value` and returns its explanation (what a failing test would print).
template <typename M, typename T>
std::string Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  ::testing::ExplainMatchResult(matcher, value, &listener);
  return listener.str();
}

TEST(StatusMatchersTest, IsOkMatchesOkStatusAndStatusOrWithAValue) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(absl::InternalError("boom"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::NotFoundError("gone")), Not(IsOk()));
  EXPECT_THAT(Explain(IsOk(), absl::InternalError("boom")), HasSubstr("boom"));
}

TEST(StatusMatchersTest, StatusIsComparesTheCodeAndOptionallyTheMessage) {
  const absl::Status not_found = absl::NotFoundError("no store s1");
  EXPECT_THAT(not_found, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(not_found, StatusIs(absl::StatusCode::kNotFound, "no store s1"));
  EXPECT_THAT(not_found, StatusIs(absl::StatusCode::kNotFound, HasSubstr("s1")));
  EXPECT_THAT(not_found, Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(not_found, Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("s2"))));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::StatusOr<int>(absl::UnavailableError("down")),
              StatusIs(absl::StatusCode::kUnavailable, "down"));
  EXPECT_THAT(absl::StatusOr<int>(1), Not(StatusIs(absl::StatusCode::kUnavailable)));
  EXPECT_THAT(Explain(StatusIs(absl::StatusCode::kInvalidArgument), not_found),
              HasSubstr("no store s1"));
}

TEST(StatusMatchersTest, IsOkAndHoldsMatchesTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(42), IsOkAndHolds(42));
  EXPECT_THAT(absl::StatusOr<std::string>("abc"), IsOkAndHolds(HasSubstr("b")));
  EXPECT_THAT(absl::StatusOr<int>(41), Not(IsOkAndHolds(Eq(42))));
  const absl::StatusOr<int> failed = absl::DeadlineExceededError("slow");
  EXPECT_THAT(failed, Not(IsOkAndHolds(42)));
  EXPECT_THAT(Explain(IsOkAndHolds(42), failed), HasSubstr("slow"));
}

}  // namespace
}  // namespace autosync::testing
