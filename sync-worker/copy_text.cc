// PostgreSQL COPY text encoding (copy_text.h).
#include "sync-worker/copy_text.h"

#include "common/money.h"

namespace autosync::worker {
namespace {

void AppendDigits(std::string& out, int64_t value, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

}  // namespace

void AppendCopyEscaped(std::string& out, absl::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\' && c != '\t' && c != '\n' && c != '\r') continue;
    out.append(text.data() + start, i - start);
    out.push_back('\\');
    out.push_back(c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
    start = i + 1;
  }
  out.append(text.data() + start, text.size() - start);
}

// Days to civil date after H. Hinnant's "chrono-compatible low-level date algorithms" (public
// domain description of the proleptic Gregorian calendar arithmetic).
void AppendTimestamp(std::string& out, absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {
    fraction += 1000000;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t of_day = seconds % 86400;
  if (of_day < 0) {
    of_day += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  AppendDigits(out, year, 4);
  out.push_back('-');
  AppendDigits(out, month, 2);
  out.push_back('-');
  AppendDigits(out, day, 2);
  out.push_back(' ');
  AppendDigits(out, of_day / 3600, 2);
  out.push_back(':');
  AppendDigits(out, of_day / 60 % 60, 2);
  out.push_back(':');
  AppendDigits(out, of_day % 60, 2);
  out.push_back('.');
  AppendDigits(out, fraction, 6);
  out.append("+00");
}

// The services' one money formatter (common/money.h).
void AppendMoney(std::string& out, int64_t cents) { common::AppendCents(out, cents); }

}  // namespace autosync::worker
