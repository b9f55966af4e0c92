// ImportFxRates through the real scheduler-service binary and PostgreSQL: a good ECB-style CSV
// counts its days and rates and upserts them; a CSV with a bad line is refused naming the line
// and stores nothing; a CSV of 32 MiB + 1 byte reaches the RPC (the server takes 33 MiB) and is
// refused by it. Then the rates reach GetLtvCohorts: a cohort whose ad spend lacks a rate says
// why (cac_note) until the rate is imported and the cohorts recomputed.
#include <grpcpp/grpcpp.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sync-worker/sync_store.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/migrated_db.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

class FxRatesTest : public MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    if (HasFatalFailure()) return;
    const int port = FreePort();
    auto p = ChildProcess::Start(
        BinaryPath("scheduler-service"),
        {.args = {"--database_url=" + url_, "--insecure_grpc",
                  absl::StrCat("--listen=127.0.0.1:", port), "--metrics_listen=127.0.0.1:0",
                  "--replica_id=fx", absl::StrCat("--worker_target=127.0.0.1:", FreePort())}});
    ASSERT_TRUE(p.ok()) << p.status();
    scheduler_ = std::move(*p);
    const std::string target = absl::StrCat("127.0.0.1:", port);
    ASSERT_TRUE(WaitForServing(target, absl::Seconds(20)).ok()) << scheduler_->Output();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    stub_ = v1::Scheduler::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }

  grpc::Status Import(const std::string& csv, v1::ImportFxRatesResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ImportFxRatesRequest req;
    req.set_csv(csv);
    return stub_->ImportFxRates(&ctx, req, out);
  }

  // Every stored rate, "day currency per_eur" in order.
  std::string Rates() {
    pqxx::connection conn(url_);
    pqxx::read_transaction tx(conn);
    return tx
        .exec(
            "SELECT coalesce(string_agg(day || ' ' || currency || ' ' || per_eur, '; ' "
            "ORDER BY day, currency), '') FROM fx_rates")[0][0]
        .as<std::string>();
  }

  std::unique_ptr<ChildProcess> scheduler_;
  std::unique_ptr<v1::Scheduler::Stub> stub_;
};

TEST_F(FxRatesTest, AGoodCsvIsStoredAndABadLineStoresNothing) {
  v1::ImportFxRatesResponse resp;
  // The ECB's layout: a trailing comma on every line, N/A, the newest day first.
  grpc::Status s = Import(
      "Date,USD,JPY,GBP,\n"
      "2026-12-04,1.0521,162.30,0.8312,\n"
      "2026-12-03,1.0498,N/A,0.83045,\n"
      "2026-12-02,N/A,N/A,N/A,\n",
      &resp);
  ASSERT_TRUE(s.ok()) << s.error_message() << scheduler_->Output();
  EXPECT_EQ(resp.days(), 2);
  EXPECT_EQ(resp.rates(), 5);
  EXPECT_EQ(resp.first_day(), "2026-12-03");
  EXPECT_EQ(resp.last_day(), "2026-12-04");
  const std::string stored =
      "2026-12-03 GBP 0.83045; 2026-12-03 USD 1.0498; 2026-12-04 GBP 0.8312; "
      "2026-12-04 JPY 162.30; 2026-12-04 USD 1.0521";
  EXPECT_EQ(Rates(), stored);

  // Line 2 would replace a rate and line 3 add a day; line 4 is bad: nothing changes.
  s = Import(
      "Date,USD,GBP,\n"
      "2026-12-04,1.0600,0.8400,\n"
      "2026-12-07,1.0610,0.8410,\n"
      "2026-12-08,1.0620,\"0,84\",\n",
      &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "csv: line 4, column GBP: \"0,84\" is not a positive decimal");
  EXPECT_EQ(Rates(), stored);

  // Importing again replaces the day's rates and adds the new ones.
  s = Import("Date,USD\n2026-12-04,1.0600\n2026-12-07,1.0610\n", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.days(), 2);
  EXPECT_EQ(resp.rates(), 2);
  EXPECT_EQ(Rates(),
            "2026-12-03 GBP 0.83045; 2026-12-03 USD 1.0498; 2026-12-04 GBP 0.8312; "
            "2026-12-04 JPY 162.30; 2026-12-04 USD 1.0600; 2026-12-07 USD 1.0610");
}

TEST_F(FxRatesTest, ACsvOverTheLimitIsRefusedByTheRpc) {
  // 32 MiB + 1: gRPC lets it through (the scheduler accepts 33 MiB), the RPC refuses it.
  std::string csv = "Date,USD\n";
  csv.resize((size_t{32} << 20) + 1, '\n');
  v1::ImportFxRatesResponse resp;
  grpc::Status s = Import(csv, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("csv: 33554433 bytes, more than the 32 MiB allowed"));
  EXPECT_EQ(Rates(), "");
}

TEST_F(FxRatesTest, GetLtvCohortsSaysWhyCacIsMissingUntilTheRateIsImported) {
  Exec("INSERT INTO stores (store_id, timezone) VALUES ('eu', 'UTC')");
  Exec(
      "INSERT INTO orders (store_id, order_id, customer_id, created_at, updated_at, currency, "
      "total_price) VALUES ('eu', 1, 1, '2026-12-03T10:00:00Z', '2026-12-03T10:00:00Z', 'USD', "
      "100), ('eu', 2, 2, '2026-12-04T10:00:00Z', '2026-12-04T10:00:00Z', 'USD', 50)");
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend, currency) VALUES "
      "('eu', '2026-12-03', 'c', 100, 'EUR'), ('eu', '2026-12-04', 'c', 50, 'EUR')");
  v1::ImportFxRatesResponse resp;
  ASSERT_TRUE(Import("Date,USD,\n2026-12-03,1.1000,\n", &resp).ok());
  std::unique_ptr<worker::SyncStore> worker = worker::MakePgSyncStore(*pool_);

  auto cohorts = [&] {
    EXPECT_TRUE(worker->RecomputeLtv("eu", "UTC").ok());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetLtvCohortsRequest req;
    req.set_store_id("eu");
    v1::GetLtvCohortsResponse out;
    grpc::Status s = stub_->GetLtvCohorts(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.currency(), "USD");
    EXPECT_EQ(out.cohorts_size(), 1);
    return out.cohorts_size() == 1 ? out.cohorts(0) : v1::Cohort();
  };
  // 2026-12-04 falls back to 12-03's rate (1 day back): both days convert.
  v1::Cohort c = cohorts();
  EXPECT_DOUBLE_EQ(c.ad_spend(), 165.0);  // (100 + 50) × 1.1
  EXPECT_DOUBLE_EQ(c.cac(), 82.5);
  EXPECT_EQ(c.cac_note(), "");

  // A day 5 days after the last rate: unknown, with the reason.
  Exec(
      "INSERT INTO ads (store_id, date, campaign_id, spend, currency) VALUES "
      "('eu', '2026-12-08', 'c', 10, 'EUR')");
  c = cohorts();
  EXPECT_EQ(c.ad_spend(), 0);
  EXPECT_EQ(c.cac(), 0);
  EXPECT_EQ(c.cells(0).ltv_to_cac(), 0);
  EXPECT_EQ(c.cac_note(),
            "no EUR→USD rate for 2026-12-08 (none that day or up to 4 days before; load ECB "
            "rates: ImportFxRates)");

  ASSERT_TRUE(Import("Date,USD,\n2026-12-08,1.2000,\n", &resp).ok());
  c = cohorts();
  EXPECT_DOUBLE_EQ(c.ad_spend(), 177.0);  // 165 + 10 × 1.2
  EXPECT_DOUBLE_EQ(c.cac(), 88.5);
  EXPECT_EQ(c.cac_note(), "");
}

}  // namespace
}  // namespace autosync::testing
