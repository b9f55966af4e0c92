// ParseFxRatesCsv: the ECB's eurofxref-hist.csv layout (trailing commas, N/A, newest first),
// every refusal naming its line and column, and the limits.
#include "scheduler-service/fx_rates_csv.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

using ::testing::HasSubstr;

// The first lines of the real file (2026 values made up in its shape): every line ends with a
// comma, CYP has not been quoted since 2007, the newest day comes first.
constexpr char kEcbLayout[] =
    "Date,USD,JPY,BGN,CYP,GBP,\r\n"
    "2026-12-04,1.0521,162.30,1.9558,N/A,0.8312,\r\n"
    "2026-12-03,1.0498,161.87,1.9558,N/A,0.83045,\r\n"
    "2026-12-02,1.0473,N/A,1.9558,N/A,,\r\n";

class FxRatesCsvTest : public ::testing::Test {
 protected:
  static std::string ErrorOf(const std::string& csv) {
    absl::StatusOr<FxRatesTable> t = ParseFxRatesCsv(csv);
    EXPECT_FALSE(t.ok()) << "accepted: " << csv.substr(0, 200);
    if (t.ok()) return "";
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(t.status().message());
  }
};

TEST_F(FxRatesCsvTest, ReadsTheEcbLayoutWithTrailingCommasAndNotAvailableCells) {
  absl::StatusOr<FxRatesTable> t = ParseFxRatesCsv(kEcbLayout);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->currencies, ::testing::ElementsAre("USD", "JPY", "BGN", "CYP", "GBP"));
  EXPECT_EQ(t->days, 3);
  EXPECT_EQ(t->first_day, absl::CivilDay(2026, 12, 2));
  EXPECT_EQ(t->last_day, absl::CivilDay(2026, 12, 4));
  // 4 + 4 + 2 rates: N/A and empty cells are no rate.
  ASSERT_EQ(t->rates.size(), 10u);
  EXPECT_EQ(t->rates[0].day, absl::CivilDay(2026, 12, 4));
  EXPECT_EQ(t->rates[0].currency, "USD");
  EXPECT_EQ(t->rates[0].per_eur, "1.0521");
  EXPECT_EQ(t->rates[1].per_eur, "162.30");  // kept as written, for an exact numeric
  EXPECT_EQ(t->rates[7].per_eur, "0.83045");
  EXPECT_EQ(t->rates[9].currency, "BGN");
}

TEST_F(FxRatesCsvTest, AcceptsLinesWithoutTrailingCommaBlanksQuotesAndAByteOrderMark) {
  absl::StatusOr<FxRatesTable> t = ParseFxRatesCsv(
      "\xEF\xBB\xBF"
      "Date, USD ,GBP\n\n2026-12-04, 1.05 ,\"0.83\"\n2026-12-05,N/A,N/A\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->days, 1);  // a day without any rate is not counted
  ASSERT_EQ(t->rates.size(), 2u);
  EXPECT_EQ(t->rates[0].per_eur, "1.05");
  EXPECT_EQ(t->rates[1].per_eur, "0.83");
}

TEST_F(FxRatesCsvTest, AHeaderAloneIsAnEmptyTable) {
  absl::StatusOr<FxRatesTable> t = ParseFxRatesCsv("Date,USD,\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->days, 0);
  EXPECT_TRUE(t->rates.empty());
}

TEST_F(FxRatesCsvTest, RefusesAMissingHeaderOrDateColumn) {
  EXPECT_EQ(ErrorOf(""), "line 1: no header (Date,USD,JPY,…)");
  EXPECT_EQ(ErrorOf("\n\n"), "line 1: no header (Date,USD,JPY,…)");
  EXPECT_EQ(ErrorOf("2026-12-04,1.05\n"),
            "line 1, column 1: \"2026-12-04\": the header must start with a Date column "
            "(Date,USD,JPY,…)");
  EXPECT_EQ(ErrorOf("USD,Date\n"),
            "line 1, column 1: \"USD\": the header must start with a Date column (Date,USD,JPY,…)");
  EXPECT_EQ(ErrorOf("Date,\n"), "line 1: no currency columns after Date (Date,USD,JPY,…)");
}

TEST_F(FxRatesCsvTest, RefusesBadHeaderCellsNamingTheColumn) {
  EXPECT_EQ(ErrorOf("Date,USD,usd,\n"),
            "line 1, column 3: \"usd\" is not a currency code (3 upper-case letters)");
  EXPECT_EQ(ErrorOf("Date,USD,,GBP\n"),
            "line 1, column 3: \"\" is not a currency code (3 upper-case letters)");
  EXPECT_EQ(ErrorOf("Date,US DOLLAR\n"),
            "line 1, column 2: \"US DOLLAR\" is not a currency code (3 upper-case letters)");
  EXPECT_EQ(ErrorOf("Date,USD,JPY,USD,\n"), "line 1, column 4: USD appears twice (also column 2)");
  EXPECT_THAT(ErrorOf("Date,EUR,USD\n"), HasSubstr("line 1, column 2: EUR is the base currency"));
}

TEST_F(FxRatesCsvTest, RefusesARowWithAnotherNumberOfCells) {
  EXPECT_EQ(ErrorOf("Date,USD,GBP,\n2026-12-04,1.05,0.83,\n2026-12-03,1.05,0.83\n"),
            "line 3: 3 cells, but the header has 4 (with its trailing comma)");
  EXPECT_EQ(ErrorOf("Date,USD,GBP\n2026-12-04,1.05,0.83,0.9\n"),
            "line 2: 4 cells, but the header has 3");
  EXPECT_EQ(ErrorOf("Date,USD,\n2026-12-04,1.05,7\n"),
            "line 2, column 3 (after the last currency): \"7\" has no currency in the header");
}

TEST_F(FxRatesCsvTest, RefusesMalformedAndRepeatedDates) {
  for (const char* bad : {"04/12/2026", "2026-13-01", "2026-02-29", "2026-1-05", "1899-12-31",
                          "4 December 2026", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(ErrorOf(absl::StrCat("Date,USD,\n2026-12-04,1.05,\n", bad, ",1.05,\n")),
              absl::StrCat("line 3, column Date: \"", bad,
                           "\" is not a date (YYYY-MM-DD, "
                           "1900-2999)"));
  }
  EXPECT_TRUE(ParseFxRatesCsv("Date,USD\n2024-02-29,1.08\n").ok());  // a leap day is a day
  EXPECT_EQ(ErrorOf("Date,USD,\n2026-12-04,1.05,\n2026-12-03,1.04,\n2026-12-04,1.06,\n"),
            "line 4, column Date: 2026-12-04 appears twice (also line 2)");
}

TEST_F(FxRatesCsvTest, RefusesARateThatIsNotAPositiveDecimalNamingItsCurrency) {
  EXPECT_EQ(ErrorOf("Date,USD,JPY,\n2026-12-04,1.05,162.3,\n2026-12-03,1.04,\"1,05\",\n"),
            "line 3, column JPY: \"1,05\" is not a positive decimal");
  for (const char* bad : {"0", "0.0000", "-1.05", "+1.05", "1e3", "1.", ".5", "abc", "1.0.5", "NaN",
                          "n/a", "1 05", "12345678901234567890123456789012345678901"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(absl::StrCat("Date,USD,GBP,\n2026-12-04,1.05,", bad, ",\n")),
                HasSubstr("line 2, column GBP: \""));
  }
  EXPECT_THAT(ErrorOf("Date,USD\n2026-12-04,\"1.05\n"),
              HasSubstr("line 2, column 2: a quote is never closed"));
}

TEST_F(FxRatesCsvTest, RefusesMoreLinesOrBytesThanTheLimits) {
  std::string csv = "Date,USD,\n";
  absl::CivilDay day(1950, 1, 1);
  for (int64_t i = 1; i < kMaxFxCsvLines; ++i, ++day) {
    absl::StrAppend(&csv, absl::FormatCivilTime(day), ",1.05,\n");
  }
  absl::StatusOr<FxRatesTable> at_limit = ParseFxRatesCsv(csv);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status();
  EXPECT_EQ(at_limit->days, kMaxFxCsvLines - 1);
  absl::StrAppend(&csv, absl::FormatCivilTime(day), ",1.05,\n");
  EXPECT_EQ(ErrorOf(csv), "line 100001: more than 100000 lines: import the file in parts");

  std::string big(kMaxFxCsvBytes + 1, '\n');
  EXPECT_EQ(ErrorOf(big),
            "the CSV is 33554433 bytes, more than the 32 MiB allowed: import it in parts");
}

}  // namespace
}  // namespace autosync::scheduler
