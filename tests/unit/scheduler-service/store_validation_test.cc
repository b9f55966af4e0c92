// NormalizeStore, JitterFor and PreviewSchedule: every refusal names its field; defaults fill
// empty fields; the credentials reference is never echoed back.
#include "scheduler-service/store_validation.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

autosync::v1::Store Valid() {
  autosync::v1::Store s;
  s.set_store_id("shop-1");
  s.set_display_name("Shop One");
  s.set_orders_api_base("http://127.0.0.1:8090/shops/shop-1");
  s.set_ads_api_base("https://graph.example.com");
  s.set_ad_account_id("act_123");
  s.set_credentials_ref("env:SIM_TOKEN");
  s.set_enabled(true);
  return s;
}

absl::Status Check(const autosync::v1::Store& s) { return NormalizeStore(s, {}).status(); }

TEST(StoreValidationTest, FillsDefaultsAndDropsReadOnlyFields) {
  autosync::v1::Store in = Valid();
  in.mutable_created_at()->set_seconds(5);
  auto out = NormalizeStore(
      in, {.schedule = "*/5 * * * *", .timezone = "Europe/London", .staleness_seconds = 600});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->schedule(), "*/5 * * * *");
  EXPECT_EQ(out->timezone(), "Europe/London");
  EXPECT_EQ(out->staleness_seconds(), 600);
  EXPECT_EQ(out->orders_api_version(), "2026-10");
  EXPECT_EQ(out->ads_api_version(), "v24.0");
  EXPECT_EQ(out->ad_account_id(), "123");
  EXPECT_FALSE(out->has_created_at());
}

// Orders and ads schedules: both given, one given (the one-schedule API: used for both), none
// (each type's default); a bad ads schedule is named as such.
TEST(StoreValidationTest, SchedulePerDataType) {
  autosync::v1::Store in = Valid();
  in.set_schedule(" * * * * * ");
  in.set_ads_schedule("*/2 * * * *");
  in.set_ads_staleness_seconds(60);
  in.set_version(7);
  auto out = NormalizeStore(in, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->schedule(), "* * * * *");
  EXPECT_EQ(out->ads_schedule(), "*/2 * * * *");
  EXPECT_EQ(out->ads_staleness_seconds(), 60);
  EXPECT_EQ(out->staleness_seconds(), 3600);
  EXPECT_EQ(out->version(), 0);  // read-only

  in.clear_ads_schedule();
  out = NormalizeStore(in, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->ads_schedule(), "* * * * *");

  in.clear_schedule();
  out = NormalizeStore(in, {.schedule = "5 * * * *", .ads_schedule = "7 */6 * * *"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->schedule(), "5 * * * *");
  EXPECT_EQ(out->ads_schedule(), "7 */6 * * *");

  in.set_ads_schedule("0 25 * * *");
  EXPECT_THAT(std::string(Check(in).message()), StartsWith("ads_schedule: "));
  in.set_ads_schedule("0 * * * *");
  in.set_ads_staleness_seconds(-1);
  EXPECT_THAT(std::string(Check(in).message()), StartsWith("ads_staleness_seconds: "));
}

TEST(BackfillRangeTest, DatesOrNothing) {
  auto none = ParseBackfillRange("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->from.empty());
  auto ok = ParseBackfillRange("2024-02-01", "2024-02-29");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->to, "2024-02-29");
  EXPECT_TRUE(ParseBackfillRange("2024-03-01", "2024-03-01").ok());
  struct Case {
    const char* from;
    const char* to;
    const char* prefix;
  };
  for (const Case& c : {Case{"2024-02-01", "", "backfill_to: is missing"},
                        Case{"", "2024-02-01", "backfill_from: is missing"},
                        Case{"2024-02-30", "2024-03-01", "backfill_from: "},
                        Case{"2024-2-1", "2024-03-01", "backfill_from: "},
                        Case{"2024-02-01", "2024-02-01T00:00", "backfill_to: "},
                        Case{"2024-03-02", "2024-03-01", "backfill_to: is before"},
                        Case{"1999-12-31", "2024-03-01", "backfill_from: must be between"},
                        Case{"2001-01-01", "2024-03-01", "backfill_to: is more than"}}) {
    auto r = ParseBackfillRange(c.from, c.to);
    ASSERT_FALSE(r.ok()) << c.from << ".." << c.to;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), StartsWith(c.prefix)) << c.from << ".." << c.to;
  }
}

TEST(StoreValidationTest, EachBadFieldIsNamed) {
  struct Case {
    void (*mutate)(autosync::v1::Store&);
    const char* field;
  };
  const Case cases[] = {
      {[](autosync::v1::Store& s) { s.set_store_id("Bad Id"); }, "store_id"},
      {[](autosync::v1::Store& s) { s.set_store_id(""); }, "store_id"},
      {[](autosync::v1::Store& s) { s.set_store_id(std::string(64, 'a')); }, "store_id"},
      {[](autosync::v1::Store& s) { s.set_schedule("0 25 * * *"); }, "schedule"},
      {[](autosync::v1::Store& s) { s.set_schedule("0 0 30 2 *"); }, "schedule"},
      {[](autosync::v1::Store& s) { s.set_schedule(std::string(300, '*')); }, "schedule"},
      {[](autosync::v1::Store& s) { s.set_timezone("Mars/Olympus"); }, "timezone"},
      {[](autosync::v1::Store& s) { s.set_timezone("../../etc/passwd"); }, "timezone"},
      {[](autosync::v1::Store& s) { s.set_staleness_seconds(-1); }, "staleness_seconds"},
      {[](autosync::v1::Store& s) { s.set_jitter_seconds(-1); }, "jitter_seconds"},
      {[](autosync::v1::Store& s) { s.set_jitter_seconds(3601); }, "jitter_seconds"},
      {[](autosync::v1::Store& s) { s.set_orders_api_base("ftp://x"); }, "orders_api_base"},
      {[](autosync::v1::Store& s) { s.set_orders_api_base("http://"); }, "orders_api_base"},
      {[](autosync::v1::Store& s) { s.set_orders_api_base("https://u:p@h"); }, "orders_api_base"},
      {[](autosync::v1::Store& s) { s.set_ads_api_base("http://a b"); }, "ads_api_base"},
      {[](autosync::v1::Store& s) { s.set_ad_account_id("12/../x"); }, "ad_account_id"},
      {[](autosync::v1::Store& s) { s.set_orders_api_version("2024/01"); }, "orders_api_version"},
      {[](autosync::v1::Store& s) { s.set_credentials_ref("shpat_secret"); }, "credentials_ref"},
      {[](autosync::v1::Store& s) { s.set_credentials_ref("env:"); }, "credentials_ref"},
      {[](autosync::v1::Store& s) { s.set_credentials_ref("file:rel"); }, "credentials_ref"},
      {[](autosync::v1::Store& s) { s.set_credentials_ref("file:/a/../b"); }, "credentials_ref"},
      {[](autosync::v1::Store& s) { s.set_display_name("a\nb"); }, "display_name"},
      {[](autosync::v1::Store& s) { s.set_pause_note(std::string(501, 'x')); }, "pause_note"},
  };
  for (const Case& c : cases) {
    autosync::v1::Store s = Valid();
    c.mutate(s);
    const absl::Status status = Check(s);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.field)) << status;
  }
}

TEST(StoreValidationTest, BadCronNamesFieldAndToken) {
  autosync::v1::Store s = Valid();
  s.set_schedule("0 25 * * *");
  const absl::Status status = Check(s);
  EXPECT_THAT(std::string(status.message()), HasSubstr("schedule"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("hour"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("\"25\""));
}

TEST(StoreValidationTest, CredentialsErrorNeverEchoesTheValue) {
  autosync::v1::Store s = Valid();
  s.set_credentials_ref("shpat_0123456789abcdef");
  const absl::Status status = Check(s);
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("shpat_0123")));
}

TEST(StoreValidationTest, AcceptsFileReferenceAndEmptyOptionalFields) {
  autosync::v1::Store s = Valid();
  s.set_credentials_ref("file:/var/run/secrets/shop/token");
  s.set_ads_api_base("");
  s.set_ad_account_id("");
  EXPECT_TRUE(Check(s).ok());
}

// The notification webhook: https, or http only to this machine; no user info, query or
// fragment; a key reference like credentials_ref, required with the URL. Each refusal names
// its field, and a key pasted instead of a reference is never echoed.
TEST(StoreValidationTest, NotifyWebhookRefusalsNameTheirField) {
  struct Case {
    const char* url;
    const char* ref;
    const char* field;
  };
  const Case cases[] = {
      {"http://hooks.example.com/autosync", "env:HOOK_KEY", "notify_webhook_url"},
      {"http://10.0.0.1/x", "env:HOOK_KEY", "notify_webhook_url"},
      {"http://127.0.0.1.example.com/x", "env:HOOK_KEY", "notify_webhook_url"},
      {"ftp://hooks.example.com", "env:HOOK_KEY", "notify_webhook_url"},
      {"https://user:pw@hooks.example.com", "env:HOOK_KEY", "notify_webhook_url"},
      {"https://hooks.example.com/x?token=1", "env:HOOK_KEY", "notify_webhook_url"},
      {"https://hooks.example.com/a b", "env:HOOK_KEY", "notify_webhook_url"},
      {"https://", "env:HOOK_KEY", "notify_webhook_url"},
      {"https://hooks.example.com", "", "notify_secret_ref"},
      {"https://hooks.example.com", "whsec_0123456789", "notify_secret_ref"},
      {"https://hooks.example.com", "env:", "notify_secret_ref"},
      {"https://hooks.example.com", "file:relative", "notify_secret_ref"},
      {"https://hooks.example.com", "file:/a/../b", "notify_secret_ref"},
      {"", "whsec_0123456789", "notify_secret_ref"},
  };
  for (const Case& c : cases) {
    autosync::v1::Store s = Valid();
    s.set_notify_webhook_url(c.url);
    s.set_notify_secret_ref(c.ref);
    const absl::Status status = Check(s);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.url << " " << c.ref;
    EXPECT_THAT(std::string(status.message()), StartsWith(c.field)) << status;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("whsec_0123"))) << status;
  }
  autosync::v1::Store s = Valid();
  s.set_notify_webhook_url(std::string("https://hooks.example.com/") + std::string(500, 'a'));
  s.set_notify_secret_ref("env:HOOK_KEY");
  EXPECT_THAT(std::string(Check(s).message()), StartsWith("notify_webhook_url"));
}

TEST(StoreValidationTest, NotifyWebhookAcceptsHttpsAndLoopbackHttp) {
  for (const char* url : {"https://hooks.example.com/autosync", "https://10.0.0.1:8443/x",
                          "http://127.0.0.1:9000/hook", "http://[::1]:9000/hook",
                          "http://localhost/hook", "http://LOCALHOST:80"}) {
    autosync::v1::Store s = Valid();
    s.set_notify_webhook_url(url);
    s.set_notify_secret_ref("file:/var/run/secrets/autosync/hook-key");
    EXPECT_TRUE(Check(s).ok()) << url << ": " << Check(s);
  }
  autosync::v1::Store none = Valid();  // no webhook: no key needed
  EXPECT_TRUE(Check(none).ok());
}

TEST(JitterTest, DeterministicBoundedAndSpread) {
  EXPECT_EQ(JitterFor("shop", 0), absl::ZeroDuration());
  EXPECT_EQ(JitterFor("shop", 600), JitterFor("shop", 600));
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    const absl::Duration j = JitterFor("store-" + std::to_string(i), 60);
    EXPECT_GE(j, absl::ZeroDuration());
    EXPECT_LT(j, absl::Seconds(60));
    seen.insert(absl::ToInt64Seconds(j));
  }
  EXPECT_GT(seen.size(), 40u);  // spread, not clumped
}

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), absl::UTCTimeZone());
}

TEST(PreviewScheduleTest, UtcAndLocalAcrossSpringForward) {
  autosync::v1::PreviewScheduleRequest req;
  req.set_schedule("30 2 * * *");
  req.set_timezone("America/New_York");
  ToProto(Utc(2024, 3, 9, 12, 0), req.mutable_from());
  req.set_count(2);
  auto r = PreviewSchedule(req, absl::Now());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fires_size(), 2);
  EXPECT_EQ(FromProto(r->fires(0).utc()), Utc(2024, 3, 10, 7, 0));  // the gap: 03:00 EDT
  EXPECT_EQ(r->fires(0).local(), "2024-03-10T03:00:00-04:00");
  EXPECT_EQ(r->fires(1).local(), "2024-03-11T02:30:00-04:00");
}

TEST(PreviewScheduleTest, DefaultsToFiveFromNowInUtc) {
  autosync::v1::PreviewScheduleRequest req;
  req.set_schedule("@hourly");
  const absl::Time now = Utc(2024, 1, 1, 10, 15);
  auto r = PreviewSchedule(req, now);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->fires_size(), 5);
  EXPECT_EQ(FromProto(r->fires(0).utc()), Utc(2024, 1, 1, 11, 0));
  EXPECT_EQ(r->fires(0).local(), "2024-01-01T11:00:00+00:00");
}

TEST(PreviewScheduleTest, RefusesBadInputNamingTheField) {
  auto field_of = [](autosync::v1::PreviewScheduleRequest req) {
    auto r = PreviewSchedule(req, absl::Now());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  autosync::v1::PreviewScheduleRequest req;
  req.set_schedule("* * * * *");
  req.set_count(101);
  EXPECT_THAT(field_of(req), StartsWith("count"));
  req.set_count(-1);
  EXPECT_THAT(field_of(req), StartsWith("count"));
  req.set_count(1);
  req.set_timezone("Nowhere/Land");
  EXPECT_THAT(field_of(req), StartsWith("timezone"));
  req.set_timezone("");
  req.set_schedule("0 0 31 2 *");
  EXPECT_THAT(field_of(req), StartsWith("schedule"));
  req.set_schedule("");
  EXPECT_THAT(field_of(req), StartsWith("schedule"));
  req.set_schedule("61 * * * *");
  EXPECT_THAT(field_of(req), HasSubstr("\"61\""));
  req.set_schedule("* * * * *");
  req.mutable_from()->set_seconds(int64_t{1} << 50);
  EXPECT_THAT(field_of(req), StartsWith("from"));
}

}  // namespace
}  // namespace autosync::scheduler
