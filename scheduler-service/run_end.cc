#include "scheduler-service/run_end.h"

#include "absl/strings/str_cat.h"
#include "scheduler-service/run_queue.h"

namespace autosync::scheduler {
namespace {

RunEnd Failed(std::string error) {
  RunEnd end;
  end.status = "failed";
  end.error = std::move(error);
  end.synthesize_failure = true;
  return end;
}

std::string BudgetMessage(const StreamEnd& end) {
  return absl::StrCat("the run exceeded its budget of ", absl::FormatDuration(end.run_timeout),
                      " (--run_timeout_seconds)");
}

// A new run may follow this one.
bool MayRetry(const StreamEnd& end) { return end.attempt < kMaxAttempts; }

}  // namespace

RunEnd DecideRunEnd(const StreamEnd& end) {
  if (end.terminal) {
    RunEnd out;
    out.status = end.completed ? "completed" : "failed";
    out.error = end.completed ? "" : end.terminal_error;
    if (!end.completed && end.retryable && MayRetry(end) && !end.stopping) {
      out.next = RunNext::kRetryLater;
      out.delay = RetryBackoff(end.attempt);
    }
    return out;
  }
  const std::string code = std::string(absl::StatusCodeToString(end.code));
  // The worker started the run and the stream broke, or this replica is going away with the
  // run in flight: the row ends failed and a new run takes over from the stored cursor.
  const bool broke = end.accepted && end.code != absl::StatusCode::kOk &&
                     end.code != absl::StatusCode::kCancelled &&
                     end.code != absl::StatusCode::kDeadlineExceeded;
  if (end.stopping) {
    RunEnd out = Failed(
        "the scheduler replica running this sync shut down; a new run was queued and another "
        "replica takes it");
    if (MayRetry(end)) out.next = RunNext::kFollowUp;
    return out;
  }
  if (broke) {
    RunEnd out = Failed(absl::StrCat(
        "the sync-worker stopped in the middle of the run (", code, ": ", end.message,
        "); pages committed so far are kept and a new run resumes from the stored cursor"));
    if (MayRetry(end)) out.next = RunNext::kFollowUp;
    return out;
  }
  const bool refused = !end.accepted && (end.code == absl::StatusCode::kResourceExhausted ||
                                         end.code == absl::StatusCode::kUnavailable);
  if (refused && !end.deadline_passed) {
    if (end.refusals + 1 >= kMaxRefusals) {
      return Failed(absl::StrCat("no sync-worker took the run after ", end.refusals + 1,
                                 " tries (last answer ", code, ": ", end.message, ")"));
    }
    RunEnd out;
    out.next = RunNext::kGiveBack;
    out.delay = RefusalBackoff(end.refusals + 1);
    return out;
  }
  if (end.deadline_passed || end.code == absl::StatusCode::kDeadlineExceeded) {
    return Failed(BudgetMessage(end));
  }
  if (end.code == absl::StatusCode::kCancelled) {
    return Failed("the run was cancelled (its store was deleted)");
  }
  if (end.code == absl::StatusCode::kOk) {
    return Failed("the worker ended the run without an outcome");
  }
  return Failed(absl::StrCat("sync-worker answered ", code, ": ", end.message));
}

}  // namespace autosync::scheduler
