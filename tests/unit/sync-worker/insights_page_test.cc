#include "sync-worker/connectors/insights_page.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace autosync::worker {
namespace {

constexpr char kTwoRows[] = R"({
  "data": [
    {"campaign_id": "23850001", "campaign_name": "Winter \"Sale\" — ñ", "spend": "5339.5",
     "impressions": "120034", "clicks": "2310", "account_currency": "USD",
     "actions": [{"action_type": "link_click", "value": "2310"},
                 {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "41"},
                 {"action_type": "purchase", "value": "42"}],
     "action_values": [{"action_type": "purchase", "value": "8123.45"},
                       {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "8000"}],
     "date_start": "2024-01-15", "date_stop": "2024-01-15"},
    {"campaign_id": "23850002", "campaign_name": "Retargeting", "spend": "0",
     "account_currency": "USD", "date_start": "2024-01-16", "date_stop": "2024-01-16"}
  ],
  "paging": {"cursors": {"before": "MAZDZD", "after": "MQZDZD"},
             "next": "https://graph.facebook.com/v19.0/act_1/insights?access_token=T&after=MQZDZD"}
})";

TEST(InsightsPageTest, ParsesRowsAndNextLink) {
  const auto page = ParseInsightsPage(kTwoRows);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->rows.size(), 2u);
  const AdRow& a = page->rows[0];
  EXPECT_EQ(a.campaign_id, "23850001");
  EXPECT_EQ(a.campaign_name, "Winter \"Sale\" \xE2\x80\x94 \xC3\xB1");
  EXPECT_EQ(a.date, absl::CivilDay(2024, 1, 15));
  EXPECT_EQ(a.spend_cents, 533950);
  EXPECT_EQ(a.impressions, 120034);
  EXPECT_EQ(a.clicks, 2310);
  EXPECT_EQ(a.purchases, 42);                 // "purchase" preferred over the pixel subset
  EXPECT_EQ(a.purchase_value_cents, 812345);  // and not summed with it
  EXPECT_EQ(a.currency, "USD");
  const AdRow& b = page->rows[1];
  EXPECT_EQ(b.date, absl::CivilDay(2024, 1, 16));
  EXPECT_EQ(b.impressions, 0);
  EXPECT_EQ(b.purchases, 0);
  EXPECT_EQ(page->next_url,
            "https://graph.facebook.com/v19.0/act_1/insights?access_token=T&after=MQZDZD");
}

TEST(InsightsPageTest, OmniPurchaseWinsWhenPresent) {
  const auto page = ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-01-01",
    "actions":[{"action_type":"purchase","value":"5"},{"action_type":"omni_purchase","value":"6"}],
    "action_values":[{"action_type":"omni_purchase","value":"60.5"}]}]})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->rows[0].purchases, 6);
  EXPECT_EQ(page->rows[0].purchase_value_cents, 6050);
}

// Found by tests/fuzz/insights_page_fuzz: a purchase count was rounded with `cents + 50`,
// which overflowed (UB) near INT64_MAX, and a negative count was accepted as a negative number
// of purchases.
TEST(InsightsPageTest, PurchaseCountsAreNeverNegativeAndRoundWithoutOverflow) {
  const auto negative = ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-01-01",
    "actions":[{"action_type":"purchase","value":"-7"}]}]})");
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument) << negative.status();
  EXPECT_NE(negative.status().message().find("data[0].actions[0].value: negative count"),
            absl::string_view::npos)
      << negative.status();

  const auto huge = ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-01-01",
    "actions":[{"action_type":"purchase","value":"92233720368547758.07"}]}]})");
  ASSERT_TRUE(huge.ok()) << huge.status();
  EXPECT_EQ(huge->rows[0].purchases, 92233720368547758);

  const auto half = ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-01-01",
    "actions":[{"action_type":"purchase","value":"2.5"},
               {"action_type":"omni_purchase","value":"3.49"}]}]})");
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->rows[0].purchases, 3);  // omni_purchase 3.49 rounds down
}

// Found by tests/fuzz/insights_page_fuzz: absl::ParseCivilTime alone accepts these 10-byte
// strings, which are not YYYY-MM-DD days the writer can store.
TEST(InsightsPageTest, DatesMustBeFourDigitYearsFromOne) {
  for (const char* date : {"20204-1-01", "2024-1-001", "-999-01-01", "+999-01-01", "0000-01-01"}) {
    const auto page = ParseInsightsPage(
        absl::StrCat(R"({"data":[{"campaign_id":"1","date_start":")", date, R"("}]})"));
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << date;
    EXPECT_NE(page.status().message().find("data[0].date_start"), absl::string_view::npos)
        << page.status();
  }
  const auto early =
      ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"0930-01-15"}]})");
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(early->rows[0].date, absl::CivilDay(930, 1, 15));
}

TEST(InsightsPageTest, LastPageHasNoNext) {
  const auto page =
      ParseInsightsPage(R"({"data":[],"paging":{"cursors":{"before":"a","after":"b"}}})");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->rows.empty());
  EXPECT_FALSE(page->next_url.has_value());
  const auto bare = ParseInsightsPage(R"({"data":[]})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->next_url.has_value());
}

TEST(InsightsPageTest, MalformedBodiesAreRefused) {
  EXPECT_EQ(ParseInsightsPage(R"({"data":[{"campaign_id":"1")").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseInsightsPage(R"({"rows":[]})").status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto bad_spend =
      ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-01-01","spend":12.5}]})");
  EXPECT_EQ(bad_spend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_spend.status().message().find("data[0].spend"), absl::string_view::npos);
  const auto bad_date =
      ParseInsightsPage(R"({"data":[{"campaign_id":"1","date_start":"2024-13-01"}]})");
  EXPECT_NE(bad_date.status().message().find("data[0].date_start"), absl::string_view::npos);
  const auto not_daily = ParseInsightsPage(
      R"({"data":[{"campaign_id":"1","date_start":"2024-01-01","date_stop":"2024-01-31"}]})");
  EXPECT_EQ(not_daily.status().code(), absl::StatusCode::kInvalidArgument);
  const auto bad_clicks = ParseInsightsPage(
      R"({"data":[{"campaign_id":"1","date_start":"2024-01-01"},{"campaign_id":"2","date_start":"2024-01-01","clicks":"-3"}]})");
  EXPECT_NE(bad_clicks.status().message().find("data[1].clicks"), absl::string_view::npos)
      << bad_clicks.status();
}

TEST(InsightsPageTest, ParsesMetaErrorBody) {
  const auto error = ParseMetaError(
      R"({"error":{"message":"(#80000) There have been too many calls from this ad-account.","type":"OAuthException","code":80000,"error_subcode":2446079,"fbtrace_id":"AbC"}})");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, 80000);
  EXPECT_EQ(error->subcode, 2446079);
  EXPECT_EQ(error->type, "OAuthException");
  EXPECT_NE(error->message.find("too many calls"), std::string::npos);
  EXPECT_FALSE(error->is_transient);
  EXPECT_FALSE(ParseMetaError(R"({"data":[]})").has_value());
  EXPECT_FALSE(ParseMetaError("Bad Gateway").has_value());
}

TEST(InsightsPageTest, ParsesThrottleHeaders) {
  const auto usage = ParseBusinessUseCaseUsage(
      R"({"1234":[{"type":"ads_insights","call_count":97,"total_cputime":23,"total_time":23,"estimated_time_to_regain_access":0}],
          "5678":[{"type":"ads_management","call_count":5,"total_cputime":99.5,"total_time":1,"estimated_time_to_regain_access":7}]})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->max_usage_pct, 99);
  EXPECT_EQ(usage->regain_access_minutes, 7);
  EXPECT_FALSE(ParseBusinessUseCaseUsage("").has_value());
  EXPECT_FALSE(ParseBusinessUseCaseUsage("not json").has_value());

  const auto throttle = ParseInsightsThrottle(R"({"app_id_util_pct":12.5,"acc_id_util_pct":80})");
  ASSERT_TRUE(throttle.has_value());
  EXPECT_DOUBLE_EQ(throttle->app_id_util_pct, 12.5);
  EXPECT_DOUBLE_EQ(throttle->acc_id_util_pct, 80);
}

}  // namespace
}  // namespace autosync::worker
