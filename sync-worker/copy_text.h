// PostgreSQL COPY text rows, built by hand: the worker's ingest path writes a page of orders as one
// block of COPY text (PostgreSQL docs, COPY "File Formats"). Written by hand rather than through
// pqxx::stream_to, whose per-field escaping and formatting was the worker's largest cost while
// ingesting (issue #9 profile). Pure logic: no I/O, no time-zone lookups.
//
// The format: fields split by tabs, rows by newlines; backslash, tab, newline and carriage return
// escaped as \\, \t, \n, \r; \N is NULL. A NUL byte is passed through unchanged: PostgreSQL text
// cannot hold one, so a COPY given one fails (as it did before this encoder was its own unit).
//
// Thread-safety: free functions and a writer over a caller's string; a CopyRowWriter is used by one
// thread at a time, like the string it appends to. Lifetime: a CopyRowWriter refers to `out`,
// which must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autosync::worker {

// Appends `text` with COPY's escapes (backslash, tab, newline, carriage return).
void AppendCopyEscaped(std::string& out, absl::string_view text);

// Appends `t` in UTC as "YYYY-MM-DD HH:MM:SS.ffffff+00", the text PostgreSQL reads for a
// timestamptz. Years 0001-9999 (the parsers accept no others): four digits, leading zeros kept
// (PostgreSQL reads "24-01-01" as a two-digit year and refuses it). No time-zone lookup.
void AppendTimestamp(std::string& out, absl::Time t);

// Appends an amount of cents as numeric text with two decimals: 1234 -> "12.34", -5 -> "-0.05".
void AppendMoney(std::string& out, int64_t cents);

// Appends the fields of one COPY row, the separator before each field but the first. Rows are
// separated by the caller (a newline between two rows, none after the last: what CopyRows sends).
class CopyRowWriter {
 public:
  explicit CopyRowWriter(std::string& out) : out_(out) {}

  // A field already in COPY text form (e.g. escaped once for every row of a page).
  void Escaped(absl::string_view copy_text) {
    Separate();
    out_.append(copy_text.data(), copy_text.size());
  }
  void Text(absl::string_view text) {
    Separate();
    AppendCopyEscaped(out_, text);
  }
  void Int(int64_t value) {
    Separate();
    absl::StrAppend(&out_, value);
  }
  void Int(const std::optional<int64_t>& value) { Optional(value, &CopyRowWriter::Int); }
  void Time(absl::Time t) {
    Separate();
    AppendTimestamp(out_, t);
  }
  void Time(const std::optional<absl::Time>& t) { Optional(t, &CopyRowWriter::Time); }
  void Money(int64_t cents) {
    Separate();
    AppendMoney(out_, cents);
  }
  void Money(const std::optional<int64_t>& cents) { Optional(cents, &CopyRowWriter::Money); }
  void Bool(bool value) {
    Separate();
    out_.push_back(value ? 't' : 'f');
  }
  // \N.
  void Null() {
    Separate();
    out_.append("\\N");
  }

 private:
  void Separate() {
    if (fields_++ > 0) out_.push_back('\t');
  }
  // `value` through `write`, or NULL when there is none.
  template <typename T>
  void Optional(const std::optional<T>& value, void (CopyRowWriter::*write)(T)) {
    if (value.has_value()) {
      (this->*write)(*value);
    } else {
      Null();
    }
  }

  std::string& out_;
  int fields_ = 0;
};

}  // namespace autosync::worker
