// Fuzzes the cron parser and the next-fire search (scheduler-service/cron.h). Input: one byte
// choosing a time zone, eight bytes of start time, the rest the expression. Invariants:
// a parsed expression reparses to the same schedule; NextAfter answers strictly later, at a
// local time that matches (wildcard schedules) or at a matching/skipped local time (fixed-time);
// in UTC no minute in between matches; PreviewSchedule's NextFires is strictly increasing.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "scheduler-service/cron.h"

namespace {

using autosync::scheduler::CronSchedule;

// Zones with the interesting transitions: none, northern and southern DST, a 30-minute offset
// with DST, a zone that skipped a whole day (Apia 2011) and one with a negative DST.
constexpr std::array<const char*, 7> kZones = {"",
                                               "America/New_York",
                                               "Europe/London",
                                               "Australia/Lord_Howe",
                                               "Pacific/Apia",
                                               "Europe/Dublin",
                                               "Australia/Sydney"};

void Fail(const char* what, const std::string& expr) {
  std::fprintf(stderr, "cron invariant violated: %s for \"%s\"\n", what, expr.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const char* zone_name = kZones[in.ConsumeIntegralInRange<size_t>(0, kZones.size() - 1)];
  // 1970..2100: the range schedules are actually asked about.
  const int64_t start_seconds = in.ConsumeIntegralInRange<int64_t>(0, int64_t{4102444800});
  const std::string expr = in.ConsumeRemainingBytesAsString();

  absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(expr);
  if (!schedule.ok()) {
    if (schedule.status().code() != absl::StatusCode::kInvalidArgument)
      Fail("non-INVALID error", expr);
    return 0;
  }
  if (expr.size() > autosync::scheduler::kMaxCronExpressionLength) Fail("over-long accepted", expr);

  // expression() is the trimmed input and reparses to the same schedule.
  absl::StatusOr<CronSchedule> again = CronSchedule::Parse(schedule->expression());
  if (!again.ok()) Fail("expression() does not reparse", expr);
  if (again->fixed_time() != schedule->fixed_time()) Fail("reparse changed fixed_time", expr);

  absl::StatusOr<absl::TimeZone> tz = autosync::scheduler::LoadZone(zone_name);
  if (!tz.ok()) return 0;  // tzdata missing on this machine: nothing more to check
  const absl::Time after = absl::FromUnixSeconds(start_seconds);

  absl::StatusOr<absl::Time> next = schedule->NextAfter(after, *tz);
  if (!next.ok()) {
    if (next.status().code() != absl::StatusCode::kNotFound)
      Fail("NextAfter error not NOT_FOUND", expr);
    return 0;
  }
  if (*next <= after) Fail("NextAfter not strictly after", expr);
  if (*next == absl::InfiniteFuture()) Fail("NextAfter infinite", expr);
  const absl::CivilMinute local(tz->At(*next).cs);
  const bool matches = schedule->Matches(local);
  if (again->Matches(local) != matches) Fail("reparsed schedule matches differently", expr);
  if (!schedule->fixed_time() && !matches) Fail("wildcard fire at a non-matching minute", expr);
  if (schedule->fixed_time() && !matches) {
    // Only allowed at a DST transition: the local time that matched was skipped.
    absl::TimeZone::CivilTransition transition;
    if (!tz->PrevTransition(*next + absl::Seconds(1), &transition) ||
        tz->At(transition.to).trans != *next) {
      Fail("fixed-time fire neither matching nor at a transition", expr);
    }
  }
  // In UTC every minute exists once: nothing between `after` and the fire may match. Checked
  // only for short gaps to keep each run cheap.
  if (tz->name() == "UTC" && *next - after <= absl::Hours(48)) {
    for (absl::CivilMinute m = absl::CivilMinute(tz->At(after).cs) + 1; m < local; ++m) {
      if (schedule->Matches(m)) Fail("skipped an earlier matching minute", expr);
    }
  }

  absl::StatusOr<std::vector<absl::Time>> fires =
      autosync::scheduler::NextFires(*schedule, *tz, after, 5);
  if (fires.ok()) {
    if (fires->empty() || fires->front() != *next) Fail("NextFires disagrees with NextAfter", expr);
    for (size_t i = 1; i < fires->size(); ++i) {
      if ((*fires)[i] <= (*fires)[i - 1]) Fail("NextFires not increasing", expr);
    }
  }
  return 0;
}
