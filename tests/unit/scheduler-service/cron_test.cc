// Tests for the cron engine. Every expected value below is written out by hand from the calendar
// and the tz database's published transitions (checked with `zdump -v -c 2024,2025 ZONE`), never
// computed by the code under test:
//   America/New_York    2024-03-10 02:00 EST -> 03:00 EDT at 07:00Z;
//                       2024-11-03 02:00 EDT -> 01:00 EST at 06:00Z
//   Europe/London       2024-03-31 01:00 GMT -> 02:00 BST at 01:00Z;
//                       2024-10-27 02:00 BST -> 01:00 GMT at 01:00Z
//   Australia/Lord_Howe 2024-04-07 02:00 +11 -> 01:30 +1030 at 2024-04-06 15:00Z;
//                       2024-10-06 02:00 +1030 -> 02:30 +11 at 2024-10-05 15:30Z
#include "scheduler-service/cron.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

class CronTest : public ::testing::Test {
 protected:
  static CronSchedule MustParse(const std::string& expr) {
    absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(expr);
    EXPECT_TRUE(schedule.ok()) << expr << ": " << schedule.status();
    if (!schedule.ok()) return *CronSchedule::Parse("0 0 1 1 *");
    return *schedule;
  }

  static absl::TimeZone Zone(const std::string& name) {
    absl::StatusOr<absl::TimeZone> tz = LoadZone(name);
    EXPECT_TRUE(tz.ok()) << tz.status();
    return tz.ok() ? *tz : absl::UTCTimeZone();
  }

  // The next `count` fires, or an empty list (with a test failure) on error.
  static std::vector<absl::Time> Fires(const std::string& expr, const std::string& zone,
                                       absl::Time from, int count) {
    absl::StatusOr<std::vector<absl::Time>> fires =
        NextFires(MustParse(expr), Zone(zone), from, count);
    EXPECT_TRUE(fires.ok()) << expr << " in " << zone << ": " << fires.status();
    return fires.ok() ? *fires : std::vector<absl::Time>{};
  }

  // Minutes of `hour` (a local wall-clock hour) that the expression accepts.
  static std::vector<int> MinutesIn(const std::string& expr, absl::CivilHour hour) {
    const CronSchedule schedule = MustParse(expr);
    std::vector<int> minutes;
    for (absl::CivilMinute m(hour); m < absl::CivilMinute(hour + 1); ++m) {
      if (schedule.Matches(m)) minutes.push_back(m.minute());
    }
    return minutes;
  }

  // Hours of `day` at minute 0 that the expression accepts.
  static std::vector<int> HoursIn(const std::string& expr, absl::CivilDay day) {
    const CronSchedule schedule = MustParse(expr);
    std::vector<int> hours;
    for (absl::CivilHour h(day); h < absl::CivilHour(day + 1); ++h) {
      if (schedule.Matches(absl::CivilMinute(h))) hours.push_back(h.hour());
    }
    return hours;
  }

  // Days (as "MM-DD") from `first` for `n` days whose midnight the expression accepts.
  static std::vector<std::string> DaysFrom(const std::string& expr, absl::CivilDay first, int n) {
    const CronSchedule schedule = MustParse(expr);
    std::vector<std::string> days;
    for (absl::CivilDay d = first; d < first + n; ++d) {
      if (schedule.Matches(absl::CivilMinute(d))) {
        days.push_back(absl::FormatCivilTime(d).substr(5));
      }
    }
    return days;
  }

  // Months of 2024 whose first day at midnight the expression accepts.
  static std::vector<int> MonthsOf2024(const std::string& expr) {
    const CronSchedule schedule = MustParse(expr);
    std::vector<int> months;
    for (int month = 1; month <= 12; ++month) {
      if (schedule.Matches(absl::CivilMinute(2024, month, 1, 0, 0))) months.push_back(month);
    }
    return months;
  }
};

// ---------------------------------------------------------------------------------------------
// Parsing: every syntax.

TEST_F(CronTest, StarMatchesEveryMinute) {
  EXPECT_EQ(MinutesIn("* * * * *", absl::CivilHour(2024, 5, 6, 7)).size(), 60u);
}

TEST_F(CronTest, SingleValuesListsRangesAndSteps) {
  const absl::CivilHour hour(2024, 5, 6, 7);
  EXPECT_THAT(MinutesIn("7 * * * *", hour), ElementsAre(7));
  EXPECT_THAT(MinutesIn("0 * * * *", hour), ElementsAre(0));
  EXPECT_THAT(MinutesIn("59 * * * *", hour), ElementsAre(59));
  EXPECT_THAT(MinutesIn("1,2,10-12 * * * *", hour), ElementsAre(1, 2, 10, 11, 12));
  EXPECT_THAT(MinutesIn("*/15 * * * *", hour), ElementsAre(0, 15, 30, 45));
  EXPECT_THAT(MinutesIn("1-30/5 * * * *", hour), ElementsAre(1, 6, 11, 16, 21, 26));
  EXPECT_THAT(MinutesIn("5/10 * * * *", hour), ElementsAre(5, 15, 25, 35, 45, 55));
  EXPECT_THAT(MinutesIn("50-59/20 * * * *", hour), ElementsAre(50));
  EXPECT_THAT(MinutesIn("*/100 * * * *", hour), ElementsAre(0));
  EXPECT_THAT(MinutesIn("58,3,3,58 * * * *", hour), ElementsAre(3, 58));
  EXPECT_THAT(MinutesIn("0-4,*/30,50-52/2 * * * *", hour), ElementsAre(0, 1, 2, 3, 4, 30, 50, 52));
}

TEST_F(CronTest, HourFieldTakesTheSameSyntax) {
  const absl::CivilDay day(2024, 5, 6);
  EXPECT_THAT(HoursIn("0 */6 * * *", day), ElementsAre(0, 6, 12, 18));
  EXPECT_THAT(HoursIn("0 9-17/4 * * *", day), ElementsAre(9, 13, 17));
  EXPECT_THAT(HoursIn("0 0,23 * * *", day), ElementsAre(0, 23));
  EXPECT_THAT(HoursIn("30 * * * *", day), IsEmpty());  // minute 0 never matches "30"
}

TEST_F(CronTest, MonthNamesAnyCaseAndNumbers) {
  EXPECT_THAT(MonthsOf2024("0 0 1 JAN,mar-May *"), ElementsAre(1, 3, 4, 5));
  EXPECT_THAT(MonthsOf2024("0 0 1 dec *"), ElementsAre(12));
  EXPECT_THAT(MonthsOf2024("0 0 1 Feb-3,OCT *"), ElementsAre(2, 3, 10));
  EXPECT_THAT(MonthsOf2024("0 0 1 */3 *"), ElementsAre(1, 4, 7, 10));
  EXPECT_THAT(MonthsOf2024("0 0 1 jan-dec/6 *"), ElementsAre(1, 7));
}

// The week 2024-01-07 (Sunday) .. 2024-01-13 (Saturday).
TEST_F(CronTest, WeekdayNamesAnyCaseAndSundayIsBothZeroAndSeven) {
  const absl::CivilDay sunday(2024, 1, 7);
  EXPECT_THAT(DaysFrom("0 0 * * 0", sunday, 7), ElementsAre("01-07"));
  EXPECT_THAT(DaysFrom("0 0 * * 7", sunday, 7), ElementsAre("01-07"));
  EXPECT_THAT(DaysFrom("0 0 * * sun", sunday, 7), ElementsAre("01-07"));
  EXPECT_THAT(DaysFrom("0 0 * * mon-FRI", sunday, 7),
              ElementsAre("01-08", "01-09", "01-10", "01-11", "01-12"));
  EXPECT_THAT(DaysFrom("0 0 * * 5-7", sunday, 7), ElementsAre("01-07", "01-12", "01-13"));
  EXPECT_THAT(DaysFrom("0 0 * * FRI-SUN", sunday, 7), ElementsAre("01-07", "01-12", "01-13"));
  EXPECT_THAT(DaysFrom("0 0 * * SAT-SUN", sunday, 7), ElementsAre("01-07", "01-13"));
  EXPECT_THAT(DaysFrom("0 0 * * SUN-SAT", sunday, 7).size(), 7u);
  EXPECT_THAT(DaysFrom("0 0 * * Tue,Thu", sunday, 7), ElementsAre("01-09", "01-11"));
  EXPECT_THAT(DaysFrom("0 0 * * MON/2", sunday, 7),  // 1,3,5,7
              ElementsAre("01-07", "01-08", "01-10", "01-12"));
}

TEST_F(CronTest, DayOfMonthField) {
  EXPECT_THAT(DaysFrom("0 0 1,15 * *", absl::CivilDay(2024, 1, 1), 31),
              ElementsAre("01-01", "01-15"));
  EXPECT_THAT(DaysFrom("0 0 28-31 * *", absl::CivilDay(2024, 2, 25), 7),
              ElementsAre("02-28", "02-29"));
  EXPECT_THAT(DaysFrom("0 0 */10 * *", absl::CivilDay(2024, 3, 1), 31),
              ElementsAre("03-01", "03-11", "03-21", "03-31"));
}

TEST_F(CronTest, ToleratesExtraWhitespaceAndKeepsTheTrimmedExpression) {
  const CronSchedule schedule = MustParse("  0\t 12  *   * *  ");
  EXPECT_EQ(schedule.expression(), "0\t 12  *   * *");
  EXPECT_TRUE(schedule.Matches(absl::CivilMinute(2024, 1, 1, 12, 0)));
  EXPECT_FALSE(schedule.Matches(absl::CivilMinute(2024, 1, 1, 12, 1)));
  EXPECT_FALSE(schedule.Matches(absl::CivilMinute(2024, 1, 1, 0, 0)));
}

TEST_F(CronTest, MacrosExpandAndKeepTheirName) {
  struct Case {
    std::string macro;
    std::string equivalent;
  };
  const std::vector<Case> cases = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}, {"@DAILY", "0 0 * * *"},
  };
  // A sample of minutes that tells the seven schedules apart.
  const std::vector<absl::CivilMinute> probes = {
      absl::CivilMinute(2024, 1, 1, 0, 0),  absl::CivilMinute(2024, 1, 1, 5, 0),
      absl::CivilMinute(2024, 1, 7, 0, 0),  absl::CivilMinute(2024, 2, 1, 0, 0),
      absl::CivilMinute(2024, 2, 2, 0, 0),  absl::CivilMinute(2024, 2, 2, 0, 1),
      absl::CivilMinute(2024, 3, 3, 13, 0),
  };
  for (const Case& c : cases) {
    const CronSchedule macro = MustParse(c.macro);
    const CronSchedule plain = MustParse(c.equivalent);
    EXPECT_EQ(macro.expression(), c.macro);
    EXPECT_EQ(macro.fixed_time(), plain.fixed_time()) << c.macro;
    for (const absl::CivilMinute& probe : probes) {
      EXPECT_EQ(macro.Matches(probe), plain.Matches(probe)) << c.macro << " at " << probe;
    }
  }
  // And one hand-checked fact per macro, so the table above cannot be wrong in the same way twice.
  EXPECT_TRUE(MustParse("@weekly").Matches(absl::CivilMinute(2024, 1, 7, 0, 0)));   // Sunday
  EXPECT_FALSE(MustParse("@weekly").Matches(absl::CivilMinute(2024, 1, 8, 0, 0)));  // Monday
  EXPECT_TRUE(MustParse("@hourly").Matches(absl::CivilMinute(2024, 3, 3, 13, 0)));
  EXPECT_FALSE(MustParse("@daily").Matches(absl::CivilMinute(2024, 3, 3, 13, 0)));
  EXPECT_TRUE(MustParse("@monthly").Matches(absl::CivilMinute(2024, 2, 1, 0, 0)));
  EXPECT_FALSE(MustParse("@yearly").Matches(absl::CivilMinute(2024, 2, 1, 0, 0)));
}

TEST_F(CronTest, FixedTimeMeansNoStarAtTheStartOfMinuteOrHour) {
  struct Case {
    std::string expr;
    bool fixed;
  };
  const std::vector<Case> cases = {
      {"30 2 * * *", true},      {"0 0 1 1 *", true},     {"0,30 9-17 * * 1-5", true},
      {"0-59 0-23 * * *", true},  // Vixie looks at the first character, not the set
      {"0 * * * *", false},      {"*/15 2 * * *", false}, {"0 */2 * * *", false},
      {"* * * * *", false},      {"*,5 2 * * *", false},  {"@hourly", false},
      {"@daily", true},          {"@weekly", true},       {"@yearly", true},
      {"0 0 */2 * *", true},  // a star in the day fields does not matter
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MustParse(c.expr).fixed_time(), c.fixed) << c.expr;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: every error names the field and the token.

TEST_F(CronTest, ParseErrorsNameTheFieldAndTheToken) {
  struct Case {
    std::string expr;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "cron: expression is empty"},
      {" \t ", "cron: expression is empty"},
      {"* * *", "cron: expected 5 fields, got 3"},
      {"0 0 * * * *", "cron: expected 5 fields, got 6"},
      {"60 * * * *", "cron: minute field: \"60\" is out of range 0-59"},
      {"0 25 * * *", "cron: hour field: \"25\" is out of range 0-23"},
      {"0 0 0 * *", "cron: day-of-month field: \"0\" is out of range 1-31"},
      {"0 0 32 * *", "cron: day-of-month field: \"32\" is out of range 1-31"},
      {"0 0 * 0 *", "cron: month field: \"0\" is out of range 1-12"},
      {"0 0 * 13 *", "cron: month field: \"13\" is out of range 1-12"},
      {"0 0 * * 8", "cron: day-of-week field: \"8\" is out of range 0-7"},
      {"1-70 * * * *", "cron: minute field: \"70\" is out of range 0-59"},
      {"99999999999 * * * *", "cron: minute field: \"99999999999\" is out of range 0-59"},
      {"x * * * *", "cron: minute field: \"x\" is not a number"},
      {"0 MON * * *", "cron: hour field: \"MON\" is not a number"},
      {"0 0 * FOO *", "cron: month field: \"FOO\" is not a number or a month name (JAN-DEC)"},
      {"0 0 * JANUARY *",
       "cron: month field: \"JANUARY\" is not a number or a month name (JAN-DEC)"},
      {"0 0 * * FUNDAY",
       "cron: day-of-week field: \"FUNDAY\" is not a number or a weekday name (SUN-SAT)"},
      {"0 0 * * JAN",
       "cron: day-of-week field: \"JAN\" is not a number or a weekday name (SUN-SAT)"},
      {"0 0 * * 1-2-3",
       "cron: day-of-week field: \"2-3\" is not a number or a weekday name (SUN-SAT)"},
      {"*/0 * * * *", "cron: minute field: \"*/0\" has a step of 0"},
      {"*/x * * * *", "cron: minute field: \"*/x\" has a step that is not a number"},
      {"0 */ * * *", "cron: hour field: \"*/\" has a step that is not a number"},
      {"*/5/2 * * * *", "cron: minute field: \"*/5/2\" has a step that is not a number"},
      {"*/1000 * * * *", "cron: minute field: \"*/1000\" has a step that is too large"},
      {"/5 * * * *", "cron: minute field: \"/5\" has no value before the step"},
      {"30-10 * * * *", "cron: minute field: \"30-10\" is a range that ends before it starts"},
      {"0 0 * * 7-1", "cron: day-of-week field: \"7-1\" is a range that ends before it starts"},
      {"0 0 * DEC-JAN *", "cron: month field: \"DEC-JAN\" is a range that ends before it starts"},
      {"5- * * * *", "cron: minute field: \"5-\" is a range with a missing end"},
      {"-5 * * * *", "cron: minute field: \"-5\" is a range with a missing end"},
      {"1,,2 * * * *", "cron: minute field: \"1,,2\" has an empty list item"},
      {"0 1, * * *", "cron: hour field: \"1,\" has an empty list item"},
      {"0\x01 * * * *", "cron: minute field: \"0\\x01\" is not a number"},
      {"@reboot",
       "cron: unknown macro \"@reboot\" (known: @yearly @annually @monthly @weekly @daily "
       "@midnight @hourly)"},
      {"@daily 0", "cron: \"@daily\" must stand alone, got 2 fields"},
      {std::string(257, ' '), "cron: expression is 257 bytes long; the limit is 256"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<CronSchedule> schedule = CronSchedule::Parse(c.expr);
    ASSERT_FALSE(schedule.ok()) << c.expr;
    EXPECT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument) << c.expr;
    EXPECT_EQ(schedule.status().message(), c.message) << c.expr;
  }
}

TEST_F(CronTest, AcceptsExactlyTheLengthLimit) {
  std::string expr = "0 0 * * *";
  expr.resize(kMaxCronExpressionLength, ' ');
  EXPECT_TRUE(CronSchedule::Parse(expr).ok());
  expr.push_back(' ');
  EXPECT_FALSE(CronSchedule::Parse(expr).ok());
}

// ---------------------------------------------------------------------------------------------
// Next fire, in UTC: field skipping, calendar edges, the day rule, macros.

TEST_F(CronTest, EveryFifteenMinutesIsStrictlyAfter) {
  EXPECT_THAT(Fires("*/15 * * * *", "UTC", Utc(2024, 1, 1, 10, 7, 30), 4),
              ElementsAre(Utc(2024, 1, 1, 10, 15), Utc(2024, 1, 1, 10, 30), Utc(2024, 1, 1, 10, 45),
                          Utc(2024, 1, 1, 11, 0)));
  // Exactly on a fire instant: that instant is not "after".
  EXPECT_THAT(Fires("*/15 * * * *", "UTC", Utc(2024, 1, 1, 10, 15), 1),
              ElementsAre(Utc(2024, 1, 1, 10, 30)));
  // A fraction of a second before one: that one.
  EXPECT_THAT(Fires("*/15 * * * *", "UTC", Utc(2024, 1, 1, 10, 15) - absl::Milliseconds(1), 1),
              ElementsAre(Utc(2024, 1, 1, 10, 15)));
}

TEST_F(CronTest, FebruaryTwentyNinthWaitsForTheNextLeapYear) {
  EXPECT_THAT(Fires("0 0 29 2 *", "UTC", Utc(2024, 3, 1, 0, 0), 3),
              ElementsAre(Utc(2028, 2, 29, 0, 0), Utc(2032, 2, 29, 0, 0), Utc(2036, 2, 29, 0, 0)));
  // 2100 is not a leap year: eight years from 2096 to 2104.
  EXPECT_THAT(Fires("0 0 29 2 *", "UTC", Utc(2096, 2, 29, 0, 0), 1),
              ElementsAre(Utc(2104, 2, 29, 0, 0)));
}

// Minute-by-minute search would take hours here; skipping by field takes microseconds.
TEST_F(CronTest, RareSchedulesAreFoundByFieldSkipping) {
  // 18 leap days 2028-2096, 24 in each of the next three centuries minus 2100/2200/2300's, then
  // 2400 and 2404-2436: the 100th Feb 29 after 2024 is in 2436.
  const std::vector<absl::Time> fires = Fires("0 0 29 2 *", "UTC", Utc(2024, 3, 1, 0, 0), 100);
  ASSERT_EQ(fires.size(), 100u);
  EXPECT_EQ(fires[17], Utc(2096, 2, 29, 0, 0));
  EXPECT_EQ(fires[18], Utc(2104, 2, 29, 0, 0));
  EXPECT_EQ(fires[99], Utc(2436, 2, 29, 0, 0));
  // A wildcard schedule crosses eight DST transitions to get there (00:00 EST = 05:00Z). The
  // start is Mar 1 07:00 EST: at 00:00Z it would still be Feb 29, 2024 in New York.
  EXPECT_THAT(Fires("* * 29 2 *", "America/New_York", Utc(2024, 3, 1, 12, 0), 3),
              ElementsAre(Utc(2028, 2, 29, 5, 0), Utc(2028, 2, 29, 5, 1), Utc(2028, 2, 29, 5, 2)));
}

TEST_F(CronTest, ThirtyFirstSkipsShortMonths) {
  EXPECT_THAT(
      Fires("0 12 31 * *", "UTC", Utc(2024, 1, 31, 12, 0), 6),
      ElementsAre(Utc(2024, 3, 31, 12, 0), Utc(2024, 5, 31, 12, 0), Utc(2024, 7, 31, 12, 0),
                  Utc(2024, 8, 31, 12, 0), Utc(2024, 10, 31, 12, 0), Utc(2024, 12, 31, 12, 0)));
}

TEST_F(CronTest, RollsOverTheEndOfTheYear) {
  EXPECT_THAT(Fires("59 23 31 12 *", "UTC", Utc(2024, 12, 31, 23, 59), 1),
              ElementsAre(Utc(2025, 12, 31, 23, 59)));
  EXPECT_THAT(Fires("0 0 1 1 *", "UTC", Utc(2024, 12, 31, 23, 59, 59), 1),
              ElementsAre(Utc(2025, 1, 1, 0, 0)));
}

// September 2024: Fridays 6, 13, 20, 27; October: Fridays 4, 11, 18 and the 13th is a Sunday.
TEST_F(CronTest, DayOfMonthAndDayOfWeekMatchEither) {
  EXPECT_THAT(Fires("0 0 13 * 5", "UTC", Utc(2024, 9, 1, 0, 0), 8),
              ElementsAre(Utc(2024, 9, 6, 0, 0), Utc(2024, 9, 13, 0, 0), Utc(2024, 9, 20, 0, 0),
                          Utc(2024, 9, 27, 0, 0), Utc(2024, 10, 4, 0, 0), Utc(2024, 10, 11, 0, 0),
                          Utc(2024, 10, 13, 0, 0), Utc(2024, 10, 18, 0, 0)));
  // Restricted by a range rather than a star, the day-of-month still ORs: Mondays and odd days.
  EXPECT_THAT(Fires("0 0 1-31/2 * 1", "UTC", Utc(2024, 9, 1, 0, 0), 5),
              ElementsAre(Utc(2024, 9, 2, 0, 0), Utc(2024, 9, 3, 0, 0), Utc(2024, 9, 5, 0, 0),
                          Utc(2024, 9, 7, 0, 0), Utc(2024, 9, 9, 0, 0)));
}

// September 2024 Mondays: 2, 9, 16, 23, 30; October: 7, 14, 21, 28.
TEST_F(CronTest, StarPrefixedDayFieldMakesTheDayFieldsAnd) {
  EXPECT_THAT(Fires("0 0 */2 * 1", "UTC", Utc(2024, 9, 1, 0, 0), 4),
              ElementsAre(Utc(2024, 9, 9, 0, 0), Utc(2024, 9, 23, 0, 0), Utc(2024, 10, 7, 0, 0),
                          Utc(2024, 10, 21, 0, 0)));
  // "*/5" in day-of-week is Sunday and Friday, and ANDs: the 13ths that fall on either.
  EXPECT_THAT(
      Fires("0 0 13 * */5", "UTC", Utc(2024, 9, 1, 0, 0), 3),
      ElementsAre(Utc(2024, 9, 13, 0, 0), Utc(2024, 10, 13, 0, 0), Utc(2024, 12, 13, 0, 0)));
}

TEST_F(CronTest, OnlyOneRestrictedDayFieldUsesThatField) {
  EXPECT_THAT(Fires("0 0 * * 7", "UTC", Utc(2024, 1, 1, 0, 0), 2),
              ElementsAre(Utc(2024, 1, 7, 0, 0), Utc(2024, 1, 14, 0, 0)));
  // OR with a weekday makes an impossible date harmless: Mondays in February.
  EXPECT_THAT(Fires("0 0 30 2 MON", "UTC", Utc(2024, 1, 1, 0, 0), 2),
              ElementsAre(Utc(2024, 2, 5, 0, 0), Utc(2024, 2, 12, 0, 0)));
}

TEST_F(CronTest, MacrosFire) {
  const absl::Time from = Utc(2024, 1, 1, 10, 30);  // a Monday
  EXPECT_THAT(Fires("@hourly", "UTC", from, 2),
              ElementsAre(Utc(2024, 1, 1, 11, 0), Utc(2024, 1, 1, 12, 0)));
  EXPECT_THAT(Fires("@daily", "UTC", from, 1), ElementsAre(Utc(2024, 1, 2, 0, 0)));
  EXPECT_THAT(Fires("@midnight", "UTC", from, 1), ElementsAre(Utc(2024, 1, 2, 0, 0)));
  EXPECT_THAT(Fires("@weekly", "UTC", from, 2),
              ElementsAre(Utc(2024, 1, 7, 0, 0), Utc(2024, 1, 14, 0, 0)));
  EXPECT_THAT(Fires("@monthly", "UTC", from, 2),
              ElementsAre(Utc(2024, 2, 1, 0, 0), Utc(2024, 3, 1, 0, 0)));
  EXPECT_THAT(Fires("@yearly", "UTC", from, 1), ElementsAre(Utc(2025, 1, 1, 0, 0)));
  EXPECT_THAT(Fires("@annually", "UTC", from, 1), ElementsAre(Utc(2025, 1, 1, 0, 0)));
}

TEST_F(CronTest, NeverFiringExpressionEndsWithNotFound) {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */2"}) {
    const absl::StatusOr<absl::Time> next =
        MustParse(expr).NextAfter(Utc(2024, 1, 1, 0, 0), absl::UTCTimeZone());
    ASSERT_FALSE(next.ok()) << expr;
    EXPECT_EQ(next.status().code(), absl::StatusCode::kNotFound) << expr;
    EXPECT_THAT(next.status().message(), HasSubstr(expr));
  }
  const absl::StatusOr<absl::Time> in_zone =
      MustParse("0 0 30 2 *").NextAfter(Utc(2024, 1, 1, 0, 0), Zone("America/New_York"));
  EXPECT_EQ(in_zone.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CronTest, LocalTimeIsReadInTheZone) {
  // 09:00 in New York is 14:00Z in winter and 13:00Z in summer.
  EXPECT_THAT(Fires("0 9 * * *", "America/New_York", Utc(2024, 1, 15, 0, 0), 1),
              ElementsAre(Utc(2024, 1, 15, 14, 0)));
  EXPECT_THAT(Fires("0 9 * * *", "America/New_York", Utc(2024, 7, 15, 0, 0), 1),
              ElementsAre(Utc(2024, 7, 15, 13, 0)));
  // Monday 00:00 in Lord Howe (+11 in January) is Sunday 13:00Z.
  EXPECT_THAT(Fires("0 0 * * MON", "Australia/Lord_Howe", Utc(2024, 1, 1, 0, 0), 1),
              ElementsAre(Utc(2024, 1, 7, 13, 0)));
}

// ---------------------------------------------------------------------------------------------
// DST: America/New_York.

TEST_F(CronTest, NewYorkSkippedFixedTimeFiresOnceAtTheTransition) {
  EXPECT_THAT(Fires("30 2 * * *", "America/New_York", Utc(2024, 3, 9, 5, 0), 3),
              ElementsAre(Utc(2024, 3, 9, 7, 30),     // Mar 9  02:30 EST
                          Utc(2024, 3, 10, 7, 0),     // Mar 10 02:30 skipped -> 03:00 EDT
                          Utc(2024, 3, 11, 6, 30)));  // Mar 11 02:30 EDT
  // Two skipped times collapse into one fire at the transition.
  EXPECT_THAT(Fires("0,30 2 * * *", "America/New_York", Utc(2024, 3, 10, 4, 0), 3),
              ElementsAre(Utc(2024, 3, 10, 7, 0), Utc(2024, 3, 11, 6, 0), Utc(2024, 3, 11, 6, 30)));
  // A skipped time and the first time after the gap are the same instant: one fire.
  EXPECT_THAT(Fires("0 2,3 * * *", "America/New_York", Utc(2024, 3, 10, 4, 0), 3),
              ElementsAre(Utc(2024, 3, 10, 7, 0), Utc(2024, 3, 11, 6, 0), Utc(2024, 3, 11, 7, 0)));
  // From a second before the gap.
  EXPECT_THAT(Fires("30 2 * * *", "America/New_York", Utc(2024, 3, 10, 6, 59, 59), 1),
              ElementsAre(Utc(2024, 3, 10, 7, 0)));
}

TEST_F(CronTest, NewYorkSkippedWildcardTimesDoNotOccur) {
  EXPECT_THAT(Fires("0 * * * *", "America/New_York", Utc(2024, 3, 10, 5, 30), 3),
              ElementsAre(Utc(2024, 3, 10, 6, 0),    // 01:00 EST
                          Utc(2024, 3, 10, 7, 0),    // 03:00 EDT (02:00 does not exist)
                          Utc(2024, 3, 10, 8, 0)));  // 04:00 EDT
  EXPECT_THAT(Fires("*/30 2 * * *", "America/New_York", Utc(2024, 3, 10, 5, 0), 2),
              ElementsAre(Utc(2024, 3, 11, 6, 0), Utc(2024, 3, 11, 6, 30)));  // Mar 11, EDT
}

TEST_F(CronTest, NewYorkRepeatedFixedTimeFiresOnlyTheFirstTime) {
  EXPECT_THAT(Fires("30 1 * * *", "America/New_York", Utc(2024, 11, 2, 16, 0), 2),
              ElementsAre(Utc(2024, 11, 3, 5, 30),    // Nov 3 01:30 EDT
                          Utc(2024, 11, 4, 6, 30)));  // Nov 4 01:30 EST
  // Between the two copies of 01:30 and inside the second hour: the repeat does not fire.
  EXPECT_THAT(Fires("30 1 * * *", "America/New_York", Utc(2024, 11, 3, 5, 45), 1),
              ElementsAre(Utc(2024, 11, 4, 6, 30)));
  EXPECT_THAT(Fires("30 1 * * *", "America/New_York", Utc(2024, 11, 3, 6, 10), 1),
              ElementsAre(Utc(2024, 11, 4, 6, 30)));
  // The hour after the repeat is unaffected.
  EXPECT_THAT(Fires("0 2 * * *", "America/New_York", Utc(2024, 11, 3, 5, 0), 1),
              ElementsAre(Utc(2024, 11, 3, 7, 0)));  // 02:00 EST
}

TEST_F(CronTest, NewYorkRepeatedWildcardTimesFireInBothCopies) {
  EXPECT_THAT(Fires("0 * * * *", "America/New_York", Utc(2024, 11, 3, 4, 30), 3),
              ElementsAre(Utc(2024, 11, 3, 5, 0),    // 01:00 EDT
                          Utc(2024, 11, 3, 6, 0),    // 01:00 EST
                          Utc(2024, 11, 3, 7, 0)));  // 02:00 EST
  EXPECT_THAT(Fires("@hourly", "America/New_York", Utc(2024, 11, 3, 4, 30), 3),
              ElementsAre(Utc(2024, 11, 3, 5, 0), Utc(2024, 11, 3, 6, 0), Utc(2024, 11, 3, 7, 0)));
  EXPECT_THAT(Fires("*/20 1 * * *", "America/New_York", Utc(2024, 11, 3, 4, 0), 7),
              ElementsAre(Utc(2024, 11, 3, 5, 0), Utc(2024, 11, 3, 5, 20), Utc(2024, 11, 3, 5, 40),
                          Utc(2024, 11, 3, 6, 0), Utc(2024, 11, 3, 6, 20), Utc(2024, 11, 3, 6, 40),
                          Utc(2024, 11, 4, 6, 0)));
  // From inside the second copy, the wall clock carries on in it.
  EXPECT_THAT(Fires("30 * * * *", "America/New_York", Utc(2024, 11, 3, 6, 10), 2),
              ElementsAre(Utc(2024, 11, 3, 6, 30), Utc(2024, 11, 3, 7, 30)));
}

// ---------------------------------------------------------------------------------------------
// DST: Europe/London.

TEST_F(CronTest, LondonSpringForward) {
  EXPECT_THAT(Fires("30 1 * * *", "Europe/London", Utc(2024, 3, 30, 12, 0), 2),
              ElementsAre(Utc(2024, 3, 31, 1, 0),    // 01:30 skipped -> 02:00 BST
                          Utc(2024, 4, 1, 0, 30)));  // 01:30 BST
  EXPECT_THAT(Fires("30 * * * *", "Europe/London", Utc(2024, 3, 31, 0, 0), 3),
              ElementsAre(Utc(2024, 3, 31, 0, 30),    // 00:30 GMT
                          Utc(2024, 3, 31, 1, 30),    // 02:30 BST
                          Utc(2024, 3, 31, 2, 30)));  // 03:30 BST
}

TEST_F(CronTest, LondonFallBack) {
  EXPECT_THAT(Fires("15 1 * * *", "Europe/London", Utc(2024, 10, 26, 12, 0), 2),
              ElementsAre(Utc(2024, 10, 27, 0, 15),    // 01:15 BST
                          Utc(2024, 10, 28, 1, 15)));  // 01:15 GMT
  EXPECT_THAT(Fires("15 * * * *", "Europe/London", Utc(2024, 10, 26, 23, 0), 4),
              ElementsAre(Utc(2024, 10, 26, 23, 15),   // 00:15 BST
                          Utc(2024, 10, 27, 0, 15),    // 01:15 BST
                          Utc(2024, 10, 27, 1, 15),    // 01:15 GMT
                          Utc(2024, 10, 27, 2, 15)));  // 02:15 GMT
}

// ---------------------------------------------------------------------------------------------
// DST: Australia/Lord_Howe moves by 30 minutes.

TEST_F(CronTest, LordHoweHalfHourFallBack) {
  // 01:30-01:59 happens twice; 01:00 and 02:00 once each.
  EXPECT_THAT(Fires("45 1 * * *", "Australia/Lord_Howe", Utc(2024, 4, 6, 0, 0), 2),
              ElementsAre(Utc(2024, 4, 6, 14, 45),    // Apr 7 01:45 +11
                          Utc(2024, 4, 7, 15, 15)));  // Apr 8 01:45 +1030
  EXPECT_THAT(Fires("*/30 * * * *", "Australia/Lord_Howe", Utc(2024, 4, 6, 13, 50), 5),
              ElementsAre(Utc(2024, 4, 6, 14, 0),    // 01:00 +11
                          Utc(2024, 4, 6, 14, 30),   // 01:30 +11
                          Utc(2024, 4, 6, 15, 0),    // 01:30 +1030
                          Utc(2024, 4, 6, 15, 30),   // 02:00 +1030
                          Utc(2024, 4, 6, 16, 0)));  // 02:30 +1030
  EXPECT_THAT(Fires("0 * * * *", "Australia/Lord_Howe", Utc(2024, 4, 6, 13, 50), 2),
              ElementsAre(Utc(2024, 4, 6, 14, 0),     // 01:00 +11
                          Utc(2024, 4, 6, 15, 30)));  // 02:00 +1030
}

TEST_F(CronTest, LordHoweHalfHourSpringForward) {
  // 02:00-02:29 does not exist on Oct 6.
  EXPECT_THAT(Fires("15 2 * * *", "Australia/Lord_Howe", Utc(2024, 10, 5, 0, 0), 2),
              ElementsAre(Utc(2024, 10, 5, 15, 30),    // 02:15 skipped -> 02:30 +11
                          Utc(2024, 10, 6, 15, 15)));  // Oct 7 02:15 +11
  EXPECT_THAT(Fires("45 2 * * *", "Australia/Lord_Howe", Utc(2024, 10, 5, 0, 0), 1),
              ElementsAre(Utc(2024, 10, 5, 15, 45)));  // 02:45 +11, after the gap
  EXPECT_THAT(Fires("15 * * * *", "Australia/Lord_Howe", Utc(2024, 10, 5, 14, 30), 2),
              ElementsAre(Utc(2024, 10, 5, 14, 45),    // 01:15 +1030
                          Utc(2024, 10, 5, 16, 15)));  // 03:15 +11
  EXPECT_THAT(Fires("*/30 * * * *", "Australia/Lord_Howe", Utc(2024, 10, 5, 14, 30), 3),
              ElementsAre(Utc(2024, 10, 5, 15, 0),    // 01:30 +1030
                          Utc(2024, 10, 5, 15, 30),   // 02:30 +11, the transition itself
                          Utc(2024, 10, 5, 16, 0)));  // 03:00 +11
}

// ---------------------------------------------------------------------------------------------
// NextFires, NextAfter edges, LoadZone.

TEST_F(CronTest, NextFiresRejectsBadCounts) {
  const CronSchedule schedule = MustParse("* * * * *");
  const absl::Time from = Utc(2024, 1, 1, 0, 0);
  EXPECT_THAT(Fires("* * * * *", "UTC", from, 0), IsEmpty());
  EXPECT_EQ(NextFires(schedule, absl::UTCTimeZone(), from, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NextFires(schedule, absl::UTCTimeZone(), from, kMaxNextFires + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<std::vector<absl::Time>> most =
      NextFires(schedule, absl::UTCTimeZone(), from, kMaxNextFires);
  ASSERT_TRUE(most.ok());
  EXPECT_EQ(most->back(), Utc(2024, 1, 1, 16, 40));  // 1000 minutes later
}

TEST_F(CronTest, NextFiresPropagatesNeverFiring) {
  EXPECT_EQ(NextFires(MustParse("0 0 30 2 *"), absl::UTCTimeZone(), Utc(2024, 1, 1, 0, 0), 3)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CronTest, NextAfterRejectsInfiniteTimes) {
  const CronSchedule schedule = MustParse("* * * * *");
  EXPECT_EQ(schedule.NextAfter(absl::InfiniteFuture(), absl::UTCTimeZone()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(schedule.NextAfter(absl::InfinitePast(), absl::UTCTimeZone()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CronTest, LoadZoneAcceptsIanaNamesAndEmptyForUtc) {
  absl::StatusOr<absl::TimeZone> utc = LoadZone("");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->name(), "UTC");
  absl::StatusOr<absl::TimeZone> london = LoadZone("Europe/London");
  ASSERT_TRUE(london.ok());
  EXPECT_EQ(london->name(), "Europe/London");
  EXPECT_TRUE(LoadZone("America/Port-au-Prince").ok());
  EXPECT_TRUE(LoadZone("Etc/GMT+5").ok());
}

TEST_F(CronTest, LoadZoneRejectsUnknownAndPathLikeNames) {
  for (const char* name : {"Mars/Olympus", "../../etc/passwd", "/usr/share/zoneinfo/UTC",
                           "localtime", "Europe/London ", "Europe/Lon.don"}) {
    const absl::StatusOr<absl::TimeZone> tz = LoadZone(name);
    ASSERT_FALSE(tz.ok()) << name;
    EXPECT_EQ(tz.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(tz.status().message(), HasSubstr(std::string("\"") + name + "\"")) << name;
  }
}

}  // namespace
}  // namespace autosync::scheduler
