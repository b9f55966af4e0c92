#include "sync-worker/connectors/link_header.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sync-worker/connectors/url.h"

namespace autosync::worker {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// A cursor over the header text with the few primitives the grammar needs.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  size_t pos() const { return pos_; }
  void Advance() { ++pos_; }
  void SkipOws() {
    while (!AtEnd() && IsOws(Peek())) ++pos_;
  }

  // Reads up to (not including) the first of `stops` or whitespace.
  absl::string_view Token(absl::string_view stops) {
    const size_t start = pos_;
    while (!AtEnd() && !IsOws(Peek()) && stops.find(Peek()) == absl::string_view::npos) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // At an opening '"': reads the quoted-string, undoing backslash escapes.
  absl::StatusOr<std::string> Quoted() {
    const size_t start = pos_;
    ++pos_;  // the opening quote
    std::string out;
    while (!AtEnd()) {
      const char c = Peek();
      ++pos_;
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd()) break;
        out.push_back(Peek());
        ++pos_;
        continue;
      }
      out.push_back(c);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("Link header: unterminated quoted string at offset ", start));
  }

  // At '<': reads the target up to '>'.
  absl::StatusOr<std::string> Target() {
    const size_t start = pos_;
    const size_t close = text_.find('>', pos_ + 1);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("Link header: '<' at offset ", start, " has no matching '>'"));
    }
    pos_ = close + 1;
    return std::string(absl::StripAsciiWhitespace(text_.substr(start + 1, close - start - 1)));
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<LinkValue>> ParseLinkHeader(absl::string_view header) {
  std::vector<LinkValue> links;
  Scanner scan(header);
  while (true) {
    // Empty list elements (",,") are allowed by the list syntax of RFC 9110 §5.6.1.
    while (!scan.AtEnd() && (IsOws(scan.Peek()) || scan.Peek() == ',')) scan.Advance();
    if (scan.AtEnd()) break;
    if (scan.Peek() != '<') {
      return absl::InvalidArgumentError(
          absl::StrCat("Link header: expected '<' at offset ", scan.pos()));
    }
    LinkValue link;
    absl::StatusOr<std::string> target = scan.Target();
    if (!target.ok()) return target.status();
    link.url = *std::move(target);
    bool saw_rel = false;
    while (true) {
      scan.SkipOws();
      if (scan.AtEnd() || scan.Peek() == ',') break;
      if (scan.Peek() != ';') {
        return absl::InvalidArgumentError(
            absl::StrCat("Link header: expected ';' or ',' at offset ", scan.pos()));
      }
      scan.Advance();
      scan.SkipOws();
      const std::string name = absl::AsciiStrToLower(scan.Token("=;,"));
      scan.SkipOws();
      std::string value;
      if (!scan.AtEnd() && scan.Peek() == '=') {
        scan.Advance();
        scan.SkipOws();
        if (!scan.AtEnd() && scan.Peek() == '"') {
          absl::StatusOr<std::string> quoted = scan.Quoted();
          if (!quoted.ok()) return quoted.status();
          value = *std::move(quoted);
        } else {
          value = std::string(scan.Token(";,"));
        }
      }
      if (name == "rel" && !saw_rel) {
        saw_rel = true;
        for (absl::string_view rel :
             absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
          link.rels.push_back(absl::AsciiStrToLower(rel));
        }
      }
    }
    links.push_back(std::move(link));
  }
  return links;
}

absl::StatusOr<PageLinks> ParsePageLinks(absl::string_view header) {
  absl::StatusOr<std::vector<LinkValue>> links = ParseLinkHeader(header);
  if (!links.ok()) return links.status();
  PageLinks out;
  for (const LinkValue& link : *links) {
    for (const std::string& rel : link.rels) {
      if (rel == "next" && !out.next) out.next = link.url;
      if ((rel == "previous" || rel == "prev") && !out.previous) out.previous = link.url;
    }
  }
  return out;
}

std::optional<std::string> PageInfoFromUrl(absl::string_view url) {
  return QueryParam(url, "page_info");
}

}  // namespace autosync::worker
