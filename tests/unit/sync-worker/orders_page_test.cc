#include "sync-worker/connectors/orders_page.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace autosync::worker {
namespace {

absl::Time Utc(int y, int m, int d, int hh, int mm, int ss) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

// One complete order as the Admin API sends it (trimmed to the fields we read plus a few we don't).
constexpr char kPaidOrder[] = R"({
  "id": 450789469,
  "admin_graphql_api_id": "gid://shopify/Order/450789469",
  "name": "#1001",
  "email": "bob.norman@mail.example.com",
  "customer": {"id": 207119551, "email": "bob.norman@mail.example.com"},
  "created_at": "2024-01-15T10:30:00-05:00",
  "updated_at": "2024-01-16T08:00:00.123Z",
  "processed_at": "2024-01-15T10:30:01-05:00",
  "cancelled_at": null,
  "currency": "USD",
  "total_price": "598.94",
  "subtotal_price": "597.00",
  "total_tax": "11.94",
  "total_discounts": "10.00",
  "current_total_price": "498.94",
  "financial_status": "partially_refunded",
  "test": false,
  "line_items": [{"id": 1, "price": "199.00"}],
  "refunds": [
    {"id": 1, "created_at": "2024-01-16T08:00:00Z",
     "transactions": [{"id": 11, "amount": "60.00", "kind": "refund", "status": "success"},
                      {"id": 12, "amount": "40.00", "kind": "refund", "status": "success"}]},
    {"id": 2, "created_at": "2024-01-16T09:00:00Z",
     "transactions": [{"id": 13, "amount": "25.00", "kind": "refund", "status": "failure"}]}
  ]
})";

std::string Page(absl::string_view orders) { return absl::StrCat(R"({"orders":[)", orders, "]}"); }

TEST(OrdersPageTest, ParsesAPaidOrderWithRefundsSummed) {
  const auto orders = ParseOrdersPage(Page(kPaidOrder));
  ASSERT_TRUE(orders.ok()) << orders.status();
  ASSERT_EQ(orders->size(), 1u);
  const Order& o = (*orders)[0];
  EXPECT_EQ(o.id, 450789469);
  EXPECT_EQ(o.name, "#1001");
  EXPECT_EQ(o.email, "bob.norman@mail.example.com");
  EXPECT_EQ(o.customer_id, 207119551);
  EXPECT_EQ(o.created_at, Utc(2024, 1, 15, 15, 30, 0));  // -05:00 applied
  EXPECT_EQ(o.updated_at, Utc(2024, 1, 16, 8, 0, 0) + absl::Milliseconds(123));
  EXPECT_EQ(o.processed_at, Utc(2024, 1, 15, 15, 30, 1));
  EXPECT_EQ(o.cancelled_at, std::nullopt);
  EXPECT_EQ(o.currency, "USD");
  EXPECT_EQ(o.total_price_cents, 59894);
  EXPECT_EQ(o.subtotal_price_cents, 59700);
  EXPECT_EQ(o.total_tax_cents, 1194);
  EXPECT_EQ(o.total_discounts_cents, 1000);
  EXPECT_EQ(o.current_total_price_cents, 49894);
  EXPECT_EQ(o.refunded_cents, 10000);  // the failed 25.00 attempt is not money returned
  EXPECT_EQ(o.financial_status, "partially_refunded");
  EXPECT_FALSE(o.test);
}

TEST(OrdersPageTest, GuestCheckoutHasNoCustomer) {
  const std::string guest = R"({"id": 1, "name": "#1002", "email": null, "customer": null,
    "created_at": "2024-02-01T00:00:00Z", "updated_at": "2024-02-01T00:00:00Z",
    "currency": "EUR", "total_price": "10.00", "financial_status": "paid", "test": false})";
  const auto orders = ParseOrdersPage(Page(guest));
  ASSERT_TRUE(orders.ok()) << orders.status();
  const Order& o = (*orders)[0];
  EXPECT_EQ(o.customer_id, std::nullopt);
  EXPECT_EQ(o.email, "");
  EXPECT_EQ(o.refunded_cents, 0);
  EXPECT_EQ(o.current_total_price_cents, std::nullopt);
  EXPECT_EQ(o.processed_at, std::nullopt);
  EXPECT_EQ(o.subtotal_price_cents, 0);
}

TEST(OrdersPageTest, MissingCustomerKeyIsAlsoAGuest) {
  const std::string guest = R"({"id": 3, "created_at": "2024-02-01T00:00:00Z",
    "updated_at": "2024-02-01T00:00:00Z", "currency": "EUR", "total_price": "1"})";
  const auto orders = ParseOrdersPage(Page(guest));
  ASSERT_TRUE(orders.ok()) << orders.status();
  EXPECT_FALSE((*orders)[0].customer_id.has_value());
}

TEST(OrdersPageTest, TestAndCancelledOrdersAreFlagged) {
  const std::string order = R"({"id": 2, "customer": {"id": "77"}, "test": true,
    "created_at": "2024-02-01T00:00:00+09:30", "updated_at": "2024-02-02T00:00:00+00:00",
    "cancelled_at": "2024-02-02T00:00:00+00:00", "currency": "JPY", "total_price": "5000",
    "financial_status": "voided"})";
  const auto orders = ParseOrdersPage(Page(order));
  ASSERT_TRUE(orders.ok()) << orders.status();
  const Order& o = (*orders)[0];
  EXPECT_TRUE(o.test);
  EXPECT_EQ(o.customer_id, 77);  // string ids are accepted
  EXPECT_EQ(o.cancelled_at, Utc(2024, 2, 2, 0, 0, 0));
  EXPECT_EQ(o.created_at, Utc(2024, 1, 31, 14, 30, 0));
  EXPECT_EQ(o.total_price_cents, 500000);
}

TEST(OrdersPageTest, StringsWithQuotesBackslashesAndUnicodeAreKeptExactly) {
  const std::string order = R"({"id": 9, "name": "#1\"0\\0\/3",
    "email": "z\u00e9\u4e2d\ud83d\ude00@x.example",
    "created_at": "2024-02-01T00:00:00Z", "updated_at": "2024-02-01T00:00:00Z",
    "currency": "USD", "total_price": "1.00"})";
  const auto orders = ParseOrdersPage(Page(order));
  ASSERT_TRUE(orders.ok()) << orders.status();
  EXPECT_EQ((*orders)[0].name, "#1\"0\\0/3");
  EXPECT_EQ((*orders)[0].email, "z\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80@x.example");
}

TEST(OrdersPageTest, EmptyPage) {
  const auto orders = ParseOrdersPage(R"({"orders":[]})");
  ASSERT_TRUE(orders.ok());
  EXPECT_TRUE(orders->empty());
}

TEST(OrdersPageTest, NotJsonOrTruncatedIsDataLoss) {
  const std::string full = Page(kPaidOrder);
  for (const std::string& body :
       {std::string("<html>502 Bad Gateway</html>"), std::string(""),
        full.substr(0, full.size() / 2), full.substr(0, full.size() - 1)}) {
    EXPECT_EQ(ParseOrdersPage(body).status().code(), absl::StatusCode::kDataLoss)
        << body.substr(0, 40);
  }
}

TEST(OrdersPageTest, WrongShapeIsInvalidArgumentNamingTheProblem) {
  EXPECT_EQ(ParseOrdersPage(R"({"errors":"Not Found"})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseOrdersPage(R"({"orders":{}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseOrdersPage(R"([1,2])").status().code(), absl::StatusCode::kInvalidArgument);
}

struct BadField {
  std::string from;  // text replaced in kPaidOrder (second order of the page)
  std::string to;
  std::string expected_in_message;
};

class OrdersPageBadFieldTest : public ::testing::TestWithParam<BadField> {};

TEST_P(OrdersPageBadFieldTest, NamesTheFieldAndOrderIndex) {
  const BadField& bad = GetParam();
  const std::string second = absl::StrReplaceAll(kPaidOrder, {{bad.from, bad.to}});
  ASSERT_NE(second, kPaidOrder) << "replacement did not apply";
  const auto orders = ParseOrdersPage(Page(absl::StrCat(kPaidOrder, ",", second)));
  ASSERT_EQ(orders.status().code(), absl::StatusCode::kInvalidArgument) << orders.status();
  EXPECT_NE(orders.status().message().find(bad.expected_in_message), absl::string_view::npos)
      << orders.status();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OrdersPageBadFieldTest,
    ::testing::Values(
        BadField{R"("id": 450789469,)", "", "orders[1].id: missing"},
        BadField{R"("id": 450789469)", R"("id": 1.5)", "orders[1].id"},
        BadField{R"("id": 450789469)", R"("id": 18446744073709551615)", "orders[1].id"},
        BadField{R"("total_price": "598.94")", R"("total_price": 598.94)",
                 "orders[1].total_price: expected a decimal string"},
        BadField{R"("total_price": "598.94")", R"("total_price": "1e3")", "orders[1].total_price"},
        BadField{R"("total_price": "598.94",)", "", "orders[1].total_price: missing"},
        BadField{R"("total_tax": "11.94")", R"("total_tax": "")", "orders[1].total_tax"},
        BadField{R"("created_at": "2024-01-15T10:30:00-05:00")", R"("created_at": "2024-01-15")",
                 "orders[1].created_at"},
        BadField{R"("updated_at": "2024-01-16T08:00:00.123Z")",
                 R"("updated_at": "2024-01-16 08:00:00")", "orders[1].updated_at"},
        // Found by tests/fuzz/orders_page_fuzz: absl::ParseTime alone accepts these, and the
        // writer cannot store them (a 5-digit year, an infinite instant, year 10000 in UTC).
        BadField{R"("created_at": "2024-01-15T10:30:00-05:00")",
                 R"("created_at": "20204-1-01T00:00:00Z")", "orders[1].created_at"},
        BadField{R"("created_at": "2024-01-15T10:30:00-05:00")",
                 R"("created_at": "999999999999-01-01T00:00:00Z")", "orders[1].created_at"},
        BadField{R"("updated_at": "2024-01-16T08:00:00.123Z")",
                 R"("updated_at": "9999-12-31T23:00:00-05:00")", "orders[1].updated_at"},
        BadField{R"("updated_at": "2024-01-16T08:00:00.123Z")",
                 R"("updated_at": "0001-01-01T00:00:00+01:00")", "orders[1].updated_at"},
        BadField{R"("test": false)", R"("test": "no")", "orders[1].test"},
        BadField{R"("currency": "USD")", R"("currency": 840)", "orders[1].currency"},
        BadField{R"("customer": {"id": 207119551,)", R"("customer": {"idx": 207119551,)",
                 "orders[1].customer.id: missing"},
        BadField{R"("customer": {"id": 207119551, "email": "bob.norman@mail.example.com"})",
                 R"("customer": 5)", "orders[1].customer"},
        BadField{R"("amount": "40.00")", R"("amount": "forty")",
                 "orders[1].refunds[0].transactions[1].amount"},
        BadField{R"("refunds": [)", R"("refunds": "none", "old_refunds": [)",
                 "orders[1].refunds: expected an array"}));

TEST(OrdersPageTest, ShopifyErrorTextReadsStringAndObjectForms) {
  EXPECT_EQ(ShopifyErrorText(R"({"errors":"[API] Invalid API key or access token"})"),
            "[API] Invalid API key or access token");
  EXPECT_EQ(ShopifyErrorText(R"({"errors":{"page":["cannot be passed"]}})"),
            R"({"page":["cannot be passed"]})");
  EXPECT_EQ(ShopifyErrorText("<html>"), "");
  EXPECT_EQ(ShopifyErrorText(R"({"errors":"abcdef"})", 3), "abc…");
}

}  // namespace
}  // namespace autosync::worker
