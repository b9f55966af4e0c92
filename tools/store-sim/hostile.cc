#include "tools/store-sim/hostile.h"

namespace autosync::storesim {

const std::vector<std::string>& HostileTexts() {
  static const std::vector<std::string>* texts = new std::vector<std::string>{
      "O'Reilly's \"quoted\" order'); DROP TABLE orders; --",
      "'; SELECT pg_sleep(30); --",
      "back\\slash \\\\ two, \\' escaped quote, \\x41 \\101 \\u0041",
      "\\N",                        // exactly COPY's NULL marker, as text
      "\\.",                        // exactly COPY's end-of-data marker
      "line one\n\\.\nline three",  // end-of-data marker on a line of its own
      "tab\there\tand\tthere",
      "new\nline, carriage\rreturn, both\r\n",
      "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD "                          // 😀👍🏽
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",  // family ZWJ
      "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 "  // שלום مرحبا
      "\xE2\x80\xAE"
      "reversed\xE2\x80\xAC",                           // RLO … PDF
      "e\xCC\x81 a\xCC\x88 Z\xCD\x91\xCD\xA2\xCC\xB4",  // combining marks
      "\xE2\x80\xA8line sep\xE2\x80\xA9para sep\xEF\xBB\xBF BOM",
      "%s %n %x {} {0} $1 $$ :name ? @p",
      "\x01\x02\x1b[31mred\x1b[0m\x7f\x08\x0c\x0b",
      "",
      "\"\"\"''' `` \\\\\\\\ ;;; --",
      "100% \"real\" caf\xC3\xA9 \xE2\x82\xAC\xC2\xA3\xC2\xA5",  // café €£¥
  };
  return *texts;
}

const std::string& HostileText(int64_t key) {
  const std::vector<std::string>& texts = HostileTexts();
  const int64_t n = static_cast<int64_t>(texts.size());
  return texts[static_cast<size_t>(((key % n) + n) % n)];
}

std::string HugeHostileText(int variant) {
  constexpr size_t kTarget = size_t{1} << 20;
  std::string out;
  out.reserve(kTarget + 256);
  for (int64_t i = variant; out.size() < kTarget; ++i) {
    out += HostileText(i);
    out += '|';
  }
  return out;
}

}  // namespace autosync::storesim
