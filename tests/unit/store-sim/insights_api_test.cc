// The Meta insights endpoint as an ads connector sees it, through Simulator::Handle().
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/http_types.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::MakeSim;
using testing::ParseJson;
using testing::SmallConfig;

// History ends 2026-01-01, so "today" for the ads is 2026-01-01.
std::string InsightsTarget(const std::string& since, const std::string& until,
                           const std::string& extra = "") {
  return absl::StrCat(
      "/v19.0/act_shop/insights?access_token=sim-token&level=campaign&time_increment=1"
      "&fields=campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,"
      "account_currency&time_range=",
      UrlEncode(absl::StrCat("{\"since\":\"", since, "\",\"until\":\"", until, "\"}")), extra);
}

struct Row {
  std::string campaign_id, date_start, date_stop, spend, purchases;
};

class InsightsApiTest : public ::testing::Test {
 protected:
  void SetUp() override { sim_ = MakeSim(SmallConfig(), &clock_); }

  // Follows paging.next; returns every row.
  std::vector<Row> WalkAll(std::string target, int* pages = nullptr) {
    std::vector<Row> rows;
    int n = 0;
    while (!target.empty() && n < 1000) {
      Response r = sim_->Handle(Call("GET", target));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      ++n;
      auto j = ParseJson(r.body);
      EXPECT_TRUE(j->ok);
      for (auto e : j->root["data"].get_array()) {
        Row row;
        std::string_view v;
        if (e["campaign_id"].get(v) == simdjson::SUCCESS) row.campaign_id = std::string(v);
        EXPECT_EQ(e["date_start"].get(v), simdjson::SUCCESS);
        row.date_start = std::string(v);
        EXPECT_EQ(e["date_stop"].get(v), simdjson::SUCCESS);
        row.date_stop = std::string(v);
        EXPECT_EQ(e["spend"].get(v), simdjson::SUCCESS);
        row.spend = std::string(v);
        for (auto a : e["actions"].get_array()) {
          std::string_view type;
          if (a["action_type"].get(type) == simdjson::SUCCESS && type == "purchase") {
            EXPECT_EQ(a["value"].get(v), simdjson::SUCCESS);
            row.purchases = std::string(v);
          }
        }
        rows.push_back(row);
      }
      std::string_view next;
      target.clear();
      if (j->root["paging"]["next"].get(next) == simdjson::SUCCESS) {
        std::string url(next);
        EXPECT_EQ(url.rfind("http://127.0.0.1:8090/", 0), 0u) << url;
        target = url.substr(strlen("http://127.0.0.1:8090"));
      }
    }
    if (pages != nullptr) *pages = n;
    return rows;
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(InsightsApiTest, PagingReturnsOneRowPerCampaignPerDayExactlyOnce) {
  size_t campaigns = 0;
  {
    Response r = sim_->Handle(Call("GET", InsightsTarget("2025-11-01", "2025-11-01")));
    ASSERT_EQ(r.status, 200) << r.body;
    campaigns = ParseJson(r.body)->root["data"].get_array().size();
  }
  ASSERT_GE(campaigns, 3u);
  ASSERT_LE(campaigns, 6u);
  int pages = 0;
  std::vector<Row> rows = WalkAll(InsightsTarget("2025-10-01", "2025-11-29"), &pages);  // 60 days
  EXPECT_EQ(rows.size(), 60 * campaigns);
  EXPECT_EQ(pages, static_cast<int>((60 * campaigns + 24) / 25));
  std::set<std::pair<std::string, std::string>> seen;
  for (const Row& r : rows) {
    EXPECT_EQ(r.date_start, r.date_stop);
    EXPECT_TRUE(seen.insert({r.campaign_id, r.date_start}).second) << r.campaign_id << r.date_start;
  }
}

TEST_F(InsightsApiTest, LastPageHasNoNextAndCursorsAreAlwaysThere) {
  Response r = sim_->Handle(Call("GET", InsightsTarget("2025-11-01", "2025-11-02", "&limit=500")));
  ASSERT_EQ(r.status, 200);
  auto j = ParseJson(r.body);
  std::string_view after;
  EXPECT_EQ(j->root["paging"]["cursors"]["after"].get(after), simdjson::SUCCESS);
  EXPECT_EQ(j->root["paging"]["next"].error(), simdjson::NO_SUCH_FIELD);
}

TEST_F(InsightsApiTest, RestatementChangesOnlyTheTrailingWindow) {
  // Today is 2026-01-01: the trailing 28 days are 2025-12-05 .. 2026-01-01.
  std::vector<Row> a = WalkAll(InsightsTarget("2025-11-01", "2026-01-01", "&limit=500"));
  std::vector<Row> b = WalkAll(InsightsTarget("2025-11-01", "2026-01-01", "&limit=500"));
  ASSERT_EQ(a.size(), b.size());
  int changed_recent = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].date_start, b[i].date_start);
    bool recent = a[i].date_start >= "2025-12-05";
    bool same = a[i].spend == b[i].spend && a[i].purchases == b[i].purchases;
    if (!recent) {
      EXPECT_TRUE(same) << a[i].date_start;
    } else if (!same) {
      ++changed_recent;
    }
  }
  EXPECT_GT(changed_recent, 20);
}

TEST_F(InsightsApiTest, MetricsAreStrings) {
  Response r = sim_->Handle(Call("GET", InsightsTarget("2025-06-01", "2025-06-01")));
  auto j = ParseJson(r.body);
  for (auto e : j->root["data"].get_array()) {
    EXPECT_TRUE(e["spend"].is_string());
    EXPECT_TRUE(e["impressions"].is_string());
    EXPECT_TRUE(e["clicks"].is_string());
    std::string_view cur;
    EXPECT_EQ(e["account_currency"].get(cur), simdjson::SUCCESS);
    EXPECT_EQ(cur, "USD");
  }
}

TEST_F(InsightsApiTest, RangeOlderThan37MonthsIsRefusedWithCode100) {
  Response r = sim_->Handle(Call("GET", InsightsTarget("2022-11-01", "2022-11-30")));
  EXPECT_EQ(r.status, 400);
  auto j = ParseJson(r.body);
  int64_t code = 0;
  EXPECT_EQ(j->root["error"]["code"].get(code), simdjson::SUCCESS);
  EXPECT_EQ(code, 100);
  // 36 months back is fine (and simply has no data before the history starts).
  EXPECT_EQ(sim_->Handle(Call("GET", InsightsTarget("2023-02-01", "2023-02-02"))).status, 200);
}

TEST_F(InsightsApiTest, BadTokenIsOAuthException190AndBearerWorks) {
  std::string target = InsightsTarget("2025-06-01", "2025-06-01");
  std::string bad = target;
  bad.replace(bad.find("sim-token"), 9, "nope");
  Response r = sim_->Handle(Call("GET", bad));
  EXPECT_EQ(r.status, 400);
  auto j = ParseJson(r.body);
  int64_t code = 0;
  std::string_view type;
  EXPECT_EQ(j->root["error"]["code"].get(code), simdjson::SUCCESS);
  EXPECT_EQ(code, 190);
  EXPECT_EQ(j->root["error"]["type"].get(type), simdjson::SUCCESS);
  EXPECT_EQ(type, "OAuthException");
  EXPECT_TRUE(r.Header("x-business-use-case-usage").has_value());

  std::string no_token = target;
  no_token.replace(no_token.find("access_token=sim-token&"), 23, "");
  Request bearer = Call("GET", no_token);
  EXPECT_EQ(sim_->Handle(bearer).status, 400);
  bearer.headers.emplace_back("Authorization", "Bearer sim-token");
  EXPECT_EQ(sim_->Handle(bearer).status, 200);
}

TEST_F(InsightsApiTest, UsageHeadersOnEveryResponse) {
  Response ok = sim_->Handle(Call("GET", InsightsTarget("2025-06-01", "2025-06-01")));
  auto usage = ok.Header("x-business-use-case-usage");
  ASSERT_TRUE(usage.has_value());
  auto j = ParseJson(*usage);
  ASSERT_TRUE(j->ok) << *usage;
  std::string_view type;
  EXPECT_EQ(j->root["shop"].at(0)["type"].get(type), simdjson::SUCCESS);
  EXPECT_EQ(type, "ads_insights");
  auto throttle = ok.Header("x-fb-ads-insights-throttle");
  ASSERT_TRUE(throttle.has_value());
  EXPECT_TRUE(ParseJson(*throttle)->ok);
}

TEST_F(InsightsApiTest, BadCursorsLimitsAndAccountsAreRefused) {
  std::string target = InsightsTarget("2025-06-01", "2025-06-30");
  EXPECT_EQ(sim_->Handle(Call("GET", target + "&after=AAAAAAAAAAAAAAAA")).status, 400);
  EXPECT_EQ(sim_->Handle(Call("GET", target + "&limit=501")).status, 500);
  EXPECT_EQ(sim_->Handle(Call("GET", target + "&limit=0")).status, 400);
  std::string other = target;
  other.replace(other.find("act_shop"), 8, "act_123");
  EXPECT_EQ(sim_->Handle(Call("GET", other)).status, 400);
  EXPECT_EQ(sim_->Handle(Call("GET", InsightsTarget("2025-06-30", "2025-06-01"))).status, 400);
  EXPECT_EQ(sim_->Handle(Call("GET", target + "&fields=spend,bogus")).status, 400);
  // A cursor from one query does not page another.
  Response first = sim_->Handle(Call("GET", target));
  auto j = ParseJson(first.body);
  std::string_view after;
  ASSERT_EQ(j->root["paging"]["cursors"]["after"].get(after), simdjson::SUCCESS);
  std::string other_range = InsightsTarget("2025-05-01", "2025-06-30");
  EXPECT_EQ(sim_->Handle(Call("GET", other_range + "&after=" + std::string(after))).status, 400);
  EXPECT_EQ(sim_->Handle(Call("GET", target + "&after=" + std::string(after))).status, 200);
}

TEST_F(InsightsApiTest, AllDaysAggregatesToOneRowPerCampaign) {
  std::vector<Row> daily = WalkAll(InsightsTarget("2025-06-01", "2025-06-10", "&limit=500"));
  std::string target = InsightsTarget("2025-06-01", "2025-06-10");
  target.replace(target.find("time_increment=1"), 16, "time_increment=all_days");
  std::vector<Row> total = WalkAll(target);
  std::map<std::string, double> sum;
  for (const Row& r : daily) sum[r.campaign_id] += std::stod(r.spend);
  ASSERT_EQ(total.size(), sum.size());
  for (const Row& r : total) {
    EXPECT_EQ(r.date_start, "2025-06-01");
    EXPECT_EQ(r.date_stop, "2025-06-10");
    EXPECT_NEAR(std::stod(r.spend), sum[r.campaign_id], 0.005);
  }
}

}  // namespace
}  // namespace autosync::storesim
