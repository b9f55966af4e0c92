#include "sync-worker/connectors/link_header.h"

#include <gtest/gtest.h>

namespace autosync::worker {
namespace {

TEST(LinkHeaderTest, ShopifyPreviousAndNext) {
  const auto links = ParsePageLinks(
      "<https://s.myshopify.com/admin/api/2024-01/orders.json?limit=250&page_info=PREV>; "
      "rel=\"previous\", "
      "<https://s.myshopify.com/admin/api/2024-01/orders.json?limit=250&page_info=NEXT>; "
      "rel=\"next\"");
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(links->next,
            "https://s.myshopify.com/admin/api/2024-01/orders.json?limit=250&page_info=NEXT");
  EXPECT_EQ(links->previous,
            "https://s.myshopify.com/admin/api/2024-01/orders.json?limit=250&page_info=PREV");
  EXPECT_EQ(PageInfoFromUrl(*links->next), "NEXT");
}

TEST(LinkHeaderTest, LastPageHasNoNext) {
  const auto links = ParsePageLinks("<https://h/o.json?page_info=P>; rel=\"previous\"");
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(links->next, std::nullopt);
  EXPECT_TRUE(links->previous.has_value());
}

TEST(LinkHeaderTest, EmptyHeaderMeansOnePage) {
  const auto links = ParsePageLinks("");
  ASSERT_TRUE(links.ok());
  EXPECT_FALSE(links->next.has_value());
  EXPECT_FALSE(links->previous.has_value());
}

TEST(LinkHeaderTest, CaseWhitespaceAndBareValues) {
  const auto links =
      ParsePageLinks("  <https://h/a?page_info=1>\t;\tREL = NEXT ,<https://h/b> ;Rel=Prev  ");
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(links->next, "https://h/a?page_info=1");
  EXPECT_EQ(links->previous, "https://h/b");
}

TEST(LinkHeaderTest, RelListAndOtherParamsBeforeRel) {
  const auto parsed = ParseLinkHeader(
      "<https://h/x>; title=\"a; b, c\"; rel=\"next   last\"; type=\"text/html\", <https://h/y>; "
      "anchor=\"#z\"");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].url, "https://h/x");
  EXPECT_EQ((*parsed)[0].rels, (std::vector<std::string>{"next", "last"}));
  EXPECT_EQ((*parsed)[1].url, "https://h/y");
  EXPECT_TRUE((*parsed)[1].rels.empty());
}

TEST(LinkHeaderTest, CommasAndSemicolonsInsideTheUrlAreKept) {
  const auto links = ParsePageLinks("<https://h/x?fields=id,name;v=1&page_info=a%2Cb>; rel=next");
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(links->next, "https://h/x?fields=id,name;v=1&page_info=a%2Cb");
  EXPECT_EQ(PageInfoFromUrl(*links->next), "a,b");
}

TEST(LinkHeaderTest, OnlyTheFirstRelOfALinkCounts) {
  const auto links = ParsePageLinks("<https://h/x>; rel=\"previous\"; rel=\"next\"");
  ASSERT_TRUE(links.ok());
  EXPECT_FALSE(links->next.has_value());
  EXPECT_EQ(links->previous, "https://h/x");
}

TEST(LinkHeaderTest, FirstNextWins) {
  const auto links = ParsePageLinks("<https://h/1>; rel=next, <https://h/2>; rel=next");
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(links->next, "https://h/1");
}

TEST(LinkHeaderTest, EscapedQuoteInsideQuotedValue) {
  const auto parsed = ParseLinkHeader(R"(<https://h/x>; title="say \"hi\", ok"; rel="next")");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].rels, std::vector<std::string>{"next"});
}

TEST(LinkHeaderTest, MalformedHeadersAreRefused) {
  EXPECT_EQ(ParseLinkHeader("https://h/x; rel=next").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLinkHeader("<https://h/x; rel=next").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLinkHeader("<https://h/x>; rel=\"next").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLinkHeader("<https://h/x> rel=next").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LinkHeaderTest, PageInfoAbsent) {
  EXPECT_EQ(PageInfoFromUrl("https://h/orders.json?limit=250"), std::nullopt);
}

}  // namespace
}  // namespace autosync::worker
