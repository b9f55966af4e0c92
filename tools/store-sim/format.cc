#include "tools/store-sim/format.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace autosync::storesim {

namespace {

// Days since 1970-01-01 to the proleptic Gregorian (year, month, day): Howard Hinnant's
// civil_from_days, exact for every int64 day a store can hold.
struct Ymd {
  int64_t year;
  int month;
  int day;
};
Ymd CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

void Put2(char* p, int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// "YYYY-MM-DDTHH:MM:SS" (19 characters) of local seconds; years outside 0..9999 fall back to
// StrFormat, which no generated store reaches.
void AppendLocalTime(std::string& out, int64_t local) {
  const int64_t day = FloorDiv(local, 86400);
  const int64_t sec = local - day * 86400;
  const Ymd ymd = CivilFromDays(day);
  if (ymd.year < 0 || ymd.year > 9999) {
    out += absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", ymd.year, ymd.month, ymd.day,
                           sec / 3600, (sec / 60) % 60, sec % 60);
    return;
  }
  char buf[19];
  Put2(buf, ymd.year / 100);
  Put2(buf + 2, ymd.year % 100);
  buf[4] = '-';
  Put2(buf + 5, ymd.month);
  buf[7] = '-';
  Put2(buf + 8, ymd.day);
  buf[10] = 'T';
  Put2(buf + 11, sec / 3600);
  buf[13] = ':';
  Put2(buf + 14, (sec / 60) % 60);
  buf[16] = ':';
  Put2(buf + 17, sec % 60);
  out.append(buf, sizeof(buf));
}

}  // namespace

void AppendShopifyTime(std::string& out, int64_t t, int offset_minutes) {
  AppendLocalTime(out, t + int64_t{offset_minutes} * 60);
  const int off = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char buf[6];
  buf[0] = offset_minutes < 0 ? '-' : '+';
  Put2(buf + 1, off / 60 % 100);
  buf[3] = ':';
  Put2(buf + 4, off % 60);
  out.append(buf, sizeof(buf));
}

void AppendUtcTime(std::string& out, int64_t t) {
  AppendLocalTime(out, t);
  out.push_back('Z');
}

std::string FormatShopifyTime(int64_t t, int offset_minutes) {
  // Hand-rolled rather than absl::FormatTime: pages format four timestamps per order.
  std::string s;
  s.reserve(25);
  AppendShopifyTime(s, t, offset_minutes);
  return s;
}

std::string FormatUtcTime(int64_t t) {
  std::string s;
  s.reserve(20);
  AppendUtcTime(s, t);
  return s;
}

std::string FormatDay(int64_t day) {
  absl::CivilDay cd = absl::CivilDay(1970, 1, 1) + day;
  return absl::StrFormat("%04d-%02d-%02d", cd.year(), cd.month(), cd.day());
}

std::string FormatTrimmedCents(int64_t cents) {
  std::string s = FormatMoney(cents);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

absl::StatusOr<int64_t> ParseTimeParam(absl::string_view s, int offset_minutes) {
  std::string err;
  absl::Time t;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    return absl::ToUnixSeconds(t);
  }
  absl::CivilDay day;
  if (s.size() == 10 && absl::ParseCivilTime(s, &day)) {
    return (day - absl::CivilDay(1970, 1, 1)) * 86400 - int64_t{offset_minutes} * 60;
  }
  if (s.find(' ') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid timestamp '", s, "' (a '+' in the offset must be URL-encoded as %2B)"));
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid timestamp '", s, "'"));
}

absl::StatusOr<int64_t> ParseDay(absl::string_view s) {
  absl::CivilDay day;
  if (s.size() != 10 || !absl::ParseCivilTime(s, &day)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid date '", s, "'"));
  }
  return day - absl::CivilDay(1970, 1, 1);
}

}  // namespace autosync::storesim
