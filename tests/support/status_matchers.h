// gMock matchers for absl::Status and absl::StatusOr<T>, for every test:
//   EXPECT_THAT(status, IsOk());
//   EXPECT_THAT(result, StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(result, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("port")));
//   EXPECT_THAT(result, IsOkAndHolds(Eq(42)));
// On a mismatch the failure message shows the whole status. Header-only (gMock + absl); the
// matchers hold only copies of their arguments, so they are as thread-safe as those are.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace autosync::testing {
namespace status_internal {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace status_internal

// Matches an OK absl::Status or an absl::StatusOr<T> that holds a value.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = status_internal::StatusOf(arg);
  if (!status.ok()) *result_listener << "whose status is " << status;
  return status.ok();
}

// Matches a Status / StatusOr whose code is `code` and whose message matches `message_matcher`
// (a string or a matcher of std::string, such as HasSubstr("...")).
MATCHER_P2(StatusIs, code, message_matcher,
           (negation ? "has not status " : "has status ") +
               absl::StatusCodeToString(static_cast<absl::StatusCode>(code))) {
  const absl::Status& status = status_internal::StatusOf(arg);
  if (status.code() != code) {
    *result_listener << "whose status is " << status;
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// Matches a Status / StatusOr whose code is `code`, whatever its message.
inline auto StatusIs(absl::StatusCode code) { return StatusIs(code, ::testing::_); }

// Matches an absl::StatusOr<T> that holds a value matching `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher,
          negation ? "is not OK or holds a value that does not match"
                   : "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace autosync::testing
