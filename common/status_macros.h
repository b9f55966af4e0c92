// AUTOSYNC_ASSIGN_OR_RETURN / AUTOSYNC_RETURN_IF_ERROR for every service: propagate a non-OK
// absl::Status out of the enclosing function (which must return Status or StatusOr).
// Header-only (absl only): any target may include it without linking anything.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AUTOSYNC_STATUS_CONCAT_INNER(a, b) a##b
#define AUTOSYNC_STATUS_CONCAT(a, b) AUTOSYNC_STATUS_CONCAT_INNER(a, b)
#define AUTOSYNC_STATUS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                          \
  if (!tmp.ok()) return std::move(tmp).status();              \
  lhs = *std::move(tmp)

// `lhs` may be a declaration (`int x`) or an existing lvalue (`order.id`).
#define AUTOSYNC_ASSIGN_OR_RETURN(lhs, expr)                                                   \
  AUTOSYNC_STATUS_ASSIGN_OR_RETURN_IMPL(AUTOSYNC_STATUS_CONCAT(autosync_status_or_, __LINE__), \
                                        lhs, expr)

#define AUTOSYNC_RETURN_IF_ERROR(expr)                                    \
  do {                                                                    \
    if (absl::Status autosync_status_ = (expr); !autosync_status_.ok()) { \
      return autosync_status_;                                            \
    }                                                                     \
  } while (false)
