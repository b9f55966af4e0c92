// Reading a GraphQL orders request: the body, the orders(…) arguments and the search query.
#include "tools/store-sim/graphql_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"

namespace autosync::storesim {
namespace {

using testing::GraphqlOrdersBody;
using testing::GraphqlQueryBody;

constexpr int64_t kT = 1705332600;  // 2024-01-15T15:30:00Z

// ---------------------------------------------------------------------------------------------
// Search query

TEST(GraphqlSearchTest, EveryOperatorBoundsTheRightSideExactly) {
  auto q = ParseOrdersSearch("updated_at:>=2024-01-15T15:30:00Z", 0);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->updated_min, kT);
  EXPECT_FALSE(q->updated_max.has_value());
  EXPECT_EQ(ParseOrdersSearch("updated_at:>2024-01-15T15:30:00Z", 0)->updated_min, kT + 1);
  EXPECT_EQ(ParseOrdersSearch("updated_at:<=2024-01-15T15:30:00Z", 0)->updated_max, kT);
  EXPECT_EQ(ParseOrdersSearch("updated_at:<2024-01-15T15:30:00Z", 0)->updated_max, kT - 1);
  auto c =
      ParseOrdersSearch("created_at:>=2024-01-15T15:30:00Z created_at:<2024-01-16T00:00:00Z", 0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->created_min, kT);
  EXPECT_EQ(c->created_max, kT + 8 * 3600 + 30 * 60 - 1);
  EXPECT_FALSE(c->updated_min.has_value());
  EXPECT_EQ(ParseOrdersSearch("created_at:>2024-01-15T15:30:00Z", 0)->created_min, kT + 1);
  EXPECT_EQ(ParseOrdersSearch("created_at:<=2024-01-15T15:30:00Z", 0)->created_max, kT);
}

TEST(GraphqlSearchTest, FractionalSecondsRoundTowardTheInsideOfTheRange) {
  EXPECT_EQ(ParseOrdersSearch("updated_at:>=2024-01-15T15:30:00.5Z", 0)->updated_min, kT + 1);
  EXPECT_EQ(ParseOrdersSearch("updated_at:>2024-01-15T15:30:00.5Z", 0)->updated_min, kT + 1);
  EXPECT_EQ(ParseOrdersSearch("updated_at:<=2024-01-15T15:30:00.5Z", 0)->updated_max, kT);
  EXPECT_EQ(ParseOrdersSearch("updated_at:<2024-01-15T15:30:00.5Z", 0)->updated_max, kT);
}

TEST(GraphqlSearchTest, QuotesOffsetsAndBareDatesAreAccepted) {
  EXPECT_EQ(ParseOrdersSearch("updated_at:>='2024-01-15T15:30:00Z'", 0)->updated_min, kT);
  EXPECT_EQ(ParseOrdersSearch("updated_at:>=\"2024-01-15T15:30:00Z\"", 0)->updated_min, kT);
  EXPECT_EQ(ParseOrdersSearch("updated_at:>='2024-01-15T10:30:00-05:00'", 0)->updated_min, kT);
  // A bare date is midnight at the store's offset.
  EXPECT_EQ(ParseOrdersSearch("updated_at:>=2024-01-15", -300)->updated_min, 1705276800 + 5 * 3600);
}

TEST(GraphqlSearchTest, TermsIntersectAndAnExplicitAndIsAccepted) {
  auto q = ParseOrdersSearch(
      "  updated_at:>='2024-01-01T00:00:00Z' AND updated_at:>=2024-01-15T15:30:00Z\t"
      "updated_at:<=2024-02-01T00:00:00Z updated_at:<='2024-03-01T00:00:00Z' ",
      0);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->updated_min, kT);
  EXPECT_EQ(q->updated_max, 1706745600);
  EXPECT_EQ(q->status, StatusFilter::kAny);
  EXPECT_EQ(q->sort, SortOrder::kUpdatedAsc);
}

TEST(GraphqlSearchTest, EmptySearchHasNoBounds) {
  for (const char* s : {"", "   "}) {
    auto q = ParseOrdersSearch(s, 0);
    ASSERT_TRUE(q.ok());
    EXPECT_FALSE(q->updated_min || q->updated_max || q->created_min || q->created_max);
    EXPECT_EQ(q->status, StatusFilter::kAny);
  }
}

TEST(GraphqlSearchTest, UnknownOrMalformedTermsAreRefusedByName) {
  for (const char* term :
       {"status:open", "financial_status:paid", "hello", "processed_at:>=2024-01-01",
        "updated_at:2024-01-15T15:30:00Z", "updated_at:=2024-01-15T15:30:00Z",
        "updated_at:>=yesterday", "updated_at:>=", "OR", "-updated_at:>=2024-01-01"}) {
    auto q = ParseOrdersSearch(absl::StrCat("updated_at:>=2024-01-01 ", term), 0);
    ASSERT_FALSE(q.ok()) << term;
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(q.status().message(), "query: ")) << q.status();
    EXPECT_TRUE(absl::StrContains(q.status().message(), term)) << q.status();
  }
  auto unclosed = ParseOrdersSearch("updated_at:>='2024-01-01T00:00:00Z", 0);
  ASSERT_FALSE(unclosed.ok());
  EXPECT_TRUE(absl::StrContains(unclosed.status().message(), "unclosed quote"));
}

// ---------------------------------------------------------------------------------------------
// Body and arguments

absl::StatusOr<GraphqlOrdersRequest> ParseRequest(const std::string& body) {
  auto b = ParseGraphqlBody(body);
  if (!b.ok()) return b.status();
  return ParseGraphqlOrdersRequest(*b, 0);
}

TEST(GraphqlRequestTest, ReadsTheConnectorQueryFromVariables) {
  auto r = ParseRequest(GraphqlOrdersBody(100, "abc", "updated_at:>='2024-01-15T15:30:00Z'"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first, 100);
  EXPECT_EQ(r->after, "abc");
  EXPECT_EQ(r->query.updated_min, kT);
  EXPECT_EQ(r->query.status, StatusFilter::kAny);
  EXPECT_EQ(r->query.sort, SortOrder::kUpdatedAsc);
  EXPECT_EQ(r->response_key, "orders");
  auto first_page = ParseRequest(GraphqlOrdersBody(250));
  ASSERT_TRUE(first_page.ok()) << first_page.status();
  EXPECT_FALSE(first_page->after.has_value());
}

TEST(GraphqlRequestTest, ReadsLiteralsAliasesAndIgnoresAnOperationNamedOrders) {
  auto r = ParseRequest(GraphqlQueryBody(
      "query orders {\n  recent: orders(first: 7 # a comment, with a comma\n"
      "    query: \"created_at:>=\\\"2024-01-15T15:30:00Z\\\"\" sortKey: UPDATED_AT, "
      "reverse: false, after: null) { nodes { id } } }",
      "null"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first, 7);
  EXPECT_EQ(r->response_key, "recent");
  EXPECT_EQ(r->query.created_min, kT);
  EXPECT_FALSE(r->after.has_value());
  // Variables under other names, and without variables at all.
  auto renamed =
      ParseRequest(GraphqlQueryBody("{ orders(first: $n) { nodes { id } } }", R"({"n": 3})"));
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->first, 3);
  EXPECT_TRUE(ParseRequest("{\"query\":\"{ orders (first: 1) { nodes { id } } }\"}").ok());
}

TEST(GraphqlRequestTest, BodiesThatAreNotGraphqlRequestsAreRefusedBeforeTheQuery) {
  for (const char* body : {"", "not json", "[1,2]", "{\"variables\":{}}", "{\"query\":42}",
                           "{\"query\":\"{ orders(first: 1) { nodes { id } } }\","
                           "\"variables\":[1]}"}) {
    auto b = ParseGraphqlBody(body);
    ASSERT_FALSE(b.ok()) << body;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto missing = ParseGraphqlBody("{}");
  EXPECT_TRUE(absl::StartsWith(missing.status().message(), "query:")) << missing.status();
}

TEST(GraphqlRequestTest, OtherQueriesAreUnsupported) {
  for (const char* query :
       {"{ shop { name } }", "{ draftOrders(first: 10) { nodes { id } } }",
        "{ orders { nodes { id } } }", "{ ordersCount(query: \"\") { count } }",
        "{ a: orders(first: 1) { nodes { id } } b: orders(first: 2) { nodes { id } } }",
        "{ orders(first: 1", "{ orders(first: [1]) { nodes { id } } }"}) {
    auto r = ParseRequest(GraphqlQueryBody(query));
    ASSERT_FALSE(r.ok()) << query;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented) << query << ": " << r.status();
  }
}

TEST(GraphqlRequestTest, FirstMustBeAnIntFrom1To250) {
  const std::string q = "query($first: Int) { orders(first: $first) { nodes { id } } }";
  for (const char* vars :
       {R"({"first": 0})", R"({"first": 251})", R"({"first": -1})", R"({"first": "10"})",
        R"({"first": 10.5})", R"({"first": null})", R"({})"}) {
    auto r = ParseRequest(GraphqlQueryBody(q, vars));
    ASSERT_FALSE(r.ok()) << vars;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << vars;
    EXPECT_TRUE(absl::StartsWith(r.status().message(), "first: ")) << r.status();
  }
  EXPECT_EQ(ParseRequest(GraphqlQueryBody(q, R"({"first": 1})"))->first, 1);
  EXPECT_EQ(ParseRequest(GraphqlQueryBody(q, R"({"first": 250})"))->first, 250);
}

TEST(GraphqlRequestTest, ArgumentsTheSimCannotHonourAreRefusedByName) {
  struct Case {
    const char* args;
    absl::StatusCode code;
    const char* names;
  };
  for (const Case& c : std::vector<Case>{
           {"first: 1, sortKey: CREATED_AT", absl::StatusCode::kUnimplemented, "sortKey"},
           {"first: 1, reverse: true", absl::StatusCode::kUnimplemented, "reverse"},
           {"last: 5", absl::StatusCode::kUnimplemented, "last"},
           {"first: 1, before: \"x\"", absl::StatusCode::kUnimplemented, "before"},
           {"first: 1, colour: RED", absl::StatusCode::kInvalidArgument, "colour"},
           {"first: 1, first: 2", absl::StatusCode::kInvalidArgument, "first"},
           {"first: 1, after: 5", absl::StatusCode::kInvalidArgument, "after"},
           {"first: 1, query: 5", absl::StatusCode::kInvalidArgument, "query"},
           {"first: 1, query: \"status:open\"", absl::StatusCode::kInvalidArgument, "status:open"},
       }) {
    auto r =
        ParseRequest(GraphqlQueryBody(absl::StrCat("{ orders(", c.args, ") { nodes { id } } }")));
    ASSERT_FALSE(r.ok()) << c.args;
    EXPECT_EQ(r.status().code(), c.code) << c.args << ": " << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.names)) << r.status();
  }
}

TEST(GraphqlRequestTest, BlockStringsAreReadAsGraphqlBlockStringValues) {
  auto r = ParseRequest(GraphqlQueryBody(
      "{ orders(first: 5, query: \"\"\"\n    updated_at:>='2025-01-01T00:00:00Z'\n  \"\"\") "
      "{ nodes { id } } }"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->query.updated_min, 1735689600);
  GraphqlBody body;
  body.query = "{ f(a: \"\"\"\n  x\n    y \\\"\"\"\n  \"\"\") { id } }";
  auto field = ParseGraphqlField(body, "f", /*allow_bare=*/false);
  ASSERT_TRUE(field.ok()) << field.status();
  EXPECT_EQ(field->arguments.at("a").text, "x\n  y \"\"\"");
  body.query = "{ f { id } }";
  EXPECT_FALSE(ParseGraphqlField(body, "f", /*allow_bare=*/true)->has_arguments);
  EXPECT_TRUE(absl::IsNotFound(ParseGraphqlField(body, "f", /*allow_bare=*/false).status()));
}

}  // namespace
}  // namespace autosync::storesim
