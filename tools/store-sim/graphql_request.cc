#include "tools/store-sim/graphql_request.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"

namespace autosync::storesim {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string Describe(const GraphqlValue& v) {
  switch (v.kind) {
    case GraphqlValue::Kind::kNull:
      return "null";
    case GraphqlValue::Kind::kInt:
      return absl::StrCat(v.int_value);
    case GraphqlValue::Kind::kString:
      return "a String";
    case GraphqlValue::Kind::kBool:
      return v.bool_value ? "true" : "false";
    case GraphqlValue::Kind::kEnum:
      return v.text;
    case GraphqlValue::Kind::kOther:
      return v.text;
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// The orders(...) argument list: GraphQL's lexical rules for names, variables, Int, String and
// enum/boolean/null literals; commas, whitespace and # comments are ignored.

class ArgumentScanner final {
 public:
  ArgumentScanner(absl::string_view text, size_t at) : s_(text), i_(at) {}

  void SkipIgnored() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[i_]; }
  bool Take(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  std::string Name() {
    size_t start = i_;
    if (!AtEnd() && IsNameStart(s_[i_])) {
      while (!AtEnd() && IsNameChar(s_[i_])) ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }

  // One value; `$name` resolves from `variables` (absent: null).
  absl::StatusOr<GraphqlValue> Value(absl::string_view arg,
                                     const std::map<std::string, GraphqlValue>& variables) {
    GraphqlValue v;
    char c = Peek();
    if (c == '$') {
      ++i_;
      std::string name = Name();
      if (name.empty()) {
        return absl::UnimplementedError(absl::StrCat(arg, ": expected a variable name after '$'"));
      }
      auto it = variables.find(name);
      return it == variables.end() ? GraphqlValue{} : it->second;
    }
    if (c == '"') return StringLiteral(arg);
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i_;
      if (c == '-') ++i_;
      while (!AtEnd() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (Peek() == '.' || Peek() == 'e' || Peek() == 'E') {
        while (!AtEnd() &&
               (IsNameChar(s_[i_]) || s_[i_] == '.' || s_[i_] == '-' || s_[i_] == '+')) {
          ++i_;
        }
        v.kind = GraphqlValue::Kind::kOther;
        v.text = "a Float";
        return v;
      }
      absl::string_view digits = s_.substr(start, i_ - start);
      if (!absl::SimpleAtoi(digits, &v.int_value)) {
        return absl::InvalidArgumentError(
            absl::StrCat(arg, ": '", digits, "' is not an Int literal"));
      }
      v.kind = GraphqlValue::Kind::kInt;
      return v;
    }
    if (IsNameStart(c)) {
      std::string name = Name();
      if (name == "null") return v;
      if (name == "true" || name == "false") {
        v.kind = GraphqlValue::Kind::kBool;
        v.bool_value = name == "true";
        return v;
      }
      v.kind = GraphqlValue::Kind::kEnum;
      v.text = std::move(name);
      return v;
    }
    if (c == '[' || c == '{') {
      return absl::UnimplementedError(
          absl::StrCat(arg, ": list and object values are not supported by store-sim"));
    }
    return absl::UnimplementedError(absl::StrCat(arg, ": cannot read the value"));
  }

 private:
  // A GraphQL string has JSON's escapes (\" \\ \/ \b \f \n \r \t \uXXXX) and no raw line
  // breaks, so once its end is found simdjson decodes it.
  absl::StatusOr<GraphqlValue> StringLiteral(absl::string_view arg) {
    if (s_.substr(i_, 3) == "\"\"\"") return BlockString(arg);
    const size_t start = i_++;
    while (!AtEnd() && s_[i_] != '"' && s_[i_] != '\n') i_ += s_[i_] == '\\' ? 2 : 1;
    if (AtEnd() || s_[i_] != '"') {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": unterminated string"));
    }
    ++i_;
    absl::string_view literal = s_.substr(start, i_ - start);
    simdjson::dom::parser parser;
    std::string_view decoded;
    if (parser.parse(simdjson::padded_string(literal.data(), literal.size())).get(decoded) !=
        simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": bad escape in string"));
    }
    GraphqlValue v;
    v.kind = GraphqlValue::Kind::kString;
    v.text = std::string(decoded);
    return v;
  }

  // """…""": raw text up to the closing """ (\""" stands for """), then GraphQL's
  // BlockStringValue: common indentation removed, blank first and last lines dropped.
  absl::StatusOr<GraphqlValue> BlockString(absl::string_view arg) {
    i_ += 3;
    std::string raw;
    while (true) {
      if (AtEnd()) return absl::InvalidArgumentError(absl::StrCat(arg, ": unterminated string"));
      if (s_.substr(i_, 4) == "\\\"\"\"") {
        raw += "\"\"\"";
        i_ += 4;
      } else if (s_.substr(i_, 3) == "\"\"\"") {
        i_ += 3;
        break;
      } else {
        raw.push_back(s_[i_++]);
      }
    }
    std::vector<std::string> lines =
        absl::StrSplit(absl::StrReplaceAll(raw, {{"\r\n", "\n"}}), absl::ByAnyChar("\n\r"));
    auto indent_of = [](const std::string& line) {
      size_t n = 0;
      while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
      return n;
    };
    size_t common = std::string::npos;
    for (size_t k = 1; k < lines.size(); ++k) {
      size_t n = indent_of(lines[k]);
      if (n < lines[k].size()) common = std::min(common, n);
    }
    if (common != std::string::npos) {
      for (size_t k = 1; k < lines.size(); ++k)
        lines[k].erase(0, std::min(common, lines[k].size()));
    }
    auto blank = [&](const std::string& line) { return indent_of(line) == line.size(); };
    while (!lines.empty() && blank(lines.front())) lines.erase(lines.begin());
    while (!lines.empty() && blank(lines.back())) lines.pop_back();
    GraphqlValue v;
    v.kind = GraphqlValue::Kind::kString;
    v.text = absl::StrJoin(lines, "\n");
    return v;
  }

  absl::string_view s_;
  size_t i_;
};

// The word that ends before position `end`, whitespace skipped.
absl::string_view WordBefore(absl::string_view s, size_t end) {
  size_t i = end;
  while (i > 0 && absl::ascii_isspace(static_cast<unsigned char>(s[i - 1]))) --i;
  size_t stop = i;
  while (i > 0 && IsNameChar(s[i - 1])) --i;
  return s.substr(i, stop - i);
}

struct FoundField {
  size_t open = 0;    // index of '(' (or of '{' for a field without arguments)
  std::string alias;  // empty: none
};

// Finds the one `name(` field (or, with `allow_bare`, also `name {`), not an operation named
// `name`. NotFound when there is none.
absl::StatusOr<FoundField> FindField(absl::string_view q, absl::string_view name, bool allow_bare) {
  std::vector<FoundField> found;
  for (size_t at = q.find(name); at != absl::string_view::npos; at = q.find(name, at + 1)) {
    if (at > 0 && IsNameChar(q[at - 1])) continue;
    size_t p = at + name.size();
    if (p < q.size() && IsNameChar(q[p])) continue;
    while (p < q.size() && absl::ascii_isspace(static_cast<unsigned char>(q[p]))) ++p;
    if (p >= q.size() || (q[p] != '(' && !(allow_bare && q[p] == '{'))) continue;
    absl::string_view before = WordBefore(q, at);
    if (before == "query" || before == "mutation" || before == "subscription") continue;
    FoundField f;
    f.open = p;
    size_t i = at;
    while (i > 0 && absl::ascii_isspace(static_cast<unsigned char>(q[i - 1]))) --i;
    if (i > 0 && q[i - 1] == ':') {
      absl::string_view alias = WordBefore(q, i - 1);
      if (alias.empty()) {
        return absl::UnimplementedError(absl::StrCat("cannot read the alias before ", name, "("));
      }
      f.alias = std::string(alias);
    }
    found.push_back(std::move(f));
  }
  if (found.empty()) return absl::NotFoundError(absl::StrCat("no ", name, " field"));
  if (found.size() > 1) {
    return absl::UnimplementedError(
        absl::StrCat("store-sim answers one ", name, "(…) field per query"));
  }
  return found.front();
}

// One bound of the search query on the orders' whole-second times.
absl::Status ApplySearchTerm(absl::string_view term, int offset_minutes, OrdersQuery& q) {
  auto unknown = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("query: unknown search term '", term,
                     "' (store-sim understands updated_at and created_at with >=, <=, > or <)"));
  };
  size_t colon = term.find(':');
  if (colon == absl::string_view::npos) return unknown();
  absl::string_view field = term.substr(0, colon);
  if (field != "updated_at" && field != "created_at") return unknown();
  absl::string_view rest = term.substr(colon + 1);
  absl::string_view op;
  for (absl::string_view candidate : {">=", "<=", ">", "<"}) {
    if (absl::StartsWith(rest, candidate)) {
      op = candidate;
      break;
    }
  }
  if (op.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query: '", term, "': expected >=, <=, > or < after '", field, ":'"));
  }
  absl::string_view value = rest.substr(op.size());
  if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("query: '", term, "': missing a time"));
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) {
    absl::StatusOr<int64_t> day = value.size() == 10 ? ParseTimeParam(value, offset_minutes)
                                                     : absl::InvalidArgumentError("not a date");
    if (!day.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query: '", term, "': '", value, "' is not an RFC 3339 timestamp or YYYY-MM-DD date"));
    }
    t = absl::FromUnixSeconds(*day);
  }
  const int64_t floor = absl::ToUnixSeconds(t);  // rounds toward the past
  const int64_t ceil = floor + (absl::FromUnixSeconds(floor) != t ? 1 : 0);
  std::optional<int64_t>& min = field == "updated_at" ? q.updated_min : q.created_min;
  std::optional<int64_t>& max = field == "updated_at" ? q.updated_max : q.created_max;
  auto raise_min = [&](int64_t v) { min = std::max(min.value_or(INT64_MIN), v); };
  auto lower_max = [&](int64_t v) { max = std::min(max.value_or(INT64_MAX), v); };
  if (op == ">=") {
    raise_min(ceil);
  } else if (op == ">") {
    raise_min(floor + 1);
  } else if (op == "<=") {
    lower_max(floor);
  } else {
    lower_max(ceil - 1);
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Request

absl::StatusOr<GraphqlBody> ParseGraphqlBody(absl::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(body.data(), body.size())).get(doc) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body: not valid JSON (expected {\"query\": …})");
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body: expected a JSON object with a query");
  }
  GraphqlBody out;
  std::string_view query;
  if (obj["query"].get(query) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("query: required parameter missing or invalid");
  }
  out.query = std::string(query);
  simdjson::dom::element vars;
  if (obj["variables"].get(vars) != simdjson::SUCCESS || vars.is_null()) return out;
  simdjson::dom::object vars_obj;
  if (vars.get(vars_obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("variables: expected a JSON object");
  }
  for (auto [key, value] : vars_obj) {
    GraphqlValue v;
    std::string_view text;
    if (value.is_null()) {
      // kNull
    } else if (value.get(v.int_value) == simdjson::SUCCESS) {
      v.kind = GraphqlValue::Kind::kInt;
    } else if (value.get(text) == simdjson::SUCCESS) {
      v.kind = GraphqlValue::Kind::kString;
      v.text = std::string(text);
    } else if (value.get(v.bool_value) == simdjson::SUCCESS) {
      v.kind = GraphqlValue::Kind::kBool;
    } else {
      v.kind = GraphqlValue::Kind::kOther;
      v.text = value.is_array()    ? "a list"
               : value.is_object() ? "an object"
               : value.is_double() ? "a Float"
                                   : "an integer out of range";
    }
    out.variables[std::string(key)] = std::move(v);
  }
  return out;
}

absl::StatusOr<GraphqlField> ParseGraphqlField(const GraphqlBody& body, absl::string_view name,
                                               bool allow_bare) {
  auto found = FindField(body.query, name, allow_bare);
  if (!found.ok()) return found.status();
  GraphqlField field;
  field.alias = found->alias;
  if (body.query[found->open] != '(') return field;
  field.has_arguments = true;
  ArgumentScanner scan(body.query, found->open + 1);
  while (true) {
    scan.SkipIgnored();
    if (scan.AtEnd()) {
      return absl::UnimplementedError(absl::StrCat(name, ": the argument list is not closed"));
    }
    if (scan.Take(')')) break;
    std::string arg = scan.Name();
    if (arg.empty()) {
      return absl::UnimplementedError(absl::StrCat(name, ": cannot read an argument name at '",
                                                   std::string(1, scan.Peek()), "'"));
    }
    scan.SkipIgnored();
    if (!scan.Take(':')) {
      return absl::UnimplementedError(absl::StrCat(name, ": expected ':' after ", arg));
    }
    scan.SkipIgnored();
    auto value = scan.Value(arg, body.variables);
    if (!value.ok()) return value.status();
    if (!field.arguments.emplace(arg, *std::move(value)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("There can be only one argument named '", arg, "'"));
    }
  }
  return field;
}

absl::StatusOr<GraphqlOrdersRequest> ParseGraphqlOrdersRequest(const GraphqlBody& body,
                                                               int offset_minutes) {
  auto field = ParseGraphqlField(body, "orders", /*allow_bare=*/false);
  if (absl::IsNotFound(field.status())) {
    return absl::UnimplementedError(
        "store-sim answers only the orders connection: the query must select "
        "orders(first: …) { pageInfo { hasNextPage endCursor } nodes { … } }");
  }
  if (!field.ok()) return field.status();
  GraphqlOrdersRequest req;
  if (!field->alias.empty()) req.response_key = field->alias;
  const std::map<std::string, GraphqlValue>& args = field->arguments;
  // Without a query argument: every order, in the connection's one order.
  req.query.status = StatusFilter::kAny;
  req.query.sort = SortOrder::kUpdatedAsc;

  using Kind = GraphqlValue::Kind;
  for (const auto& [name, v] : args) {
    if (name == "first") {
      if (v.kind == Kind::kNull) continue;
      if (v.kind != Kind::kInt || v.int_value < 1 || v.int_value > kGraphqlMaxFirst) {
        return absl::InvalidArgumentError(absl::StrCat("first: expected an Int between 1 and ",
                                                       kGraphqlMaxFirst, ", got ", Describe(v)));
      }
      req.first = static_cast<int>(v.int_value);
    } else if (name == "after") {
      if (v.kind == Kind::kNull) continue;
      if (v.kind != Kind::kString) {
        return absl::InvalidArgumentError(
            absl::StrCat("after: expected a String cursor, got ", Describe(v)));
      }
      req.after = v.text;
    } else if (name == "query") {
      if (v.kind == Kind::kNull) continue;
      if (v.kind != Kind::kString) {
        return absl::InvalidArgumentError(
            absl::StrCat("query: expected a String, got ", Describe(v)));
      }
      auto search = ParseOrdersSearch(v.text, offset_minutes);
      if (!search.ok()) return search.status();
      req.query = *std::move(search);
    } else if (name == "sortKey") {
      bool updated = (v.kind == Kind::kEnum || v.kind == Kind::kString) && v.text == "UPDATED_AT";
      if (v.kind != Kind::kNull && !updated) {
        return absl::UnimplementedError(
            absl::StrCat("sortKey: store-sim sorts orders by UPDATED_AT only, got ",
                         v.kind == Kind::kString ? v.text : Describe(v)));
      }
    } else if (name == "reverse") {
      if (v.kind == Kind::kBool && v.bool_value) {
        return absl::UnimplementedError("reverse: store-sim sorts ascending only");
      }
      if (v.kind != Kind::kBool && v.kind != Kind::kNull) {
        return absl::InvalidArgumentError(
            absl::StrCat("reverse: expected a Boolean, got ", Describe(v)));
      }
    } else if (name == "last" || name == "before" || name == "savedSearchId") {
      if (v.kind != Kind::kNull) {
        return absl::UnimplementedError(
            absl::StrCat(name, ": not supported by store-sim (it pages forward with first/after)"));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("Field 'orders' doesn't accept argument '", name, "'"));
    }
  }
  if (req.first == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first: you must provide first (an Int between 1 and ", kGraphqlMaxFirst, ")"));
  }
  return req;
}

absl::StatusOr<OrdersQuery> ParseOrdersSearch(absl::string_view search, int offset_minutes) {
  OrdersQuery q;
  q.status = StatusFilter::kAny;
  q.sort = SortOrder::kUpdatedAsc;
  size_t i = 0;
  const size_t n = search.size();
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (true) {
    while (i < n && is_space(search[i])) ++i;
    if (i >= n) break;
    const size_t start = i;
    char quote = 0;
    for (; i < n && (quote != 0 || !is_space(search[i])); ++i) {
      if (quote != 0) {
        if (search[i] == quote) quote = 0;
      } else if (search[i] == '\'' || search[i] == '"') {
        quote = search[i];
      }
    }
    absl::string_view term = search.substr(start, i - start);
    if (quote != 0) {
      return absl::InvalidArgumentError(absl::StrCat("query: '", term, "': unclosed quote"));
    }
    if (term == "AND") continue;
    absl::Status st = ApplySearchTerm(term, offset_minutes, q);
    if (!st.ok()) return st;
  }
  return q;
}

}  // namespace autosync::storesim
