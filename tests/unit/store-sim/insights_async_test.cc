// Meta async insights report runs as an ads connector sees them, through Simulator::Handle():
// POST a run, poll its progress on the fake clock, page its rows; and the Meta fault switches.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/http_types.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::MakeSim;
using testing::ParseJson;
using testing::SmallConfig;

constexpr const char* kFields =
    "campaign_id,campaign_name,spend,impressions,clicks,actions,action_values,account_currency";

// The report's parameters, URL-encoded (a query string or a form body alike).
std::string Params(const std::string& since, const std::string& until) {
  return absl::StrCat(
      "level=campaign&time_increment=1&fields=", UrlEncode(kFields), "&time_range=",
      UrlEncode(absl::StrCat("{\"since\":\"", since, "\",\"until\":\"", until, "\"}")));
}

struct Status {
  std::string async_status;
  int64_t percent = -1;
  int64_t time_ref = 0;
  int64_t time_completed = -1;
  std::string date_start, date_stop, account_id;
};

class InsightsAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(2000); }
  void Make(int64_t ads_async_ms) {
    SimConfig c = SmallConfig();
    c.ads_async_ms = ads_async_ms;
    sim_ = MakeSim(c, &clock_);
  }

  // POSTs a run with its parameters and token in a form body; the report_run_id.
  std::string Start(const std::string& params) {
    Request r = Call("POST", "/v19.0/act_shop/insights", params + "&access_token=sim-token");
    r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    Response resp = sim_->Handle(r);
    EXPECT_EQ(resp.status, 200) << resp.body;
    auto j = ParseJson(resp.body);
    std::string_view id;
    EXPECT_EQ(j->root["report_run_id"].get(id), simdjson::SUCCESS) << resp.body;
    EXPECT_TRUE(!id.empty() && id.find_first_not_of("0123456789") == std::string_view::npos);
    return std::string(id);
  }

  Status Poll(const std::string& id) {
    Response r = sim_->Handle(Call("GET", "/v19.0/" + id + "?access_token=sim-token"));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.Header("x-business-use-case-usage").has_value());
    Status s;
    auto j = ParseJson(r.body);
    std::string_view v;
    EXPECT_EQ(j->root["id"].get(v), simdjson::SUCCESS);
    EXPECT_EQ(v, id);
    if (j->root["async_status"].get(v) == simdjson::SUCCESS) s.async_status = v;
    if (j->root["date_start"].get(v) == simdjson::SUCCESS) s.date_start = v;
    if (j->root["date_stop"].get(v) == simdjson::SUCCESS) s.date_stop = v;
    if (j->root["account_id"].get(v) == simdjson::SUCCESS) s.account_id = v;
    EXPECT_EQ(j->root["async_percent_completion"].get(s.percent), simdjson::SUCCESS);
    EXPECT_EQ(j->root["time_ref"].get(s.time_ref), simdjson::SUCCESS);
    EXPECT_EQ(j->root["time_completed"].get(s.time_completed), simdjson::SUCCESS);
    return s;
  }

  // Follows paging.next from `target`; every row, minified.
  std::vector<std::string> Walk(std::string target, int* pages = nullptr) {
    std::vector<std::string> rows;
    int n = 0;
    while (!target.empty() && n < 1000) {
      Response r = sim_->Handle(Call("GET", target));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      ++n;
      auto j = ParseJson(r.body);
      for (auto e : j->root["data"].get_array()) rows.push_back(simdjson::minify(e));
      std::string_view next;
      target.clear();
      if (j->root["paging"]["next"].get(next) == simdjson::SUCCESS) {
        EXPECT_EQ(next.rfind("http://127.0.0.1:8090/v19.0/", 0), 0u) << next;
        target = std::string(next.substr(strlen("http://127.0.0.1:8090")));
      }
    }
    if (pages != nullptr) *pages = n;
    return rows;
  }

  int64_t ErrorCode(const Response& r, int64_t* subcode = nullptr, std::string* message = nullptr) {
    auto j = ParseJson(r.body);
    int64_t code = 0;
    EXPECT_EQ(j->root["error"]["code"].get(code), simdjson::SUCCESS) << r.body;
    if (subcode != nullptr) *subcode = j->root["error"]["error_subcode"].get_int64().value_unsafe();
    if (message != nullptr) {
      *message = std::string(std::string_view(j->root["error"]["message"]));
    }
    return code;
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

TEST_F(InsightsAsyncTest, ARunProgressesOnTheClockAndItsPagesAreTheSyncRows) {
  const std::string params = Params("2025-09-01", "2025-10-30");
  const std::string id = Start(params);
  Status s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Not Started");
  EXPECT_EQ(s.percent, 0);
  EXPECT_EQ(s.time_completed, 0);
  EXPECT_EQ(s.time_ref, absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(s.date_start, "2025-09-01");
  EXPECT_EQ(s.date_stop, "2025-10-30");
  EXPECT_EQ(s.account_id, "shop");
  const std::string pages = "/v19.0/" + id + "/insights?access_token=sim-token&limit=40";
  clock_.Advance(absl::Milliseconds(300));
  s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Started");
  EXPECT_EQ(s.percent, 15);
  clock_.Advance(absl::Milliseconds(700));
  s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Running");
  EXPECT_EQ(s.percent, 50);
  Response early = sim_->Handle(Call("GET", pages));
  EXPECT_EQ(early.status, 400);
  std::string message;
  EXPECT_EQ(ErrorCode(early, nullptr, &message), 100);
  EXPECT_EQ(message, "Report not ready: async_status is Job Running");
  clock_.Advance(absl::Milliseconds(1000));
  s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Completed");
  EXPECT_EQ(s.percent, 100);
  EXPECT_EQ(s.time_completed, s.time_ref + 2);

  int n = 0;
  std::vector<std::string> report = Walk(pages, &n);
  std::vector<std::string> sync =
      Walk("/v19.0/act_shop/insights?access_token=sim-token&limit=40&" + params);
  EXPECT_EQ(report, sync);
  EXPECT_GE(report.size(), 60u * 3);
  EXPECT_EQ(n, static_cast<int>((report.size() + 39) / 40));
  // The run's own limit is the default page size.
  const std::string with_limit = Start(params + "&limit=500");
  clock_.Advance(absl::Seconds(2));
  int one = 0;
  EXPECT_EQ(Walk("/v19.0/" + with_limit + "/insights?access_token=sim-token", &one), sync);
  EXPECT_EQ(one, 1);
}

TEST_F(InsightsAsyncTest, QueryStringParametersAndABearerTokenWorkToo) {
  Make(0);
  Request r = Call("POST", "/v19.0/act_shop/insights?" + Params("2025-06-01", "2025-06-03"));
  r.headers.emplace_back("Authorization", "Bearer sim-token");
  Response resp = sim_->Handle(r);
  ASSERT_EQ(resp.status, 200) << resp.body;
  std::string id(std::string_view(ParseJson(resp.body)->root["report_run_id"]));
  EXPECT_EQ(Poll(id).async_status, "Job Completed");  // --ads_async_ms=0: at once
  Request page = Call("GET", "/v19.0/" + id + "/insights");
  page.headers.emplace_back("Authorization", "Bearer sim-token");
  Response rows = sim_->Handle(page);
  EXPECT_EQ(rows.status, 200) << rows.body;
  EXPECT_GE(ParseJson(rows.body)->root["data"].get_array().size(), 9u);
}

TEST_F(InsightsAsyncTest, AReportsRestatedDaysDoNotMoveBetweenPagesOrReads) {
  Make(0);
  const std::string id = Start(Params("2025-12-01", "2026-01-01"));
  const std::string pages = "/v19.0/" + id + "/insights?access_token=sim-token&limit=7";
  std::vector<std::string> a = Walk(pages);
  std::vector<std::string> b = Walk(pages);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 28u);
}

TEST_F(InsightsAsyncTest, UnknownReportsAndBadParametersAreMetaErrors) {
  for (const char* target :
       {"/v19.0/123456?access_token=sim-token", "/v19.0/123456/insights?access_token=sim-token"}) {
    Response r = sim_->Handle(Call("GET", target));
    EXPECT_EQ(r.status, 400);
    int64_t sub = 0;
    EXPECT_EQ(ErrorCode(r, &sub), 100) << r.body;
    EXPECT_EQ(sub, 33);
  }
  Request bad = Call("POST", "/v19.0/act_shop/insights",
                     "access_token=sim-token&fields=spend,bogus&level=campaign");
  Response r = sim_->Handle(bad);
  EXPECT_EQ(r.status, 400);
  std::string message;
  EXPECT_EQ(ErrorCode(r, nullptr, &message), 100);
  EXPECT_EQ(message, "(#100) bogus is not valid for fields param.");
  EXPECT_EQ(sim_->Handle(Call("POST", "/v19.0/act_nope/insights", "access_token=sim-token")).status,
            400);
  EXPECT_EQ(sim_->Handle(Call("POST", "/v19.0/act_shop/insights", "access_token=wrong")).status,
            400);
  EXPECT_EQ(sim_->Handle(Call("DELETE", "/v19.0/act_shop/insights?access_token=sim-token")).status,
            400);
  // A report's cursor does not page another report, nor the sync route.
  Make(0);
  const std::string a = Start(Params("2025-06-01", "2025-06-30"));
  const std::string b = Start(Params("2025-06-01", "2025-06-30"));
  Response first = sim_->Handle(Call("GET", "/v19.0/" + a + "/insights?access_token=sim-token"));
  std::string after(std::string_view(ParseJson(first.body)->root["paging"]["cursors"]["after"]));
  EXPECT_EQ(
      sim_->Handle(Call("GET", "/v19.0/" + a + "/insights?access_token=sim-token&after=" + after))
          .status,
      200);
  EXPECT_EQ(
      sim_->Handle(Call("GET", "/v19.0/" + b + "/insights?access_token=sim-token&after=" + after))
          .status,
      400);
}

TEST_F(InsightsAsyncTest, AdsAsyncFailEndsJobFailedAtHalfway) {
  ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"ads_async_fail":1})")).status, 200);
  const std::string id = Start(Params("2025-06-01", "2025-06-02"));
  clock_.Advance(absl::Milliseconds(900));
  EXPECT_EQ(Poll(id).async_status, "Job Running");
  clock_.Advance(absl::Milliseconds(100));
  Status s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Failed");
  EXPECT_EQ(s.percent, 50);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(Poll(id).async_status, "Job Failed");
  std::string message;
  Response pages = sim_->Handle(Call("GET", "/v19.0/" + id + "/insights?access_token=sim-token"));
  EXPECT_EQ(pages.status, 400);
  EXPECT_EQ(ErrorCode(pages, nullptr, &message), 100);
  EXPECT_EQ(message, "Report not ready: async_status is Job Failed");
  // Only the next one.
  const std::string ok = Start(Params("2025-06-01", "2025-06-02"));
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Poll(ok).async_status, "Job Completed");
}

TEST_F(InsightsAsyncTest, AdsAsyncStuckStaysRunningForever) {
  ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"ads_async_stuck":1})")).status, 200);
  const std::string id = Start(Params("2025-06-01", "2025-06-02"));
  clock_.Advance(absl::Milliseconds(1000));
  EXPECT_EQ(Poll(id).percent, 50);
  clock_.Advance(absl::Hours(24));
  Status s = Poll(id);
  EXPECT_EQ(s.async_status, "Job Running");
  EXPECT_EQ(s.percent, 60);
  EXPECT_EQ(s.time_completed, 0);
}

TEST_F(InsightsAsyncTest, AdsTokenExpiredRefusesTheNextMetaRequestsOfAnyRoute) {
  Make(0);
  const std::string id = Start(Params("2025-06-01", "2025-06-02"));
  ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"ads_token_expired":3})")).status, 200);
  for (const std::string& target :
       {"/v19.0/" + id + "?access_token=sim-token",
        "/v19.0/" + id + "/insights?access_token=sim-token",
        std::string("/v19.0/act_shop/insights?access_token=sim-token")}) {
    Response r = sim_->Handle(Call("GET", target));
    EXPECT_EQ(r.status, 400);
    int64_t sub = 0;
    std::string message;
    EXPECT_EQ(ErrorCode(r, &sub, &message), 190) << r.body;
    EXPECT_EQ(sub, 463);
    EXPECT_TRUE(absl::StartsWith(message,
                                 "Error validating access token: Session has expired on Sunday, "
                                 "06-Dec-26 10:00:00 PST. The current time is "))
        << message;
    // FakeClock: 2027-01-15T08:00:00Z.
    EXPECT_TRUE(absl::EndsWith(message, "Friday, 15-Jan-27 00:00:00 PST.")) << message;
    EXPECT_EQ(std::string_view(ParseJson(r.body)->root["error"]["type"]), "OAuthException");
  }
  EXPECT_EQ(sim_->Handle(Call("GET", "/v19.0/" + id + "?access_token=sim-token")).status, 200);
  // Shopify routes are not Meta's.
  ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults", R"({"ads_token_expired":1})")).status, 200);
  EXPECT_EQ(sim_->Handle(testing::Get(testing::OrdersPath("shop", "limit=1"))).status, 200);
  EXPECT_EQ(sim_->Handle(Call("GET", "/v19.0/" + id + "?access_token=sim-token")).status, 400);
}

TEST_F(InsightsAsyncTest, MetaFaultSwitchesShowInTheFaultsRoute) {
  ASSERT_EQ(sim_->Handle(Call("POST", "/_sim/faults",
                              R"({"ads_async_fail":1,"ads_async_stuck":2,"ads_token_expired":3})"))
                .status,
            200);
  auto j = ParseJson(sim_->Handle(Call("GET", "/_sim/faults")).body);
  EXPECT_EQ(int64_t(j->root["ads_async_fail"]), 1);
  EXPECT_EQ(int64_t(j->root["ads_async_stuck"]), 2);
  EXPECT_EQ(int64_t(j->root["ads_token_expired"]), 3);
  EXPECT_EQ(int64_t(j->root["counters"]["ads_token_expired_left"]), 3);
}

}  // namespace
}  // namespace autosync::storesim
