// The audit trail (issue 19) through the real scheduler-service, PostgreSQL and ws-gateway:
// every audited action made over gRPC with the gateway's actor metadata lands in audit_log with
// its actor, action, store and source; a failed change (a stale version) records nothing;
// ListAudit pages newest first without gaps; a call without metadata is "grpc:anonymous" from
// its peer; GET /api/audit answers an admin (with the token's sub as the actor of what that
// admin did through the gateway) and refuses an operator; every record is also a log line.
#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/security/security_support.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr char kSecret[] = "audit-test-secret-0123456789";
constexpr char kStore[] = "auditshop";

std::string Token(const std::string& sub, const std::string& role) {
  return gateway::SignJwtHs256(
      R"({"alg":"HS256","typ":"JWT"})",
      absl::StrCat(R"({"sub":")", sub, R"(","stores":"*","role":")", role, R"(","exp":)",
                   absl::ToUnixSeconds(absl::Now()) + 3600, "}"),
      kSecret);
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sys = System::Start(
        {.sim_args = {absl::StrCat("--stores=", kStore, ":20")}, .jwt_secret = kSecret});
    ASSERT_TRUE(sys.ok()) << sys.status();
    sys_ = std::move(*sys);
  }

  // A context as the gateway makes it: a deadline and the caller's metadata.
  static std::unique_ptr<grpc::ClientContext> AsAlice() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ctx->AddMetadata("x-autosync-actor", "alice");
    ctx->AddMetadata("x-autosync-client-address", "peer=203.0.113.7");
    return ctx;
  }

  v1::Store NewStore() {
    v1::Store s;
    s.set_store_id(kStore);
    s.set_display_name("Audit shop");
    s.set_schedule("0 0 1 1 *");
    s.set_timezone("UTC");
    s.set_enabled(true);
    s.set_orders_api_base(sys_->sim().orders_base(kStore));
    s.set_ads_api_base(sys_->sim().base_url());
    s.set_ad_account_id(kStore);
    s.set_credentials_ref("env:SIM_TOKEN");
    return s;
  }

  // Triggers as alice and waits until the run has ended (the next trigger must queue one).
  void TriggerAndFinish(bool force, const std::string& from = "", const std::string& to = "") {
    v1::TriggerSyncRequest req;
    req.set_store_id(kStore);
    req.set_trigger(v1::TRIGGER_MANUAL);
    req.set_force(force);
    req.set_backfill_from(from);
    req.set_backfill_to(to);
    v1::TriggerSyncResponse resp;
    const grpc::Status s = sys_->scheduler().TriggerSync(AsAlice().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(resp.started());
    auto run = sys_->WaitForRun(kStore, resp.run_id());
    ASSERT_TRUE(run.ok()) << run.status();
  }

  // Every entry, walking pages of `page_size`; checks the ids strictly decrease.
  std::vector<v1::AuditEntry> AllEntries(int page_size, const std::string& store = "") {
    std::vector<v1::AuditEntry> out;
    v1::ListAuditRequest req;
    req.set_page_size(page_size);
    req.set_store_id(store);
    for (int page = 0; page < 100; ++page) {
      grpc::ClientContext ctx;
      v1::ListAuditResponse resp;
      const grpc::Status s = sys_->scheduler().ListAudit(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(resp.entries_size(), page_size);
      for (const auto& e : resp.entries()) {
        if (!out.empty()) {
          EXPECT_LT(e.id(), out.back().id());
        }
        out.push_back(e);
      }
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }

  std::unique_ptr<System> sys_;
};

TEST_F(AuditTest, EveryAuditedActionIsRecordedWithItsActorStoreAndSource) {
  auto& stub = sys_->scheduler();
  {  // create
    v1::UpsertStoreRequest req;
    *req.mutable_store() = NewStore();
    req.set_create_only(true);
    v1::UpsertStoreResponse resp;
    ASSERT_TRUE(stub.UpsertStore(AsAlice().get(), req, &resp).ok());
  }
  {  // replace version 1, then a stale replace of version 1 again: refused, not recorded
    v1::UpsertStoreRequest req;
    *req.mutable_store() = NewStore();
    req.mutable_store()->set_display_name("Audit shop 2");
    req.set_expected_version(1);
    v1::UpsertStoreResponse resp;
    ASSERT_TRUE(stub.UpsertStore(AsAlice().get(), req, &resp).ok());
    const grpc::Status stale = stub.UpsertStore(AsAlice().get(), req, &resp);
    EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED) << stale.error_message();
  }
  {  // pause, resume
    v1::PauseStoreRequest pause;
    pause.set_store_id(kStore);
    pause.set_note("audit note");
    v1::Store out;
    ASSERT_TRUE(stub.PauseStore(AsAlice().get(), pause, &out).ok());
    v1::ResumeStoreRequest resume;
    resume.set_store_id(kStore);
    ASSERT_TRUE(stub.ResumeStore(AsAlice().get(), resume, &out).ok());
  }
  TriggerAndFinish(false);
  TriggerAndFinish(true);
  TriggerAndFinish(false, "2024-01-01", "2024-01-02");
  {  // fx rates
    v1::ImportFxRatesRequest req;
    req.set_csv("Date,USD,\n2026-12-04,1.05,\n");
    v1::ImportFxRatesResponse resp;
    const grpc::Status s = stub.ImportFxRates(AsAlice().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  {  // without metadata: a direct gRPC caller
    grpc::ClientContext ctx;
    v1::PauseStoreRequest pause;
    pause.set_store_id(kStore);
    v1::Store out;
    ASSERT_TRUE(stub.PauseStore(&ctx, pause, &out).ok());
  }
  {  // delete; a second delete fails (NOT_FOUND) and records nothing
    v1::DeleteStoreRequest req;
    req.set_store_id(kStore);
    v1::DeleteStoreResponse resp;
    ASSERT_TRUE(stub.DeleteStore(AsAlice().get(), req, &resp).ok());
    EXPECT_EQ(stub.DeleteStore(AsAlice().get(), req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // Oldest first for reading: the list is newest first.
  std::vector<v1::AuditEntry> entries = AllEntries(3);
  std::reverse(entries.begin(), entries.end());
  std::vector<std::string> actions;
  for (const auto& e : entries) actions.push_back(e.action());
  EXPECT_THAT(actions,
              ::testing::ElementsAre("store.create", "store.replace", "store.pause", "store.resume",
                                     "sync.trigger", "sync.resync", "sync.backfill",
                                     "fx_rates.import", "store.pause", "store.delete"));
  ASSERT_EQ(entries.size(), 10u);
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::AuditEntry& e = entries[i];
    SCOPED_TRACE(e.DebugString());
    EXPECT_EQ(e.store_id(), e.action() == "fx_rates.import" ? "" : kStore);
    EXPECT_GT(e.at().seconds(), 0);
    if (i == 8) {
      EXPECT_EQ(e.actor(), "grpc:anonymous");
      EXPECT_THAT(e.source(), ::testing::StartsWith("ipv4:127.0.0.1:"));
    } else {
      EXPECT_EQ(e.actor(), "alice");
      EXPECT_THAT(e.source(), HasSubstr("peer=203.0.113.7 via ipv4:127.0.0.1:"));
    }
  }
  EXPECT_THAT(entries[1].detail_json(), HasSubstr(R"("version": 2)"));
  EXPECT_THAT(entries[2].detail_json(), HasSubstr("audit note"));
  EXPECT_THAT(entries[6].detail_json(), HasSubstr("2024-01-01"));
  EXPECT_THAT(entries[4].detail_json(), HasSubstr("run_id"));

  // Paging: any page size walks the same entries; filters narrow them.
  EXPECT_EQ(AllEntries(1).size(), 10u);
  EXPECT_EQ(AllEntries(500).size(), 10u);
  {
    grpc::ClientContext ctx;
    v1::ListAuditRequest req;
    req.set_action("store.pause");
    v1::ListAuditResponse resp;
    ASSERT_TRUE(stub.ListAudit(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.entries_size(), 2);
  }
  for (const auto& bad :
       {std::make_pair(501, std::string()), std::make_pair(0, std::string("x"))}) {
    grpc::ClientContext ctx;
    v1::ListAuditRequest req;
    req.set_page_size(bad.first);
    req.set_page_token(bad.second);
    v1::ListAuditResponse resp;
    EXPECT_EQ(stub.ListAudit(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Each record is also one structured log line.
  EXPECT_THAT(sys_->AllOutput(), HasSubstr("event=audit"));
  EXPECT_THAT(sys_->AllOutput(), HasSubstr("action=store.delete"));
}

TEST_F(AuditTest, TheGatewayRecordsTheTokensSubAndServesTheTrailToAdminsOnly) {
  ASSERT_TRUE(sys_->RegisterStore(kStore).ok());
  const std::string admin = Token("ada-admin", "admin");
  auto paused = HttpCall("POST", sys_->GatewayUrl(absl::StrCat("/api/stores/", kStore, "/pause")),
                         {{"Authorization", "Bearer " + admin},
                          {"Content-Type", "application/json"},
                          {"X-Forwarded-For", "198.51.100.4"}},
                         R"({"note":"from the gateway"})");
  ASSERT_TRUE(paused.ok());
  ASSERT_EQ(paused->status, 200) << paused->body;

  auto trail = HttpCall("GET", sys_->GatewayUrl(absl::StrCat("/api/audit?storeId=", kStore)),
                        {{"Authorization", "Bearer " + admin}});
  ASSERT_TRUE(trail.ok());
  ASSERT_EQ(trail->status, 200) << trail->body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(trail->body).get(doc), simdjson::SUCCESS) << trail->body;
  EXPECT_TRUE(doc["success"].get_bool().value());
  simdjson::dom::array entries;
  ASSERT_EQ(doc["entries"].get_array().get(entries), simdjson::SUCCESS);
  ASSERT_GE(entries.size(), 1u);
  simdjson::dom::element newest = entries.at(0).value();
  EXPECT_EQ(std::string(newest["actor"].get_string().value()), "ada-admin");
  EXPECT_EQ(std::string(newest["action"].get_string().value()), "store.pause");
  EXPECT_EQ(std::string(newest["storeId"].get_string().value()), kStore);
  const std::string source(newest["source"].get_string().value());
  EXPECT_THAT(source, HasSubstr("peer=127.0.0.1"));
  EXPECT_THAT(source, HasSubstr("x-forwarded-for=198.51.100.4"));
  EXPECT_EQ(std::string(newest["detail"]["note"].get_string().value()), "from the gateway");
  EXPECT_GT(newest["id"].get_int64().value(), 0);
  EXPECT_TRUE(newest["at"].is_string());
  EXPECT_TRUE(doc["nextBefore"].is_null());

  // Paging through the gateway: limit=1 gives nextBefore, which continues below it.
  auto first = HttpCall("GET", sys_->GatewayUrl("/api/audit?limit=1"),
                        {{"Authorization", "Bearer " + admin}});
  ASSERT_TRUE(first.ok());
  simdjson::dom::element page;
  ASSERT_EQ(parser.parse(first->body).get(page), simdjson::SUCCESS) << first->body;
  ASSERT_TRUE(page["nextBefore"].is_int64()) << first->body;  // the register and the pause

  auto as_operator = HttpCall("GET", sys_->GatewayUrl("/api/audit"),
                              {{"Authorization", "Bearer " + Token("otto", "operator")}});
  ASSERT_TRUE(as_operator.ok());
  EXPECT_EQ(as_operator->status, 403);
  EXPECT_THAT(as_operator->body, HasSubstr("role admin required"));

  for (const std::string bad :
       {"limit=0", "limit=abc", "before=-1", "storeId=BAD!", "action=DROP%20TABLE"}) {
    auto res = HttpCall("GET", sys_->GatewayUrl("/api/audit?" + bad),
                        {{"Authorization", "Bearer " + admin}});
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 400) << bad << ": " << res->body;
    EXPECT_THAT(res->body, HasSubstr(bad.substr(0, bad.find('=')) + ":")) << bad;
  }
}

}  // namespace
}  // namespace autosync::testing
