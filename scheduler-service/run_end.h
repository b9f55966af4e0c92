// What the end of a RunSync stream means for the run: the pure decision behind
// RunExecutor, unit-tested alone (tests/unit/scheduler-service/run_end_test.cc).
//
// A stream ends in one of these ways:
//  - the worker sent COMPLETED or FAILED: recorded as sent; a FAILED with `retryable` (the
//    source or the database was unavailable) is retried later with backoff (RetryBackoff);
//  - the worker refused before starting (RESOURCE_EXHAUSTED, or UNAVAILABLE before any event):
//    the run goes back to the queue, in the same place, after RefusalBackoff -- no thread
//    waits; after kMaxRefusals it fails;
//  - the stream broke after the worker started (it died, its pod went away) or this replica
//    is stopping: recorded failed with the reason, and a new run is queued at once (pages
//    committed so far are kept, the new run resumes from the stored cursor);
//  - the deadline passed, the store was deleted, or anything else: recorded failed.
// Retries and follow-ups stop after kMaxAttempts runs in a row of the same store; the next
// tick or trigger decides then.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace autosync::scheduler {

inline constexpr int kMaxAttempts = 4;   // a first run and three retries or follow-ups
inline constexpr int kMaxRefusals = 30;  // about 4 minutes of RefusalBackoff

struct StreamEnd {
  bool accepted = false;                          // the worker sent at least one event
  bool terminal = false;                          // COMPLETED or FAILED arrived
  bool completed = false;                         // the terminal event was COMPLETED
  bool retryable = false;                         // the FAILED event said its cause may pass
  std::string terminal_error;                     // the FAILED event's error
  absl::StatusCode code = absl::StatusCode::kOk;  // the RPC's final status
  std::string message;                            // and its message
  bool stopping = false;                          // this replica is shutting down
  bool deadline_passed = false;                   // the run's budget is spent
  int attempt = 1;
  int refusals = 0;            // before this stream
  absl::Duration run_timeout;  // for the message
};

enum class RunNext {
  kNothing,     // recorded; the next tick or trigger decides
  kGiveBack,    // not recorded: back to the queue after `delay`
  kRetryLater,  // recorded failed; a new run (attempt + 1) queued after `delay`
  kFollowUp,    // recorded failed; a new run (attempt + 1) queued at once
};

struct RunEnd {
  // "completed" or "failed" (empty for kGiveBack: the row is not finished).
  std::string status;
  std::string error;
  // The executor writes the FAILED event itself (the worker sent no terminal event).
  bool synthesize_failure = false;
  RunNext next = RunNext::kNothing;
  absl::Duration delay = absl::ZeroDuration();
};

RunEnd DecideRunEnd(const StreamEnd& end);

}  // namespace autosync::scheduler
