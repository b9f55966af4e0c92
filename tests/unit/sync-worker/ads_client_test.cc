#include "sync-worker/connectors/ads_client.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sync-worker/connectors/url.h"
#include "tests/unit/sync-worker/connector_fakes.h"

namespace autosync::worker {
namespace {

using testing::FakeSleeper;
using testing::FakeTransport;

constexpr char kToken[] = "EAAB/sec+ret=";
constexpr char kBase[] = "http://127.0.0.1:8090";

std::string Rows(int count, absl::string_view next = "") {
  std::string rows;
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(&rows, i == 0 ? "" : ",", R"({"campaign_id":"c)", i,
                    R"(","campaign_name":"n","spend":"1.50",)",
                    R"("impressions":"10","clicks":"1","account_currency":"USD",)",
                    R"("date_start":"2024-01-0)", i + 1, R"(","date_stop":"2024-01-0)", i + 1,
                    R"("})");
  }
  std::string paging =
      next.empty()
          ? R"({"cursors":{"before":"a","after":"b"}})"
          : absl::StrCat(R"({"cursors":{"before":"a","after":"b"},"next":")", next, R"("})");
  return absl::StrCat(R"({"data":[)", rows, R"(],"paging":)", paging, "}");
}

std::string MetaErrorBody(int code, int subcode, absl::string_view message) {
  return absl::StrCat(R"({"error":{"message":")", message, R"(","type":"OAuthException","code":)",
                      code, R"(,"error_subcode":)", subcode, R"(,"fbtrace_id":"F"}})");
}

class AdsClientTest : public ::testing::Test {
 protected:
  AdsClient MakeClient(AdsClientOptions options = {}) {
    return AdsClient({kBase, "v19.0", "act_1234", kToken}, transport_, sleeper_,
                     BackoffPolicy{absl::Seconds(1), absl::Seconds(8), 2.0, 3}, options);
  }
  static void ExpectNoToken(const absl::Status& status) {
    EXPECT_FALSE(absl::StrContains(status.message(), kToken)) << status;
    EXPECT_FALSE(absl::StrContains(status.message(), UrlEncode(kToken))) << status;
  }

  const absl::CivilDay since_{2024, 1, 1};
  const absl::CivilDay until_{2024, 1, 31};
  FakeTransport transport_;
  FakeSleeper sleeper_;
};

TEST_F(AdsClientTest, FirstPageUrlCarriesTheInsightsQuery) {
  transport_.Then(200, Rows(1));
  AdsClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(since_, until_, 100).ok());
  ASSERT_EQ(transport_.requests().size(), 1u);
  EXPECT_EQ(transport_.requests()[0].url,
            "http://127.0.0.1:8090/v19.0/act_1234/insights?level=campaign"
            "&time_range=%7B%22since%22%3A%222024-01-01%22%2C%22until%22%3A%222024-01-31%22%7D"
            "&time_increment=1"
            "&fields=campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,"
            "account_currency&limit=100&access_token=EAAB%2Fsec%2Bret%3D");
  EXPECT_EQ(QueryParam(transport_.requests()[0].url, "access_token"), kToken);
  EXPECT_EQ(QueryParam(transport_.requests()[0].url, "time_range"),
            R"({"since":"2024-01-01","until":"2024-01-31"})");
}

TEST_F(AdsClientTest, PagesByPagingNextAndAddsTheTokenWhenMissing) {
  const std::string next_with_token =
      absl::StrCat(kBase, "/v19.0/act_1234/insights?access_token=", UrlEncode(kToken), "&after=P2");
  const std::string next_without_token = absl::StrCat(kBase, "/v19.0/act_1234/insights?after=P3");
  transport_.Then(200, Rows(2, next_with_token))
      .Then(200, Rows(2, next_without_token))
      .Then(200, Rows(1));
  AdsClient client = MakeClient();
  auto page = client.FirstPage(since_, until_);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->rows.size(), 2u);
  EXPECT_EQ(page->rows[1].date, absl::CivilDay(2024, 1, 2));
  ASSERT_EQ(page->next_url, next_with_token);
  page = client.NextPage(*page->next_url);
  ASSERT_TRUE(page.ok()) << page.status();
  page = client.NextPage(*page->next_url);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->next_url.has_value());
  ASSERT_EQ(transport_.requests().size(), 3u);
  EXPECT_EQ(transport_.requests()[1].url, next_with_token);
  EXPECT_EQ(transport_.requests()[2].url,
            absl::StrCat(next_without_token, "&access_token=", UrlEncode(kToken)));
}

TEST_F(AdsClientTest, ThrottleWaitsTheEstimatedTimeFromTheUsageHeader) {
  transport_
      .Then(
          400,
          MetaErrorBody(80000, 2446079,
                        "(#80000) There have been too many calls from this ad-account."),
          {{"x-business-use-case-usage",
            R"({"1234":[{"type":"ads_insights","call_count":100,"total_cputime":30,"total_time":40,"estimated_time_to_regain_access":2}]})"}})
      .Then(400, MetaErrorBody(17, 2446079, "User request limit reached"))
      .Then(200, Rows(1),
            {{"x-fb-ads-insights-throttle", R"({"app_id_util_pct":10,"acc_id_util_pct":75})"}});
  AdsClient client = MakeClient();
  const auto page = client.FirstPage(since_, until_);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->attempts, 3);
  EXPECT_EQ(page->usage_pct, 75);
  ASSERT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Minutes(2));
  EXPECT_EQ(sleeper_.delays()[1], absl::Seconds(60));  // no estimate: the default wait
  EXPECT_EQ(client.stats().throttled, 2);
}

TEST_F(AdsClientTest, ThrottleWaitIsCappedAndCountsAreBounded) {
  AdsClientOptions options;
  options.max_throttle_wait = absl::Minutes(1);
  options.max_throttle_waits = 2;
  const std::vector<std::pair<std::string, std::string>> long_wait = {
      {"x-business-use-case-usage",
       R"({"1":[{"type":"ads_insights","call_count":100,"estimated_time_to_regain_access":45}]})"}};
  for (int code : {4, 613, 80000})
    transport_.Then(400, MetaErrorBody(code, 0, "throttled"), long_wait);
  AdsClient client = MakeClient(options);
  const auto page = client.FirstPage(since_, until_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kUnavailable) << page.status();
  ASSERT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(sleeper_.delays()[0], absl::Minutes(1));
  EXPECT_EQ(transport_.requests().size(), 3u);
  ExpectNoToken(page.status());
}

TEST_F(AdsClientTest, TooMuchDataAsksTheCallerToShrinkTheRange) {
  transport_.Then(400, MetaErrorBody(100, 1504018, "Your request was too large"));
  AdsClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_, until_).status().code(), absl::StatusCode::kResourceExhausted);

  FakeTransport server_error;
  server_error.Then(
      500,
      MetaErrorBody(1, 99,
                    "Please reduce the amount of data you're asking for, then retry your request"));
  AdsClient second({kBase, "v19.0", "1234", kToken}, server_error, sleeper_);
  const auto page = second.FirstPage(since_, until_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(server_error.requests().size(), 1u);  // not retried
  EXPECT_TRUE(sleeper_.delays().empty());
}

TEST_F(AdsClientTest, BadTokenIsPermissionDeniedNotRetriedAndRedacted) {
  transport_.Then(400,
                  MetaErrorBody(190, 463, absl::StrCat("Error validating access token ", kToken)));
  AdsClient client = MakeClient();
  const auto page = client.FirstPage(since_, until_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(page.status().message(), "190")) << page.status();
  ExpectNoToken(page.status());
  EXPECT_EQ(transport_.requests().size(), 1u);
}

TEST_F(AdsClientTest, ServerErrorsAreRetriedThenGiveUpAsUnavailable) {
  transport_.Then(500, "")
      .Then(503, MetaErrorBody(2, 0, "Service temporarily unavailable"))
      .Then(200, Rows(1));
  AdsClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(since_, until_).ok());
  EXPECT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(client.stats().retries, 2);

  FakeTransport failing;
  failing.Then(502, "").Then(absl::UnavailableError("reset")).Then(500, "");
  AdsClient second({kBase, "v19.0", "1234", kToken}, failing, sleeper_,
                   BackoffPolicy{absl::Seconds(1), absl::Seconds(8), 2.0, 3});
  const auto page = second.FirstPage(since_, until_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failing.requests().size(), 3u);
}

TEST_F(AdsClientTest, OtherParameterErrorsAreInvalidArgument) {
  transport_.Then(400, MetaErrorBody(100, 0, "(#100) Data older than 37 months is not available"));
  AdsClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_, until_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AdsClientTest, TruncatedBodyIsDataLoss) {
  const std::string body = Rows(3);
  transport_.Then(200, body.substr(0, body.size() / 2));
  AdsClient client = MakeClient();
  const auto page = client.FirstPage(since_, until_);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(page.status().message(), "first page")) << page.status();
}

TEST_F(AdsClientTest, CancelledWhileThrottled) {
  transport_.Then(400, MetaErrorBody(80000, 0, "too many calls")).Then(200, Rows(1));
  sleeper_.CancelAtSleep(1);
  AdsClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(since_, until_).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(transport_.requests().size(), 1u);
}

TEST_F(AdsClientTest, NextLinkToAnotherHostIsRefused) {
  AdsClient client = MakeClient();
  EXPECT_EQ(
      client.NextPage("https://graph.evil.example/v19.0/act_1234/insights?after=x").status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(transport_.requests().empty());
}

TEST_F(AdsClientTest, RedactHidesTheToken) {
  AdsClient client = MakeClient();
  EXPECT_EQ(client.Redact("https://g/v19.0/act_1/insights?access_token=abc&after=Z"),
            "https://g/v19.0/act_1/insights?access_token=REDACTED&after=Z");
}

TEST_F(AdsClientTest, BadConfigurationOrRangeIsRefusedUpFront) {
  AdsClient bad_account({kBase, "v19.0", "act_12/x", kToken}, transport_, sleeper_);
  EXPECT_EQ(bad_account.FirstPage(since_, until_).status().code(),
            absl::StatusCode::kInvalidArgument);
  AdsClient client = MakeClient();
  EXPECT_EQ(client.FirstPage(until_, since_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(transport_.requests().empty());
}

TEST_F(AdsClientTest, AnAsyncReportIsPostedPolledAndReadWithTheTokenOutOfTheUrl) {
  transport_.Then(200, R"({"report_run_id":"6789012345"})")
      .Then(200,
            R"({"id":"6789012345","async_status":"Job Running","async_percent_completion":40})")
      .Then(200,
            R"({"id":"6789012345","async_status":"Job Completed","async_percent_completion":100})")
      .Then(200, Rows(2, "http://127.0.0.1:8090/v19.0/6789012345/insights?after=b"))
      .Then(200, Rows(1));
  AdsClient client = MakeClient();
  absl::StatusOr<std::string> id = client.StartReport(since_, until_);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "6789012345");
  const HttpRequest& start = transport_.requests()[0];
  EXPECT_EQ(start.url, "http://127.0.0.1:8090/v19.0/act_1234/insights");
  ASSERT_TRUE(start.post_body.has_value());
  EXPECT_TRUE(absl::StrContains(*start.post_body, "time_increment=1")) << *start.post_body;
  EXPECT_TRUE(absl::StrContains(*start.post_body, "level=campaign")) << *start.post_body;
  absl::StatusOr<AsyncReportStatus> running = client.PollReport(*id);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->status, "Job Running");
  EXPECT_EQ(running->percent, 40);
  ASSERT_TRUE(client.PollReport(*id).ok());
  absl::StatusOr<InsightsPage> page = client.ReportFirstPage(*id);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->rows.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(transport_.requests()[3].url,
                               "http://127.0.0.1:8090/v19.0/6789012345/insights?limit=500"));
  ASSERT_TRUE(page->next_url.has_value());
  absl::StatusOr<InsightsPage> next = client.NextPage(*page->next_url);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->rows.size(), 1u);
}

TEST_F(AdsClientTest, AnExpiredTokenOrAGarbledReportIdSaysWhatToDo) {
  transport_.Then(400,
                  MetaErrorBody(190, 463, "Error validating access token: Session has expired"));
  AdsClient client = MakeClient();
  absl::StatusOr<std::string> expired = client.StartReport(since_, until_);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(expired.status().message(), "renew it")) << expired.status();
  ExpectNoToken(expired.status());
  transport_.Then(200, R"({"report_run_id":"../../me"})");
  EXPECT_EQ(client.StartReport(since_, until_).status().code(), absl::StatusCode::kDataLoss);
  transport_.Then(200, R"({"id":"1","async_percent_completion":"x"})");
  EXPECT_EQ(client.PollReport("1").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(AdsClientTest, AnOlderVersionServedThanAskedIsCounted) {
  transport_.Then(200, Rows(1), {{"x-fb-api-version", "v22.0"}});
  AdsClient client = MakeClient();
  ASSERT_TRUE(client.FirstPage(since_, until_).ok());
  EXPECT_EQ(client.stats().deprecated_answers, 1);
  ASSERT_EQ(client.stats().deprecation_notices.size(), 1u);
  EXPECT_TRUE(absl::StrContains(*client.stats().deprecation_notices.begin(),
                                "v19.0 is no longer served: Meta answered with v22.0"));
}

}  // namespace
}  // namespace autosync::worker
