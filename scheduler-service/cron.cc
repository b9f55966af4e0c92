#include "scheduler-service/cron.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace autosync::scheduler {
namespace {

enum class FieldNames { kNone, kMonths, kWeekdays };

struct FieldSpec {
  const char* name;
  int min;
  int max;
  FieldNames names;
};

// Field order of the expression. Day-of-week accepts 7 (Sunday again) and folds it onto 0.
constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, FieldNames::kNone},
    {"hour", 0, 23, FieldNames::kNone},
    {"day-of-month", 1, 31, FieldNames::kNone},
    {"month", 1, 12, FieldNames::kMonths},
    {"day-of-week", 0, 7, FieldNames::kWeekdays},
}};

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"sun", "mon", "tue", "wed",
                                                           "thu", "fri", "sat"};

struct Macro {
  std::string_view name;
  std::string_view fields;
};
constexpr std::array<Macro, 7> kMacros = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0),
// which does not convert from std::string_view; the few string helpers we need are below.

// Tokens are user input and end up in logs and gRPC messages: escape anything unprintable.
std::string Escape(std::string_view s) {
  return absl::CHexEscape(absl::string_view(s.data(), s.size()));
}

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

std::string_view StripSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on runs of whitespace; no empty pieces.
std::vector<std::string_view> SplitFields(std::string_view s) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    const size_t start = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

// Splits on every comma, keeping empty pieces (so "1,,2" can be refused).
std::vector<std::string_view> SplitList(std::string_view s) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) {
      items.push_back(s.substr(start));
      return items;
    }
    items.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

absl::Status FieldError(const FieldSpec& field, std::string_view token, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrFormat("cron: %s field: \"%s\" %s", field.name,
                                                    Escape(token), std::string(problem)));
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Parses a number or (in the month and weekday fields) a three-letter name. `range_end` makes
// the name SUN mean 7, so that "FRI-SUN" is the range 5-7 rather than an inverted one.
absl::StatusOr<int> ParseValue(const FieldSpec& field, std::string_view token, bool range_end) {
  if (AllDigits(token)) {
    // More than three digits is out of range for every field, and stops int overflow early.
    int value = field.max + 1;
    if (token.size() <= 3) {
      value = 0;
      for (char c : token) value = value * 10 + (c - '0');
    }
    if (value < field.min || value > field.max) {
      return FieldError(field, token,
                        absl::StrFormat("is out of range %d-%d", field.min, field.max));
    }
    return value;
  }
  if (field.names == FieldNames::kMonths) {
    for (size_t i = 0; i < kMonthNames.size(); ++i) {
      if (EqualsIgnoreCase(token, kMonthNames[i])) return static_cast<int>(i) + 1;
    }
    return FieldError(field, token, "is not a number or a month name (JAN-DEC)");
  }
  if (field.names == FieldNames::kWeekdays) {
    for (size_t i = 0; i < kWeekdayNames.size(); ++i) {
      if (EqualsIgnoreCase(token, kWeekdayNames[i])) {
        return (i == 0 && range_end) ? 7 : static_cast<int>(i);
      }
    }
    return FieldError(field, token, "is not a number or a weekday name (SUN-SAT)");
  }
  return FieldError(field, token, "is not a number");
}

// Parses one comma-separated field into a set of values (bit v = value v).
absl::StatusOr<std::bitset<64>> ParseField(const FieldSpec& field, std::string_view text) {
  std::bitset<64> values;
  for (std::string_view item : SplitList(text)) {
    if (item.empty()) return FieldError(field, text, "has an empty list item");
    std::string_view base = item;
    std::optional<std::string_view> step_text;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      step_text = item.substr(slash + 1);
    }
    int low = field.min;
    int high = field.max;
    if (base != "*") {
      if (base.empty()) return FieldError(field, item, "has no value before the step");
      const size_t dash = base.find('-');
      if (dash == std::string_view::npos) {
        absl::StatusOr<int> value = ParseValue(field, base, /*range_end=*/false);
        if (!value.ok()) return value.status();
        // "5/10" steps from 5 to the field's end, as in most crons since Vixie.
        low = *value;
        high = step_text.has_value() ? field.max : *value;
      } else {
        const std::string_view first = base.substr(0, dash);
        const std::string_view last = base.substr(dash + 1);
        if (first.empty() || last.empty()) {
          return FieldError(field, item, "is a range with a missing end");
        }
        absl::StatusOr<int> low_value = ParseValue(field, first, /*range_end=*/false);
        if (!low_value.ok()) return low_value.status();
        absl::StatusOr<int> high_value = ParseValue(field, last, /*range_end=*/true);
        if (!high_value.ok()) return high_value.status();
        low = *low_value;
        high = *high_value;
        if (low > high) return FieldError(field, item, "is a range that ends before it starts");
      }
    }
    int step = 1;
    if (step_text.has_value()) {
      if (!AllDigits(*step_text)) return FieldError(field, item, "has a step that is not a number");
      if (step_text->size() > 3) return FieldError(field, item, "has a step that is too large");
      step = 0;
      for (char c : *step_text) step = step * 10 + (c - '0');
      if (step == 0) return FieldError(field, item, "has a step of 0");
    }
    for (int v = low; v <= high; v += step) values.set(static_cast<size_t>(v));
  }
  return values;
}

template <size_t N>
std::bitset<N> Narrow(const std::bitset<64>& wide) {
  std::bitset<N> narrow;
  for (size_t i = 0; i < N; ++i) narrow[i] = wide[i];
  return narrow;
}

// The first set bit at or after `from`, or -1.
template <size_t N>
int NextSetBit(const std::bitset<N>& bits, int from) {
  for (size_t i = static_cast<size_t>(from); i < N; ++i) {
    if (bits[i]) return static_cast<int>(i);
  }
  return -1;
}

// Cron numbers weekdays from Sunday = 0; Abseil from Monday = 0.
int CronWeekday(absl::CivilDay day) { return (static_cast<int>(absl::GetWeekday(day)) + 1) % 7; }

absl::CivilMinute AddYears(absl::CivilMinute m, int years) {
  // The constructor normalises Feb 29 of a non-leap year to Mar 1, which is fine for a bound.
  return absl::CivilMinute(m.year() + years, m.month(), m.day(), m.hour(), m.minute());
}

absl::Status NeverFires(const std::string& expression, absl::Time after, const absl::TimeZone& tz) {
  return absl::NotFoundError(absl::StrFormat("cron: \"%s\" does not fire within %d years after %s",
                                             Escape(expression), kCronSearchHorizonYears,
                                             absl::FormatTime(absl::RFC3339_sec, after, tz)));
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  if (expr.size() > kMaxCronExpressionLength) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cron: expression is %d bytes long; the limit is %d", expr.size(),
                        kMaxCronExpressionLength));
  }
  const std::string_view trimmed = StripSpace(expr);
  if (trimmed.empty()) return absl::InvalidArgumentError("cron: expression is empty");

  const std::vector<std::string_view> fields = SplitFields(trimmed);
  if (fields.front().front() == '@') {
    if (fields.size() != 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "cron: \"%s\" must stand alone, got %d fields", Escape(fields.front()), fields.size()));
    }
    for (const Macro& macro : kMacros) {
      if (EqualsIgnoreCase(fields.front(), macro.name)) {
        absl::StatusOr<CronSchedule> expanded = Parse(macro.fields);
        if (expanded.ok()) expanded->expression_ = std::string(trimmed);
        return expanded;
      }
    }
    return absl::InvalidArgumentError(absl::StrFormat(
        "cron: unknown macro \"%s\" (known: @yearly @annually @monthly @weekly @daily @midnight "
        "@hourly)",
        Escape(fields.front())));
  }
  if (fields.size() != kFields.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cron: expected %d fields, got %d", kFields.size(), fields.size()));
  }

  std::array<std::bitset<64>, 5> sets;
  for (size_t i = 0; i < kFields.size(); ++i) {
    absl::StatusOr<std::bitset<64>> set = ParseField(kFields[i], fields[i]);
    if (!set.ok()) return set.status();
    sets[i] = *set;
  }

  CronSchedule schedule;
  schedule.expression_ = std::string(trimmed);
  schedule.minutes_ = Narrow<60>(sets[0]);
  schedule.hours_ = Narrow<24>(sets[1]);
  schedule.days_of_month_ = Narrow<32>(sets[2]);
  schedule.months_ = Narrow<13>(sets[3]);
  schedule.days_of_week_ = Narrow<7>(sets[4]);
  if (sets[4][7]) schedule.days_of_week_.set(0);  // 7 is Sunday too
  // Vixie cron decides both rules on the field's first character, not on the set it denotes:
  // "*/2" counts as a star, "0-59" does not.
  schedule.minute_star_ = fields[0].front() == '*';
  schedule.hour_star_ = fields[1].front() == '*';
  schedule.dom_star_ = fields[2].front() == '*';
  schedule.dow_star_ = fields[4].front() == '*';
  return schedule;
}

bool CronSchedule::DayMatches(absl::CivilDay day) const {
  const bool dom = days_of_month_[static_cast<size_t>(day.day())];
  const bool dow = days_of_week_[static_cast<size_t>(CronWeekday(day))];
  return (dom_star_ || dow_star_) ? (dom && dow) : (dom || dow);
}

bool CronSchedule::Matches(absl::CivilMinute local) const {
  return months_[static_cast<size_t>(local.month())] && DayMatches(absl::CivilDay(local)) &&
         hours_[static_cast<size_t>(local.hour())] && minutes_[static_cast<size_t>(local.minute())];
}

std::optional<absl::CivilMinute> CronSchedule::NextMatch(absl::CivilMinute from,
                                                         absl::CivilMinute limit) const {
  // Skip a whole month, day or hour at a time when that field does not match, so a search
  // costs at most a few hundred steps per year instead of half a million minutes.
  absl::CivilMinute c = from;
  while (c <= limit) {
    if (!months_[static_cast<size_t>(c.month())]) {
      c = absl::CivilMinute(absl::CivilMonth(c) + 1);
      continue;
    }
    if (!DayMatches(absl::CivilDay(c))) {
      c = absl::CivilMinute(absl::CivilDay(c) + 1);
      continue;
    }
    const int hour = NextSetBit(hours_, c.hour());
    if (hour < 0) {
      c = absl::CivilMinute(absl::CivilDay(c) + 1);
      continue;
    }
    if (hour != c.hour()) c = absl::CivilMinute(c.year(), c.month(), c.day(), hour, 0);
    const int minute = NextSetBit(minutes_, c.minute());
    if (minute < 0) {
      c = absl::CivilMinute(absl::CivilHour(c) + 1);
      continue;
    }
    c = absl::CivilMinute(c.year(), c.month(), c.day(), c.hour(), minute);
    if (c > limit) break;
    return c;
  }
  return std::nullopt;
}

absl::StatusOr<absl::Time> CronSchedule::NextAfter(absl::Time after,
                                                   const absl::TimeZone& tz) const {
  if (after == absl::InfiniteFuture() || after == absl::InfinitePast()) {
    return absl::InvalidArgumentError("cron: cannot compute a fire time after an infinite time");
  }
  const absl::CivilMinute limit =
      AddYears(absl::CivilMinute(tz.At(after).cs), kCronSearchHorizonYears);
  absl::StatusOr<absl::Time> next =
      fixed_time() ? NextFixedTime(after, tz, limit) : NextWallClock(after, tz, limit);
  if (next.ok() && *next == absl::InfiniteFuture()) return NeverFires(expression_, after, tz);
  return next;
}

// Fixed-time: walk matching local times in order and map each to one instant: its first
// occurrence when repeated, the transition when skipped. That mapping never goes backwards as
// local time advances, so the first mapped instant after `after` is the answer. Local times
// from the minute containing `after` onwards are enough: an earlier one maps to `after` or
// before it.
absl::StatusOr<absl::Time> CronSchedule::NextFixedTime(absl::Time after, const absl::TimeZone& tz,
                                                       absl::CivilMinute limit) const {
  absl::CivilMinute from(tz.At(after).cs);
  while (true) {
    const std::optional<absl::CivilMinute> local = NextMatch(from, limit);
    if (!local.has_value()) return NeverFires(expression_, after, tz);
    const absl::TimeZone::TimeInfo info = tz.At(absl::CivilSecond(*local));
    const absl::Time instant =
        info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
    if (instant > after) return instant;
    // Only local times in the minute of `after` or in a repeated span we are already past
    // land here, so this loop runs a handful of times.
    from = *local + 1;
  }
}

// Wildcard: the fire instants are the instants whose local time matches. Between two offset
// changes local time runs in step with absolute time, so search each such segment with its own
// offset; a candidate at or beyond the segment's end is dropped, and the search resumes from
// the transition itself (which may fire: 03:00 EDT right after the spring-forward gap).
absl::StatusOr<absl::Time> CronSchedule::NextWallClock(absl::Time after, const absl::TimeZone& tz,
                                                       absl::CivilMinute limit) const {
  absl::Time segment_start = after;
  bool inclusive = false;  // whether segment_start itself may fire
  // Each pass moves to a later transition; zones have at most a few per year.
  for (int pass = 0; pass < 64 * kCronSearchHorizonYears; ++pass) {
    const absl::TimeZone::CivilInfo info = tz.At(segment_start);
    absl::CivilMinute from(info.cs);
    if (!inclusive || absl::CivilSecond(from) != info.cs ||
        info.subsecond != absl::ZeroDuration()) {
      from += 1;
    }
    const std::optional<absl::CivilMinute> local = NextMatch(from, limit);
    if (!local.has_value()) return NeverFires(expression_, after, tz);
    const absl::Time candidate = absl::FromCivil(absl::CivilSecond(*local), absl::UTCTimeZone()) -
                                 absl::Seconds(info.offset);
    absl::TimeZone::CivilTransition transition;
    if (tz.NextTransition(segment_start, &transition)) {
      const absl::Time transition_instant = tz.At(transition.to).trans;
      if (transition_instant <= candidate) {
        segment_start = transition_instant;
        inclusive = true;
        continue;
      }
    }
    return candidate;
  }
  return absl::InternalError(
      absl::StrFormat("cron: too many time-zone transitions searching \"%s\" in %s",
                      Escape(expression_), tz.name()));
}

absl::StatusOr<std::vector<absl::Time>> NextFires(const CronSchedule& schedule,
                                                  const absl::TimeZone& tz, absl::Time from,
                                                  int count) {
  if (count < 0 || count > kMaxNextFires) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cron: fire count %d is out of range 0-%d", count, kMaxNextFires));
  }
  std::vector<absl::Time> fires;
  fires.reserve(static_cast<size_t>(count));
  absl::Time after = from;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<absl::Time> next = schedule.NextAfter(after, tz);
    if (!next.ok()) return next.status();
    fires.push_back(*next);
    after = *next;
  }
  return fires;
}

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  if (name.empty()) return absl::UTCTimeZone();
  // Abseil maps a name onto a file under the zoneinfo directory (and "localtime" onto the host's
  // zone), so accept only what IANA names are made of: no dots, no leading slash.
  bool plain = name.size() <= 64 && name.front() != '/' && name != "localtime";
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != '+') {
      plain = false;
    }
  }
  absl::TimeZone tz;
  if (!plain || !absl::LoadTimeZone(std::string(name), &tz)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown time zone \"%s\" (expected an IANA name such as \"Europe/London\")",
        Escape(name.substr(0, 64))));
  }
  return tz;
}

}  // namespace autosync::scheduler
