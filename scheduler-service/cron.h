// Cron expressions for store schedules: parsing of the classic 5-field syntax (Vixie cron rules),
// and computing fire instants in an IANA time zone, correct across DST changes the way cron(8)
// documents it. Pure logic: no I/O besides Abseil reading time-zone data in LoadZone().
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace autosync::scheduler {

// Longest accepted expression, in bytes. Real schedules are far shorter; the limit keeps a
// hostile UpsertStore/PreviewSchedule request from making us parse megabytes.
inline constexpr size_t kMaxCronExpressionLength = 256;

// How far past `after` NextAfter() looks before giving up. The rarest date a valid expression
// can ask for is Feb 29 on a given weekday (reachable only through the `*`-prefixed AND rule),
// which recurs every 28 years, or 40 across a skipped century leap day; 50 keeps every possible
// schedule firing while a never-firing one ("0 0 30 2 *") still ends quickly.
inline constexpr int kCronSearchHorizonYears = 50;

// Most fire instants NextFires() computes in one call (PreviewSchedule's input is a user's).
inline constexpr int kMaxNextFires = 1000;

// A parsed cron expression.
//
// Syntax: five whitespace-separated fields "minute hour day-of-month month day-of-week", each a
// comma-separated list of items `*`, `N`, `N-M`, optionally followed by `/step` (`*/15`,
// `1-30/5`; `5/10` means 5, 15, 25, ... up to the field's maximum). Months may be written
// JAN..DEC and weekdays SUN..SAT (any case); weekday 0 and 7 are both Sunday, and a range ending
// in the name SUN (`FRI-SUN`) ends on 7. The macros @hourly, @daily, @midnight, @weekly,
// @monthly, @yearly and @annually stand alone.
//
// Day rule (Vixie cron): when both day-of-month and day-of-week are restricted, a day matching
// EITHER fires ("0 0 13 * 5": every 13th and every Friday); when either field begins with `*`
// (even `*/2`), a day must match BOTH.
//
// DST rule (cron(8)): a schedule is a *wildcard* schedule when its minute field or its hour field
// begins with `*` (`*`, `*/n`, `*,5`; @hourly counts, being "0 * * * *"); every other schedule is
// a *fixed-time* schedule. Wildcard schedules follow the wall clock: they fire at every instant
// whose local time matches, so "0 * * * *" fires in both copies of a repeated hour, and local
// times skipped by a forward jump simply do not occur. Fixed-time schedules fire once per
// matching local time: a time that repeats fires at its first occurrence only, and a time that
// is skipped fires at the first valid instant after the gap, i.e. at the transition itself.
//
// Immutable value type; copies are cheap and safe to share across threads.
class CronSchedule final {
 public:
  // Parses `expr`. INVALID_ARGUMENT with a message naming the field and the offending token, e.g.
  // `cron: hour field: "25" is out of range 0-23` or `cron: expected 5 fields, got 3`.
  static absl::StatusOr<CronSchedule> Parse(std::string_view expr);

  // The first fire instant strictly after `after`, with the fields read as wall-clock time in
  // `tz` and the DST rule above. NOT_FOUND when the schedule does not fire within
  // kCronSearchHorizonYears (e.g. "0 0 30 2 *"); INVALID_ARGUMENT for an infinite `after`.
  absl::StatusOr<absl::Time> NextAfter(absl::Time after, const absl::TimeZone& tz) const;

  // Whether the five fields accept this local wall-clock minute (DST plays no part here).
  bool Matches(absl::CivilMinute local) const;

  // True for a fixed-time schedule, false for a wildcard one (see the DST rule above).
  bool fixed_time() const { return !minute_star_ && !hour_star_; }

  // The expression as given to Parse(), without leading and trailing whitespace.
  const std::string& expression() const { return expression_; }

 private:
  CronSchedule() = default;

  bool DayMatches(absl::CivilDay day) const;
  // First local minute >= `from` and <= `limit` that Matches(); nullopt when there is none.
  std::optional<absl::CivilMinute> NextMatch(absl::CivilMinute from, absl::CivilMinute limit) const;
  absl::StatusOr<absl::Time> NextFixedTime(absl::Time after, const absl::TimeZone& tz,
                                           absl::CivilMinute limit) const;
  absl::StatusOr<absl::Time> NextWallClock(absl::Time after, const absl::TimeZone& tz,
                                           absl::CivilMinute limit) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit 0 unused
  std::bitset<13> months_;         // bit 0 unused
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool minute_star_ = false;
  bool hour_star_ = false;
  bool dom_star_ = false;
  bool dow_star_ = false;
};

// The next `count` fire instants of `schedule` strictly after `from` (used by PreviewSchedule).
// INVALID_ARGUMENT when count is negative or above kMaxNextFires; NOT_FOUND as NextAfter().
absl::StatusOr<std::vector<absl::Time>> NextFires(const CronSchedule& schedule,
                                                  const absl::TimeZone& tz, absl::Time from,
                                                  int count);

// Loads an IANA time zone ("Europe/London"); "" means UTC. INVALID_ARGUMENT naming the zone
// when it is unknown or not a plain IANA name (no "..", no absolute paths, no "localtime").
absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

}  // namespace autosync::scheduler
