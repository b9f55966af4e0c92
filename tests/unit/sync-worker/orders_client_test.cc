#include "sync-worker/connectors/orders_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/unit/sync-worker/connector_fakes.h"

namespace autosync::worker {
namespace {

using testing::FakeSleeper;
using testing::FakeTransport;

constexpr char kToken[] = "shpat_SECRET123";
constexpr char kBase[] = "http://127.0.0.1:8090/shops/buycosari";

std::string OrdersBody(int64_t first_id, int count) {
  std::string orders;
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(
        &orders, i == 0 ? "" : ",", R"({"id":)", first_id + i, R"(,"name":"#)", 1000 + first_id + i,
        R"(","customer":{"id":5},"created_at":"2024-01-01T00:00:00Z",)"
        R"("updated_at":"2024-01-02T00:00:00Z","currency":"USD","total_price":"10.00"})");
  }
  return absl::StrCat(R"({"orders":[)", orders, "]}");
}

std::string NextLink(absl::string_view page_info) {
  return absl::StrCat("<", kBase, "/admin/api/2024-01/orders.json?limit=250&page_info=", page_info,
                      ">; rel=\"next\"");
}

class OrdersClientTest : public ::testing::Test {
 protected:
  OrdersClient MakeClient(BackoffPolicy backoff = {absl::Seconds(1), absl::Seconds(8), 2.0, 3},
                          OrdersClientOptions options = {}) {
    return OrdersClient({kBase, "2024-01", kToken}, transport_, sleeper_, backoff, options);
  }

  static void ExpectNoToken(const absl::Status& status) {
    EXPECT_FALSE(absl::StrContains(status.message(), kToken)) << status;
  }

  const absl::Time since_ =
      absl::FromCivil(absl::CivilSecond(2024, 1, 15, 10, 30, 0), absl::UTCTimeZone());
  FakeTransport transport_;
  FakeSleeper sleeper_;
};

TEST_F(OrdersClientTest, FirstPageUrlAsksForAllStatusesInUpdatedOrder) {
  OrdersClient client = MakeClient();
  EXPECT_EQ(client.FirstPageUrl(since_, 250),
            "http://127.0.0.1:8090/shops/buycosari/admin/api/2024-01/orders.json"
            "?status=any&limit=250&updated_at_min=2024-01-15T10%3A30%3A00Z"
            "&order=updated_at%20asc");
  EXPECT_NE(client.FirstPageUrl(since_, 1000).find("limit=250&"), std::string::npos);
  EXPECT_NE(client.FirstPageUrl(since_, 0).find("limit=1&"), std::string::npos);
  EXPECT_NE(client.FirstPageUrl(since_ + absl::Milliseconds(5), 50).find("10%3A30%3A00.005Z"),
            std::string::npos);
}

TEST_F(OrdersClientTest, RealHostBaseWithTrailingSlashIsAPrefix) {
  OrdersClient client({"https://shop.myshopify.com/", "2024-04", kToken}, transport_, sleeper_);
  EXPECT_TRUE(absl::StartsWith(client.FirstPageUrl(since_),
                               "https://shop.myshopify.com/admin/api/2024-04/orders.json?"));
}

TEST_F(OrdersClientTest, SendsTheTokenOnlyAsHeaderAndFollowsNextLinks) {
  transport_.Then(200, OrdersBody(1, 2),
                  {{"link", NextLink("ABC")}, {"x-shopify-shop-api-call-limit", "1/40"}});
  transport_.Then(200, OrdersBody(3, 1),
                  {{"link", absl::StrCat("<", kBase, "/x?page_info=ABC>; rel=\"previous\"")}});
  OrdersClient client = MakeClient();

  const auto first = client.FirstPage(since_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->orders.size(), 2u);
  EXPECT_EQ(first->orders[1].id, 2);
  ASSERT_TRUE(first->next.has_value());
  EXPECT_EQ(first->call_limit_used, 1);
  EXPECT_EQ(first->call_limit_max, 40);
  EXPECT_EQ(first->attempts, 1);

  const auto second = client.NextPage(*first->next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->orders.size(), 1u);
  EXPECT_FALSE(second->next.has_value());

  ASSERT_EQ(transport_.requests().size(), 2u);
  EXPECT_EQ(transport_.requests()[1].url, *first->next);
  const HttpRequest& request = transport_.requests()[0];
  EXPECT_FALSE(absl::StrContains(request.url, kToken));
  bool has_token_header = false;
  for (const auto& [name, value] : request.headers) {
    if (name == "X-Shopify-Access-Token" && value == kToken) has_token_header = true;
  }
  EXPECT_TRUE(has_token_header);
  EXPECT_TRUE(sleeper_.delays().empty());
  EXPECT_EQ(client.stats().requests_by_status.at(200), 2);
}

TEST_F(OrdersClientTest, DeletionEventsAreOrderDestroyEventsPagedByLink) {
  transport_.Then(
      200,
      R"({"events":[{"id":9,"subject_id":1001,"subject_type":"Order","verb":"destroy",)"
      R"("created_at":"2024-01-16T08:00:00-05:00"},{"id":10,"subject_id":77,)"
      R"("subject_type":"Product","verb":"destroy","created_at":"2024-01-16T09:00:00Z"}]})",
      {{"link", absl::StrCat("<", kBase,
                             "/admin/api/2024-01/events.json?limit=250&page_info=E2>; "
                             "rel=\"next\"")}});
  transport_.Then(200, R"({"events":[]})");
  transport_.Then(200, R"({"events":[{"id":"x","subject_id":1,"subject_type":"Order",)"
                       R"("verb":"destroy","created_at":"2024-01-16T09:00:00Z"}]})");
  OrdersClient client = MakeClient();
  const auto first = client.FirstDeletionsPage(since_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(transport_.requests()[0].url,
            "http://127.0.0.1:8090/shops/buycosari/admin/api/2024-01/events.json"
            "?filter=Order&verb=destroy&limit=250&created_at_min=2024-01-15T10%3A30%3A00Z");
  ASSERT_EQ(first->deletions.size(), 1u);  // the product's event is not ours
  EXPECT_EQ(first->deletions[0].order_id, 1001);
  EXPECT_EQ(first->deletions[0].at,
            absl::FromCivil(absl::CivilSecond(2024, 1, 16, 13, 0, 0), absl::UTCTimeZone()));
  ASSERT_TRUE(first->next.has_value());
  const auto second = client.NextDeletionsPage(*first->next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->deletions.empty());
  EXPECT_FALSE(second->next.has_value());
  // A page of another shape fails naming the field; a link to another host is refused.
  const auto bad = client.FirstDeletionsPage(since_);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("events[0]"));
  EXPECT_EQ(
      client.NextDeletionsPage("http://evil.example/admin/api/2024-01/events.json").status().code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST_F(OrdersClientTest, TooManyRequestsHonoursRetryAfterWithoutUsingUpAttempts) {
  // max_attempts is 3, yet five 429s in a row are fine: waiting out the bucket is not a failure.
  for (int i = 0; i < 5; ++i) {
    transport_.Then(
        429, R"({"errors":"Exceeded 2 calls per second for api client."})",
        {{"retry-after", i == 0 ? "2.0" : "0.5"}, {"x-shopify-shop-api-call-limit", "40/40"}});
  }
  transport_.Then(200, OrdersBody(1, 1), {{"x-shopify-shop-api-call-limit", "10/40"}});
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->attempts, 6);
  ASSERT_EQ(sleeper_.delays().size(), 5u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Seconds(2));
  EXPECT_EQ(sleeper_.delays()[1], absl::Milliseconds(500));
  EXPECT_EQ(client.stats().throttled, 5);
  EXPECT_EQ(client.stats().retries, 0);
  EXPECT_EQ(client.stats().requests_by_status.at(429), 5);
}

TEST_F(OrdersClientTest, TooManyRequestsWithoutRetryAfterWaitsTheDefault) {
  transport_.Then(429, "{}").Then(200, OrdersBody(1, 1));
  OrdersClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(since_).ok());
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Seconds(2));
}

TEST_F(OrdersClientTest, EndlessTooManyRequestsGivesUpAfterTheCap) {
  OrdersClientOptions options;
  options.max_throttle_waits = 3;
  for (int i = 0; i < 4; ++i) transport_.Then(429, "{}", {{"retry-after", "1"}});
  OrdersClient client = MakeClient({}, options);
  const auto page = client.FirstPage(since_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(transport_.requests().size(), 4u);
  EXPECT_EQ(sleeper_.delays().size(), 3u);
}

TEST_F(OrdersClientTest, ServerErrorsAreRetriedWithJitteredBackoffThenSucceed) {
  transport_.Then(503, "").Then(502, "<html>").Then(200, OrdersBody(1, 3));
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->orders.size(), 3u);
  EXPECT_EQ(page->attempts, 3);
  ASSERT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_LE(sleeper_.delays()[0], absl::Seconds(1));  // ceiling of retry 1
  EXPECT_LE(sleeper_.delays()[1], absl::Seconds(2));  // ceiling of retry 2
  EXPECT_EQ(client.stats().retries, 2);
}

TEST_F(OrdersClientTest, ServiceUnavailableWithRetryAfterWaitsThatLong) {
  transport_.Then(503, "", {{"retry-after", "3.5"}}).Then(200, OrdersBody(1, 1));
  OrdersClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(since_).ok());
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Milliseconds(3500));
}

TEST_F(OrdersClientTest, ServerErrorsExhaustedIsUnavailable) {
  transport_.Then(500, "").Then(500, "").Then(500, "").Then(200, OrdersBody(1, 1));
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(page.status().message(), "500")) << page.status();
  EXPECT_EQ(transport_.requests().size(), 3u);  // max_attempts = 3
  EXPECT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(transport_.remaining(), 1u);
}

TEST_F(OrdersClientTest, TransportErrorsAreRetriedAndKeepTheirCode) {
  transport_.Then(absl::UnavailableError("connection refused"))
      .Then(absl::DeadlineExceededError("timeout"))
      .Then(absl::DeadlineExceededError("timeout"));
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(transport_.requests().size(), 3u);
  EXPECT_EQ(client.stats().transport_errors, 3);

  FakeTransport recovering;
  recovering.Then(absl::UnavailableError("reset")).Then(200, OrdersBody(1, 1));
  OrdersClient second({kBase, "2024-01", kToken}, recovering, sleeper_);
  EXPECT_TRUE(second.FirstPage(since_).ok());
}

TEST_F(OrdersClientTest, OversizedBodyFromTransportIsNotRetried) {
  transport_.Then(absl::FailedPreconditionError("response body larger than 10 bytes"));
  OrdersClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(transport_.requests().size(), 1u);
}

struct ConfigError {
  int status;
  absl::StatusCode code;
  std::string hint;
};

class OrdersClientConfigErrorTest : public OrdersClientTest,
                                    public ::testing::WithParamInterface<ConfigError> {};

TEST_P(OrdersClientConfigErrorTest, IsNotRetriedAndSaysWhatToCheck) {
  // The server echoes the token back: it must still not reach the message.
  transport_
      .Then(GetParam().status,
            absl::StrCat(R"({"errors":"[API] Invalid API key or access token )", kToken, "\"}"))
      .Then(200, OrdersBody(1, 1));
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  EXPECT_EQ(page.status().code(), GetParam().code);
  EXPECT_TRUE(absl::StrContains(page.status().message(),
                                absl::StrCat("orders API answered ", GetParam().status)))
      << page.status();
  EXPECT_TRUE(absl::StrContains(page.status().message(), GetParam().hint)) << page.status();
  ExpectNoToken(page.status());
  EXPECT_EQ(transport_.requests().size(), 1u);
  EXPECT_TRUE(sleeper_.delays().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, OrdersClientConfigErrorTest,
    ::testing::Values(ConfigError{401, absl::StatusCode::kPermissionDenied,
                                  "check the store's access token"},
                      ConfigError{402, absl::StatusCode::kFailedPrecondition, "Payment Required"},
                      ConfigError{403, absl::StatusCode::kPermissionDenied, "read_orders"},
                      ConfigError{404, absl::StatusCode::kNotFound, "base URL"},
                      ConfigError{400, absl::StatusCode::kFailedPrecondition, "refused"}));

TEST_F(OrdersClientTest, TruncatedBodyIsDataLossNamingThePage) {
  const std::string body = OrdersBody(1, 3);
  transport_.Then(200, body, {{"link", NextLink("P2")}})
      .Then(200, body.substr(0, body.size() - 10));
  OrdersClient client = MakeClient();
  const auto first = client.FirstPage(since_);
  ASSERT_TRUE(first.ok());
  const auto second = client.NextPage(*first->next);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(second.status().message(), "page 2 (page_info=P2)"))
      << second.status();
  EXPECT_EQ(transport_.requests().size(), 2u);  // not retried
}

TEST_F(OrdersClientTest, BadFieldIsDataLossNamingPageAndField) {
  transport_.Then(
      200,
      R"({"orders":[{"id":1,"created_at":"x","updated_at":"x","currency":"USD","total_price":"1"}]})");
  OrdersClient client = MakeClient();
  const auto page = client.FirstPage(since_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(page.status().message(), "first page")) << page.status();
  EXPECT_TRUE(absl::StrContains(page.status().message(), "orders[0].created_at")) << page.status();
}

TEST_F(OrdersClientTest, MalformedLinkHeaderIsDataLoss) {
  transport_.Then(200, OrdersBody(1, 1), {{"link", "https://no-brackets; rel=next"}});
  OrdersClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(OrdersClientTest, CancelledDuringBackoffStopsAtOnce) {
  transport_.Then(503, "").Then(200, OrdersBody(1, 1));
  sleeper_.CancelAtSleep(1);
  OrdersClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(transport_.requests().size(), 1u);
}

TEST_F(OrdersClientTest, CancelledDuringRetryAfterStopsAtOnce) {
  transport_.Then(429, "{}", {{"retry-after", "2.0"}}).Then(200, OrdersBody(1, 1));
  sleeper_.CancelAtSleep(1);
  OrdersClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_).status().code(), absl::StatusCode::kCancelled);
}

TEST_F(OrdersClientTest, NearlyFullBucketPacesTheNextRequest) {
  transport_
      .Then(200, OrdersBody(1, 1),
            {{"link", NextLink("A")}, {"x-shopify-shop-api-call-limit", "38/40"}})
      .Then(200, OrdersBody(2, 1),
            {{"link", NextLink("B")}, {"x-shopify-shop-api-call-limit", "20/40"}})
      .Then(200, OrdersBody(3, 1),
            {{"link", NextLink("C")}, {"X-Shopify-Shop-Api-Call-Limit", "390/400"}})
      .Then(200, OrdersBody(4, 1));
  OrdersClient client = MakeClient();
  auto page = client.FirstPage(since_);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(sleeper_.delays().empty());  // pacing waits before the *next* call only
  page = client.NextPage(*page->next);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(sleeper_.delays().size(), 1u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Milliseconds(500));  // 40-bucket leaks 2/s
  page = client.NextPage(*page->next);                       // 20/40: no wait
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(sleeper_.delays().size(), 1u);
  page = client.NextPage(*page->next);  // after 390/400 (Plus leaks 20/s)
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(sleeper_.delays()[1], absl::Milliseconds(50));
  EXPECT_EQ(client.stats().pacing_waits, 2);
}

TEST_F(OrdersClientTest, NextLinkToAnotherHostIsRefusedWithoutARequest) {
  OrdersClient client = MakeClient();
  const auto page =
      client.NextPage("https://evil.example/admin/api/2024-01/orders.json?page_info=x");
  EXPECT_EQ(page.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(transport_.requests().empty());
  EXPECT_EQ(client.NextPage("http://127.0.0.1:8091/shops/buycosari/x").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(OrdersClientTest, RelativeNextLinkIsResolvedAgainstTheBaseOrigin) {
  transport_.Then(200, OrdersBody(1, 1));
  OrdersClient client = MakeClient();
  ASSERT_TRUE(client.NextPage("/shops/buycosari/admin/api/2024-01/orders.json?page_info=Q").ok());
  EXPECT_EQ(transport_.requests()[0].url,
            "http://127.0.0.1:8090/shops/buycosari/admin/api/2024-01/orders.json?page_info=Q");
}

TEST_F(OrdersClientTest, BadConfigurationIsRefusedUpFront) {
  OrdersClient no_scheme({"shop.myshopify.com", "2024-01", kToken}, transport_, sleeper_);
  EXPECT_EQ(no_scheme.FirstPage(since_).status().code(), absl::StatusCode::kInvalidArgument);
  OrdersClient bad_version({kBase, "2024/01", kToken}, transport_, sleeper_);
  EXPECT_EQ(bad_version.FirstPage(since_).status().code(), absl::StatusCode::kInvalidArgument);
  OrdersClient no_token({kBase, "2024-01", ""}, transport_, sleeper_);
  EXPECT_EQ(no_token.FirstPage(since_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(transport_.requests().empty());
}

TEST_F(OrdersClientTest, AnswersThatAnnounceADeprecatedVersionAreCountedWithWhatTheySaid) {
  transport_.Then(200, OrdersBody(1, 1), {{"x-shopify-api-version", "2024-01"}})
      .Then(200, OrdersBody(2, 1),
            {{"x-shopify-api-version", "2025-10"},
             {"x-shopify-api-deprecated-reason",
              "https://shopify.dev/api/usage/versioning#deprecation-practices"}});
  OrdersClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(absl::UnixEpoch()).ok());
  EXPECT_EQ(client.stats().deprecated_answers, 0) << "the version asked for was served";
  ASSERT_TRUE(client.FirstPage(absl::UnixEpoch()).ok());
  EXPECT_EQ(client.stats().deprecated_answers, 1);
  ASSERT_EQ(client.stats().deprecation_notices.size(), 1u);
  EXPECT_TRUE(absl::StrContains(*client.stats().deprecation_notices.begin(),
                                "2024-01 is no longer served: Shopify answered with 2025-10"));
}

}  // namespace
}  // namespace autosync::worker
