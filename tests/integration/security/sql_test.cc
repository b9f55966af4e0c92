// SQL-hostile data on a whole running system: store-sim serves a store whose order names,
// emails and campaign names hold quotes, backslashes, COPY's markers (\N, \.), tabs, newlines,
// emoji, RTL, combining marks and ~1 MiB strings; a full sync stores every one byte-exact
// (compared with store-sim's own generator), the LTV numbers still add up, and nothing else is
// touched. Store ids, schedules and time zones with SQL metacharacters are refused with
// INVALID_ARGUMENT by every API that takes them.
#include <grpcpp/grpcpp.h>

#include <map>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "autosync/v1/sync_worker.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/security/security_support.h"
#include "tools/store-sim/ads_data.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/hostile.h"
#include "tools/store-sim/store_data.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr char kEvil[] = "evil";
constexpr int kOrders = 600;
constexpr uint64_t kSeed = 7;
constexpr char kEnd[] = "2026-11-01T00:00:00Z";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// store-sim's data for the hostile store, regenerated in-process from the same inputs.
storesim::StoreData Source() {
  absl::Time end;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, kEnd, &end, &err)) << err;
  storesim::StoreSpec spec;
  spec.id = kEvil;
  spec.order_count = kOrders;
  spec.hostile = true;
  return storesim::StoreData::Generate(kSeed, spec, absl::ToUnixSeconds(end));
}

class SqlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto system = System::Start(
        {.sim_args = {absl::StrCat("--stores=", kEvil, ":", kOrders, ":hostile,plain:50"),
                      absl::StrCat("--seed=", kSeed), absl::StrCat("--end=", kEnd)}});
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system).release();
    ASSERT_TRUE(system_->RegisterStore(kEvil).ok());
    ASSERT_TRUE(system_->RegisterStore("plain").ok());
  }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(system_, nullptr); }

  static pqxx::result Query(const std::string& sql) {
    pqxx::connection conn(system_->database_url());
    pqxx::read_transaction tx(conn);
    return tx.exec(sql);
  }

  static System* system_;
};
System* SqlTest::system_ = nullptr;

TEST_F(SqlTest, HostileTextIsStoredByteExactAndLtvStillAddsUp) {
  const absl::Time started = absl::Now();
  auto run = system_->TriggerAndWait(kEvil, absl::Seconds(120));
  ASSERT_TRUE(run.ok()) << run.status() << "\n" << system_->AllOutput();
  ASSERT_EQ(run->status(), "completed") << run->error();
  // "pg_sleep(30)" in the data never ran as SQL.
  EXPECT_LT(absl::Now() - started, absl::Seconds(30));

  // Count and checksum of the orders equal store-sim's.
  auto source_summary = system_->sim().Summary(kEvil);
  auto stored_summary = DatabaseSummary(system_->database_url(), kEvil);
  ASSERT_TRUE(source_summary.ok() && stored_summary.ok());
  EXPECT_EQ(stored_summary->count, source_summary->count);
  EXPECT_EQ(stored_summary->checksum, source_summary->checksum);

  // Every name and email, byte for byte.
  const storesim::StoreData source = Source();
  std::map<int64_t, std::pair<std::string, std::string>> expected;
  for (const storesim::Order& o : source.orders()) {
    if (o.deleted) continue;
    expected[o.id] = {source.OrderName(o),
                      o.customer >= 0 ? source.CustomerEmail(o.customer) : source.GuestEmail(o)};
  }
  const pqxx::result rows = Query(absl::StrCat(
      "SELECT order_id, name, email FROM orders WHERE store_id = '", kEvil, "' ORDER BY 1"));
  ASSERT_EQ(rows.size(), expected.size());
  int mismatches = 0;
  int huge = 0;
  std::set<std::string> pieces_seen;
  for (const auto& row : rows) {
    const int64_t id = row[0].as<int64_t>();
    const std::string name = row[1].as<std::string>();
    const std::string email = row[2].as<std::string>();
    auto it = expected.find(id);
    ASSERT_NE(it, expected.end()) << id;
    if (name != it->second.first || email != it->second.second) {
      if (++mismatches <= 3) {
        ADD_FAILURE() << "order " << id << ": name " << absl::CHexEscape(name.substr(0, 200))
                      << " want " << absl::CHexEscape(it->second.first.substr(0, 200)) << "; email "
                      << absl::CHexEscape(email.substr(0, 200)) << " want "
                      << absl::CHexEscape(it->second.second.substr(0, 200));
      }
    }
    if (name.size() >= (size_t{1} << 20)) ++huge;
    for (const std::string& piece : storesim::HostileTexts()) {
      if (!piece.empty() && absl::StrContains(name, piece)) pieces_seen.insert(piece);
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(huge, 2) << "the two ~1 MiB names";
  // The data really was hostile: every non-empty piece reached the database.
  EXPECT_EQ(pieces_seen.size(), storesim::HostileTexts().size() - 1);

  // Campaign names, byte for byte.
  const int64_t first_day = storesim::FloorDiv(source.window_start(), 86400);
  const storesim::AdsModel ads(source.store_seed(), first_day, source.customer_count(), true);
  std::map<std::string, std::string> campaigns;
  for (const auto& row : Query(absl::StrCat("SELECT DISTINCT campaign_id, campaign_name FROM ads "
                                            "WHERE store_id = '",
                                            kEvil, "'"))) {
    campaigns[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  ASSERT_EQ(campaigns.size(), ads.campaigns().size());
  for (const storesim::Campaign& c : ads.campaigns()) {
    EXPECT_EQ(campaigns[c.id], c.name) << absl::CHexEscape(campaigns[c.id]);
  }

  // LTV from the stored rows equals what the source implies: cohort sizes sum to the customers
  // with a counted order, and the last cumulative revenue of each cohort sums to the net revenue
  // of the counted orders.
  std::set<int32_t> customers;
  int64_t net_cents = 0;
  for (const storesim::Order& o : source.orders()) {
    if (o.deleted || o.customer < 0 || o.test || o.cancelled_at != 0 ||
        o.financial_status == storesim::FinancialStatus::kVoided) {
      continue;
    }
    customers.insert(o.customer);
    net_cents += o.total_cents() - o.refund_cents;
  }
  const pqxx::result ltv = Query(absl::StrCat(
      "SELECT coalesce(sum(cohort_customers) FILTER (WHERE month_offset = 0), 0), "
      "(SELECT coalesce(sum(net_revenue), 0) * 100 FROM customer_ltv_cohorts WHERE store_id = '",
      kEvil, "')::bigint FROM customer_ltv_cohorts WHERE store_id = '", kEvil, "'"));
  EXPECT_EQ(ltv[0][0].as<int64_t>(), static_cast<int64_t>(customers.size()));
  EXPECT_EQ(ltv[0][1].as<int64_t>(), net_cents);

  // Nothing else harmed: every table is there, the other store untouched, the registry intact.
  EXPECT_EQ(Query("SELECT count(*) FROM stores")[0][0].as<int64_t>(), 2);
  EXPECT_EQ(Query("SELECT count(*) FROM orders WHERE store_id <> 'evil'")[0][0].as<int64_t>(), 0);
  for (const char* table : {"stores", "sync_runs", "orders", "ads", "customer_ltv_cohorts"}) {
    EXPECT_EQ(
        Query(absl::StrCat("SELECT count(*) FROM pg_tables WHERE tablename = '", table, "'"))[0][0]
            .as<int64_t>(),
        1)
        << table;
  }

  // A second sync reads the hostile rows again and changes nothing.
  auto again = system_->TriggerAndWait(kEvil, absl::Seconds(120));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status(), "completed") << again->error();
  auto after = DatabaseSummary(system_->database_url(), kEvil);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->checksum, source_summary->checksum);

  // The gateway serves the store's routes as valid JSON.
  for (const std::string& path :
       {std::string("/api/stores/evil/ltv"), std::string("/api/stores/evil/runs"),
        std::string("/api/sync/status/evil")}) {
    auto res = HttpCall("GET", system_->GatewayUrl(path));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 200) << path << " " << res->body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS) << path;
  }
}

TEST_F(SqlTest, HostileDisplayNameRoundTripsThroughTheRegistry) {
  const std::string display =
      absl::StrCat("O'Reilly \"shop\" \\ \\N \\. ; DROP TABLE stores; -- ",
                   "\xF0\x9F\x98\x80 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D e\xCC\x81 \xE2\x80\xAE"
                   "x");
  v1::UpsertStoreRequest req;
  v1::Store* s = req.mutable_store();
  s->set_store_id("named");
  s->set_display_name(display);
  s->set_schedule("0 0 1 1 *");
  s->set_timezone("UTC");
  s->set_enabled(true);
  s->set_credentials_ref("env:SIM_TOKEN");
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::UpsertStoreResponse resp;
    const grpc::Status status = system_->scheduler().UpsertStore(&ctx, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::GetStoreRequest get;
  get.set_store_id("named");
  v1::Store stored;
  ASSERT_TRUE(system_->scheduler().GetStore(&ctx, get, &stored).ok());
  EXPECT_EQ(stored.display_name(), display);
  // Through the gateway's JSON and back.
  auto res = HttpCall("GET", system_->GatewayUrl("/api/stores"));
  ASSERT_TRUE(res.ok());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS) << res->body;
  bool found = false;
  for (simdjson::dom::element store : doc["stores"].get_array()) {
    if (std::string_view(store["storeId"].get_string().value()) != "named") continue;
    found = true;
    EXPECT_EQ(std::string(std::string_view(store["displayName"].get_string().value())), display);
  }
  EXPECT_TRUE(found);
  grpc::ClientContext del_ctx;
  v1::DeleteStoreRequest del;
  del.set_store_id("named");
  v1::DeleteStoreResponse del_resp;
  ASSERT_TRUE(system_->scheduler().DeleteStore(&del_ctx, del, &del_resp).ok());
}

// Values with SQL (and path, and shell) metacharacters.
const std::vector<std::string>& BadIds() {
  static const std::vector<std::string> ids = {"evil'; DROP TABLE stores; --",
                                               "evil' OR '1'='1",
                                               "x\"y",
                                               "a;b",
                                               "a b",
                                               "Evil",
                                               "evil\\",
                                               "evil%27",
                                               "../evil",
                                               "evil/../plain",
                                               "evil\n",
                                               "evil\t",
                                               std::string(64, 'a'),
                                               "",
                                               "-evil",
                                               "_evil",
                                               "\xF0\x9F\x98\x80",
                                               "e\xCC\x81vil",
                                               "evil$1",
                                               "evil:1"};
  return ids;
}

grpc::StatusCode CodeOf(const grpc::Status& s) { return s.error_code(); }

TEST_F(SqlTest, MetacharactersInStoreIdsSchedulesAndTimeZonesAreInvalidArgument) {
  v1::Scheduler::Stub& stub = system_->scheduler();
  auto store_with = [](const std::string& id, const std::string& schedule, const std::string& tz) {
    v1::UpsertStoreRequest req;
    v1::Store* s = req.mutable_store();
    s->set_store_id(id);
    s->set_schedule(schedule);
    s->set_timezone(tz);
    s->set_credentials_ref("env:SIM_TOKEN");
    return req;
  };
  auto upsert = [&](const v1::UpsertStoreRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::UpsertStoreResponse resp;
    return stub.UpsertStore(&ctx, req, &resp);
  };
  for (const std::string& id : BadIds()) {
    SCOPED_TRACE(absl::CHexEscape(id));
    EXPECT_EQ(CodeOf(upsert(store_with(id, "0 * * * *", "UTC"))),
              grpc::StatusCode::INVALID_ARGUMENT);
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::TriggerSyncRequest req;
      req.set_store_id(id);
      v1::TriggerSyncResponse resp;
      EXPECT_EQ(CodeOf(stub.TriggerSync(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::GetSyncStatusRequest req;
      req.set_store_id(id);
      v1::GetSyncStatusResponse resp;
      EXPECT_EQ(CodeOf(stub.GetSyncStatus(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::GetStoreRequest req;
      req.set_store_id(id);
      v1::Store resp;
      EXPECT_EQ(CodeOf(stub.GetStore(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::DeleteStoreRequest req;
      req.set_store_id(id);
      v1::DeleteStoreResponse resp;
      EXPECT_EQ(CodeOf(stub.DeleteStore(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::ListRunsRequest req;
      req.set_store_id(id);
      v1::ListRunsResponse resp;
      EXPECT_EQ(CodeOf(stub.ListRuns(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::GetLtvCohortsRequest req;
      req.set_store_id(id);
      v1::GetLtvCohortsResponse resp;
      EXPECT_EQ(CodeOf(stub.GetLtvCohorts(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::WatchStoreRequest req;
      req.set_store_id(id);
      auto reader = stub.WatchStore(&ctx, req);
      v1::WatchEvent event;
      EXPECT_FALSE(reader->Read(&event));
      EXPECT_EQ(CodeOf(reader->Finish()), grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      // The worker checks the id it is asked to sync, too.
      auto worker = v1::SyncWorker::NewStub(
          grpc::CreateChannel(system_->worker_target(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext ctx;
      ctx.set_deadline(In(absl::Seconds(10)));
      v1::RunSyncRequest req;
      req.set_store_id(id);
      req.set_run_id("run-bad-id");
      auto reader = worker->RunSync(&ctx, req);
      v1::SyncProgress progress;
      EXPECT_FALSE(reader->Read(&progress));
      EXPECT_EQ(CodeOf(reader->Finish()), grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  for (const std::string& schedule :
       {std::string("0 * * * *'; DROP TABLE stores; --"), std::string("0 * * * * ; rm -rf /"),
        std::string("0 * * * *\n*"), std::string("' OR 1=1 --"), std::string("@hourly'"),
        std::string("0 * * * * \\"), std::string("$(reboot)")}) {
    SCOPED_TRACE(absl::CHexEscape(schedule));
    const grpc::Status s = upsert(store_with("okid", schedule, "UTC"));
    EXPECT_EQ(CodeOf(s), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::PreviewScheduleRequest req;
    req.set_schedule(schedule);
    v1::PreviewScheduleResponse resp;
    EXPECT_EQ(CodeOf(stub.PreviewSchedule(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const std::string& tz :
       {std::string("UTC'; DROP TABLE stores; --"), std::string("America/New_York'"),
        std::string("../../../../etc/passwd"), std::string("/etc/localtime"), std::string("UTC\\"),
        std::string("UTC\n"), std::string("Europe/London; SELECT 1"),
        std::string("America/New York")}) {
    SCOPED_TRACE(absl::CHexEscape(tz));
    const grpc::Status s = upsert(store_with("okid", "0 * * * *", tz));
    EXPECT_EQ(CodeOf(s), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::PreviewScheduleRequest req;
    req.set_schedule("0 * * * *");
    req.set_timezone(tz);
    v1::PreviewScheduleResponse resp;
    EXPECT_EQ(CodeOf(stub.PreviewSchedule(&ctx, req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // The gateway answers 400 for them (URL-encoded in the path), never 5xx.
  for (const std::string& path :
       {std::string("/api/sync/status/evil'%3B%20DROP%20TABLE%20stores%3B--"),
        std::string("/api/sync/status/evil%27"), std::string("/api/stores/evil%22/ltv"),
        std::string("/api/stores/Evil/runs"), std::string("/api/sync/status/%F0%9F%98%80")}) {
    auto res = HttpCall("GET", system_->GatewayUrl(path));
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 400) << path << " " << res->body;
  }
  auto trigger = HttpCall("POST", system_->GatewayUrl("/api/test/trigger-sync/evil'--"));
  ASSERT_TRUE(trigger.ok());
  EXPECT_EQ(trigger->status, 400);
  // Nothing was created or dropped.
  EXPECT_EQ(Query("SELECT count(*) FROM stores")[0][0].as<int64_t>(), 2);
  EXPECT_EQ(Query("SELECT count(*) FROM stores WHERE store_id = 'okid'")[0][0].as<int64_t>(), 0);
}

}  // namespace
}  // namespace autosync::testing
