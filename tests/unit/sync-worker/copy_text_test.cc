// COPY text encoding (sync-worker/copy_text.h): what PostgreSQL's COPY … FROM STDIN (text format)
// must read back as the values the worker meant.
#include "sync-worker/copy_text.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::worker {
namespace {

using ::testing::ElementsAre;

std::string Escaped(absl::string_view text) {
  std::string out;
  AppendCopyEscaped(out, text);
  return out;
}

std::string TimestampText(absl::Time t) {
  std::string out;
  AppendTimestamp(out, t);
  return out;
}

std::string MoneyText(int64_t cents) {
  std::string out;
  AppendMoney(out, cents);
  return out;
}

// COPY text format's reading of one field (PostgreSQL docs, "File Formats"): \N alone is NULL,
// backslash sequences are unescaped. Only the sequences the encoder writes.
std::optional<std::string> ReadField(absl::string_view field) {
  if (field == "\\N") return std::nullopt;
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\' || i + 1 == field.size()) {
      out.push_back(field[i]);
      continue;
    }
    const char c = field[++i];
    out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
  }
  return out;
}

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(CopyTextTest, EscapesBackslashTabNewlineAndCarriageReturn) {
  EXPECT_EQ(Escaped("plain text"), "plain text");
  EXPECT_EQ(Escaped("a\tb"), "a\\tb");
  EXPECT_EQ(Escaped("a\nb"), "a\\nb");
  EXPECT_EQ(Escaped("a\rb"), "a\\rb");
  EXPECT_EQ(Escaped("C:\\path"), "C:\\\\path");
  EXPECT_EQ(Escaped("\\N"), "\\\\N");  // the text "\N" is not NULL
  EXPECT_EQ(Escaped("\t\n\r\\"), "\\t\\n\\r\\\\");
  EXPECT_EQ(Escaped(""), "");
}

TEST(CopyTextTest, PassesOtherBytesThroughUnchanged) {
  EXPECT_EQ(Escaped("Zoë's café, № 5"), "Zoë's café, № 5");
  // NUL is not escaped (PostgreSQL text cannot hold it; the COPY refuses it).
  EXPECT_EQ(Escaped(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(CopyTextTest, TimestampsAreUtcWithMicrosecondsAndFourDigitYears) {
  EXPECT_EQ(TimestampText(Utc(2024, 3, 5, 7, 8, 9)), "2024-03-05 07:08:09.000000+00");
  EXPECT_EQ(TimestampText(Utc(2024, 2, 29, 23, 59, 59) + absl::Microseconds(123456)),
            "2024-02-29 23:59:59.123456+00");
  EXPECT_EQ(TimestampText(absl::UnixEpoch()), "1970-01-01 00:00:00.000000+00");
  // Before the epoch: the fraction still counts up from the second.
  EXPECT_EQ(TimestampText(absl::UnixEpoch() - absl::Microseconds(1)),
            "1969-12-31 23:59:59.999999+00");
  EXPECT_EQ(TimestampText(Utc(24, 1, 1, 0, 0, 0)), "0024-01-01 00:00:00.000000+00");
  EXPECT_EQ(TimestampText(Utc(9999, 12, 31, 23, 59, 59)), "9999-12-31 23:59:59.000000+00");
  EXPECT_EQ(TimestampText(Utc(2100, 3, 1, 0, 0, 0)), "2100-03-01 00:00:00.000000+00");
}

TEST(CopyTextTest, TimestampsMatchAbseilsFormattingInUtc) {
  // The hand-written calendar arithmetic against absl::FormatTime, across leap years and
  // centuries, at an odd offset so every field moves.
  for (absl::Time t = Utc(1890, 1, 1, 0, 0, 0); t < Utc(2110, 1, 1, 0, 0, 0);
       t += absl::Hours(24 * 37 + 5) + absl::Seconds(7) + absl::Microseconds(31)) {
    EXPECT_EQ(TimestampText(t),
              absl::FormatTime("%E4Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()));
  }
}

TEST(CopyTextTest, MoneyHasTwoDecimals) {
  EXPECT_EQ(MoneyText(0), "0.00");
  EXPECT_EQ(MoneyText(5), "0.05");
  EXPECT_EQ(MoneyText(1234), "12.34");
  EXPECT_EQ(MoneyText(100), "1.00");
  EXPECT_EQ(MoneyText(-5), "-0.05");
  EXPECT_EQ(MoneyText(-1234), "-12.34");
  EXPECT_EQ(MoneyText(INT64_MAX), "92233720368547758.07");
  EXPECT_EQ(MoneyText(INT64_MIN), "-92233720368547758.08");
}

TEST(CopyTextTest, RowSeparatesFieldsByTabsAndWritesNullAsBackslashN) {
  std::string out;
  CopyRowWriter row(out);
  row.Int(42);
  row.Int(std::optional<int64_t>());
  row.Int(std::optional<int64_t>(7));
  row.Time(std::optional<absl::Time>());
  row.Money(std::optional<int64_t>(250));
  row.Money(std::optional<int64_t>());
  row.Bool(true);
  row.Bool(false);
  EXPECT_EQ(out, "42\t\\N\t7\t\\N\t2.50\t\\N\tt\tf");
}

TEST(CopyTextTest, ARowReadsBackAsItsValues) {
  const std::string name = "#1001\tgift\nwrap \\ \r";
  std::string out = "earlier row\n";  // a writer appends to what is there
  const size_t start = out.size();
  CopyRowWriter row(out);
  row.Escaped(Escaped("shop\t1"));
  row.Text(name);
  row.Text("");
  row.Time(Utc(2025, 12, 31, 23, 0, 0));
  row.Null();
  row.Text("\\N");
  const std::vector<std::string> fields =
      absl::StrSplit(absl::string_view(out).substr(start), '\t');
  std::vector<std::optional<std::string>> values;
  for (const std::string& f : fields) values.push_back(ReadField(f));
  EXPECT_THAT(values, ElementsAre("shop\t1", name, "", "2025-12-31 23:00:00.000000+00",
                                  std::nullopt, "\\N"));
  EXPECT_EQ(out.find('\n', start), std::string::npos);  // the row is one line
}

}  // namespace
}  // namespace autosync::worker
