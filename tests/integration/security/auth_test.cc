// Auth across stores on a whole running system (PostgreSQL, store-sim, scheduler, sync-worker,
// ws-gateway with --jwt_secret_file): a token for store A can neither watch, read nor trigger
// store B over plain WebSocket, Socket.IO (auth payload, ?token=, Authorization header) or any
// /api/ route; bad tokens (expired, wrongly signed, alg:none, malformed) are refused with their
// reason on every transport; a "*" token reaches every store.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/gateway/ws_test_client.h"
#include "tests/integration/security/security_support.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "auth-test-secret-0123456789abcdef";
// "aaa-first" sorts before the others: a filtered page of it must not give it away.
constexpr char kHidden[] = "aaa-first";
constexpr char kA[] = "storea";
constexpr char kB[] = "storeb";

std::string JsDir() {
  const char* source = std::getenv("AUTOSYNC_SOURCE_DIR");
  if (source != nullptr && *source != '\0') {
    return absl::StrCat(source, "/tests/integration/security/js");
  }
  return AUTOSYNC_SECURITY_JS_DIR;
}

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto system = System::Start(
        {.sim_args = {absl::StrCat("--stores=", kHidden, ":50,", kA, ":200,", kB, ":200")},
         .jwt_secret = kSecret});
    ASSERT_TRUE(system.ok()) << system.status();
    system_ = std::move(*system).release();
    for (const char* store : {kHidden, kA, kB}) {
      ASSERT_TRUE(system_->RegisterStore(store).ok());
    }
  }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(system_, nullptr); }

  static std::string Url(const std::string& path) { return system_->GatewayUrl(path); }
  static std::string TokenA() { return SignedToken(kSecret, absl::StrCat("[\"", kA, "\"]")); }
  static std::string TokenAll() { return SignedToken(kSecret, R"("*")", 3600, "admin"); }

  static int64_t RunsOf(const std::string& store) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::ListRunsRequest req;
    req.set_store_id(store);
    v1::ListRunsResponse resp;
    const grpc::Status s = system_->scheduler().ListRuns(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.runs_size();
  }

  std::unique_ptr<WsTestClient> Ws(const std::string& target, const Headers& headers = {}) {
    auto client = WsTestClient::Connect(system_->gateway_port(), target, {.headers = headers});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static System* system_;
};
System* AuthTest::system_ = nullptr;

// Every /api/ route of a store: method and path.
std::vector<std::pair<std::string, std::string>> StoreRoutes(const std::string& store) {
  return {{"GET", "/api/sync/status/" + store},
          {"GET", "/api/stores/" + store + "/ltv"},
          {"GET", "/api/stores/" + store + "/runs"},
          {"GET", "/api/stores/" + store + "/quarantine"},
          {"POST", "/api/test/trigger-sync/" + store}};
}

// The ways an HTTP client carries a token.
std::vector<std::pair<std::string, Headers>> Carriers(const std::string& token) {
  return {{"?token=" + token, {}},
          {"", {{"Authorization", "Bearer " + token}}},
          {"", {{"authorization", "bearer " + token}}}};
}

TEST_F(AuthTest, HttpRoutesOfAnotherStoreAreRefusedAndNothingRuns) {
  const int64_t runs_before = RunsOf(kB);
  for (const auto& [query, headers] : Carriers(TokenA())) {
    for (const auto& [method, path] : StoreRoutes(kB)) {
      auto res = HttpCall(method, Url(path + query), headers);
      ASSERT_TRUE(res.ok()) << res.status();
      EXPECT_EQ(res->status, 403) << method << " " << path << " " << res->body;
      EXPECT_THAT(res->body, HasSubstr("does not grant store storeb"));
      EXPECT_THAT(res->body, Not(HasSubstr("\"success\":true")));
    }
    // The same routes of its own store answer.
    for (const auto& [method, path] : StoreRoutes(kA)) {
      auto res = HttpCall(method, Url(path + query), headers);
      ASSERT_TRUE(res.ok()) << res.status();
      EXPECT_TRUE(res->status == 200 || (method == "POST" && res->status == 409))
          << method << " " << path << " " << res->status << " " << res->body;
    }
  }
  // A header token for A and a query token for everything: the header is the one used, the
  // query cannot widen it.
  auto mixed = HttpCall("GET", Url(absl::StrCat("/api/sync/status/", kB, "?token=", TokenAll())),
                        {{"Authorization", "Bearer " + TokenA()}});
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->status, 403);
  // Path spellings that might reach B another way are never B's data.
  for (const std::string& path :
       {absl::StrCat("/api/sync/status/", kA, "/../", kB), std::string("/api/sync/status/STOREB"),
        std::string("/api/sync/status/storeb%00"), std::string("/api/sync/status/store%62"),
        std::string("/api//sync/status/storeb"), std::string("/api/sync/status/storeb/"),
        std::string("/api/stores/storeb/ltv/"), std::string("/api/stores/./storeb/runs")}) {
    auto res = HttpCall("GET", Url(path + "?token=" + TokenA()));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_NE(res->status, 200) << path << " " << res->body;
    EXPECT_THAT(res->body, Not(HasSubstr("\"success\":true"))) << path;
  }
  EXPECT_EQ(RunsOf(kB), runs_before) << "a refused trigger started a run of storeb";
}

TEST_F(AuthTest, StoresListShowsOnlyTheGrantedStoresAndPageTokensRevealNoOthers) {
  auto all = HttpCall("GET", Url("/api/stores?token=" + TokenAll()));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->status, 200) << all->body;
  for (const char* store : {kHidden, kA, kB}) {
    EXPECT_THAT(all->body, HasSubstr(absl::StrCat("\"storeId\":\"", store, "\"")));
  }
  // A token for A, with every page size: only A, and no page token that names another store.
  for (const char* page_size : {"", "&pageSize=1", "&pageSize=2", "&pageSize=1000"}) {
    std::string page_token;
    std::vector<std::string> seen;
    for (int page = 0; page < 10; ++page) {
      auto res =
          HttpCall("GET", Url(absl::StrCat("/api/stores?token=", TokenA(), page_size,
                                           page_token.empty() ? "" : "&pageToken=", page_token)));
      ASSERT_TRUE(res.ok());
      ASSERT_EQ(res->status, 200) << res->body;
      EXPECT_THAT(res->body, Not(HasSubstr(kHidden))) << page_size;
      EXPECT_THAT(res->body, Not(HasSubstr(kB))) << page_size;
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(res->body).get(doc), simdjson::SUCCESS) << res->body;
      simdjson::dom::array stores;
      ASSERT_EQ(doc["stores"].get_array().get(stores), simdjson::SUCCESS) << res->body;
      for (simdjson::dom::element s : stores) {
        seen.emplace_back(std::string_view(s["storeId"].get_string().value()));
      }
      std::string_view next;
      if (doc["nextPageToken"].get_string().get(next) != simdjson::SUCCESS || next.empty()) break;
      std::string decoded;
      absl::WebSafeBase64Unescape(std::string(next), &decoded);
      EXPECT_THAT(decoded, Not(HasSubstr(kHidden))) << "page token reveals " << decoded;
      EXPECT_THAT(decoded, Not(HasSubstr(kB))) << "page token reveals " << decoded;
      page_token = std::string(next);
    }
    EXPECT_THAT(seen, ::testing::ElementsAre(kA)) << page_size;
  }
  // A token for no store lists nothing.
  auto none = HttpCall("GET", Url("/api/stores?token=" + SignedToken(kSecret, "[]")));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 200);
  EXPECT_THAT(none->body, HasSubstr(R"("stores":[])"));
}

TEST_F(AuthTest, AStarTokenReachesEveryStore) {
  for (const char* store : {kA, kB}) {
    for (const auto& [method, path] : StoreRoutes(store)) {
      auto res = HttpCall(method, Url(path), {{"Authorization", "Bearer " + TokenAll()}});
      ASSERT_TRUE(res.ok());
      EXPECT_TRUE(res->status == 200 || (method == "POST" && res->status == 409))
          << path << " " << res->status << " " << res->body;
    }
  }
  // An `exp` far beyond int64 seconds is the issuer's choice: valid (and no overflow).
  const std::string forever = gateway::SignJwtHs256(
      R"({"alg":"HS256"})", R"({"stores":["storeb"],"exp":1e300,"nbf":-1e300})", kSecret);
  auto res = HttpCall("GET", Url("/api/sync/status/storeb?token=" + forever));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200) << res->body;
  auto ws = Ws("/ws?token=" + TokenAll());
  ASSERT_NE(ws, nullptr);
  ASSERT_TRUE(ws->SendText(R"({"event":"selectStore","data":"storeb"})").ok());
  auto status = ws->ReadUntil("\"syncStatus\"");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, HasSubstr("\"storeId\":\"storeb\""));
}

// Tokens the gateway must refuse, with the reason it gives.
struct BadToken {
  std::string name;
  std::string token;
  std::string reason;
  // Longer than the gateway's HTTP header limit: it can only arrive in a Socket.IO CONNECT.
  bool oversized = false;
};

std::string Payload(const std::string& claims) { return gateway::Base64UrlEncode(claims); }

std::vector<BadToken> BadTokens() {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string exp = absl::StrCat(now + 3600);
  const std::string good_claims = absl::StrCat(R"({"stores":"*","exp":)", exp, "}");
  const std::string hs256 = R"({"alg":"HS256","typ":"JWT"})";
  auto sign = [&](const std::string& header, const std::string& claims) {
    return gateway::SignJwtHs256(header, claims, kSecret);
  };
  const std::string valid = sign(hs256, good_claims);
  const std::vector<std::string> parts = absl::StrSplit(valid, '.');
  return {
      {"expired", SignedToken(kSecret, R"("*")", -5), "expired"},
      {"wrong secret", gateway::SignJwtHs256(hs256, good_claims, "another-secret-0123456789"),
       "bad signature"},
      {"payload swapped",
       absl::StrCat(parts[0], ".",
                    Payload(absl::StrCat(R"({"stores":["storeb"],"exp":)", exp, "}")), ".",
                    parts[2]),
       "bad signature"},
      {"alg none unsigned",
       absl::StrCat(Payload(R"({"alg":"none","typ":"JWT"})"), ".", Payload(good_claims), "."),
       "alg none is not HS256"},
      {"alg none signed", sign(R"({"alg":"none"})", good_claims), "alg none is not HS256"},
      {"alg None", sign(R"({"alg":"None"})", good_claims), "is not HS256"},
      {"alg HS512", sign(R"({"alg":"HS512"})", good_claims), "is not HS256"},
      {"alg RS256", sign(R"({"alg":"RS256"})", good_claims), "is not HS256"},
      {"no alg", sign(R"({"typ":"JWT"})", good_claims), "no alg"},
      {"two parts", absl::StrCat(parts[0], ".", parts[1]), "three dot-separated parts"},
      {"four parts", absl::StrCat(valid, ".", parts[2]), "three dot-separated parts"},
      {"one part", "abcdef", "three dot-separated parts"},
      {"bad base64", absl::StrCat(parts[0], ".", parts[1], "*", ".", parts[2]), "bad base64url"},
      {"padded base64", absl::StrCat(parts[0], "=.", parts[1], ".", parts[2]), "bad base64url"},
      {"header not JSON", sign("{alg:HS256", good_claims), "header is not a JSON object"},
      {"header an array", sign(R"(["HS256"])", good_claims), "header is not a JSON object"},
      {"payload not JSON", sign(hs256, R"({"stores":"*","exp":)"), "payload is not a JSON object"},
      {"payload a string", sign(hs256, R"("*")"), "payload is not a JSON object"},
      {"exp a string", sign(hs256, absl::StrCat(R"({"stores":"*","exp":")", exp, "\"}")),
       "no numeric exp claim"},
      {"exp missing", sign(hs256, R"({"stores":"*"})"), "no numeric exp claim"},
      {"exp far past", sign(hs256, R"({"stores":"*","exp":-1e300})"), "expired"},
      {"nbf in the future",
       sign(hs256, absl::StrCat(R"({"stores":"*","exp":)", exp, R"(,"nbf":)", now + 600, "}")),
       "not valid yet"},
      {"nbf a string", sign(hs256, absl::StrCat(R"({"stores":"*","exp":)", exp, R"(,"nbf":"0"})")),
       "nbf is not a number"},
      {"stores missing", sign(hs256, absl::StrCat(R"({"exp":)", exp, "}")), "no stores claim"},
      {"stores a number", sign(hs256, absl::StrCat(R"({"stores":7,"exp":)", exp, "}")),
       "stores claim is not"},
      {"stores an object",
       sign(hs256, absl::StrCat(R"({"stores":{"storea":true},"exp":)", exp, "}")),
       "stores claim is not"},
      {"stores holds a number",
       sign(hs256, absl::StrCat(R"({"stores":["storea",1],"exp":)", exp, "}")),
       "stores claim holds a non-string"},
      {"oversized", absl::StrCat(parts[0], ".", std::string(9000, 'A'), ".", parts[2]),
       "longer than 8192 bytes", true},
  };
}

TEST_F(AuthTest, BadTokensAreRefusedOverHttpWithTheirReason) {
  auto anonymous = HttpCall("GET", Url("/api/sync/status/storea"));
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_THAT(anonymous->body, HasSubstr("bearer token is required"));
  EXPECT_THAT(anonymous->headers, HasSubstr("WWW-Authenticate: Bearer"));
  for (const BadToken& bad : BadTokens()) {
    if (bad.oversized) {
      // Refused by the header limit (connection closed or 4xx), never served.
      auto res = HttpCall("GET", Url("/api/sync/status/storea"),
                          {{"Authorization", "Bearer " + bad.token}});
      EXPECT_TRUE(!res.ok() || (res->status >= 400 && res->status < 500))
          << res->status << " " << res->body;
      continue;
    }
    for (const auto& [method, path] : StoreRoutes(kA)) {
      auto res = HttpCall(method, Url(path), {{"Authorization", "Bearer " + bad.token}});
      ASSERT_TRUE(res.ok()) << bad.name << ": " << res.status();
      EXPECT_EQ(res->status, 401) << bad.name << " " << path << " " << res->body;
      EXPECT_THAT(res->body, HasSubstr("invalid token: ")) << bad.name;
      EXPECT_THAT(res->body, HasSubstr(bad.reason)) << bad.name;
      EXPECT_THAT(res->headers, HasSubstr("WWW-Authenticate: Bearer")) << bad.name;
    }
    auto stores = HttpCall("GET", Url("/api/stores"), {{"Authorization", "Bearer " + bad.token}});
    ASSERT_TRUE(stores.ok());
    EXPECT_EQ(stores->status, 401) << bad.name;
  }
  // A token for no store is valid but grants nothing.
  auto empty = HttpCall("GET", Url("/api/sync/status/storea?token=" + SignedToken(kSecret, "[]")));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->status, 403);
}

TEST_F(AuthTest, BadTokensAreRefusedOverWebSocketWithTheirReason) {
  auto anonymous = Ws("/ws");
  ASSERT_NE(anonymous, nullptr);
  auto closed = anonymous->Read();
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("closed 1008"));
  EXPECT_THAT(std::string(closed.status().message()), HasSubstr("bearer token is required"));
  for (const BadToken& bad : BadTokens()) {
    if (bad.oversized) continue;  // see BadTokensAreRefusedOverHttpWithTheirReason
    for (bool header : {false, true}) {
      auto client = header ? Ws("/ws", {{"Authorization", "Bearer " + bad.token}})
                           : Ws("/ws?token=" + bad.token);
      ASSERT_NE(client, nullptr) << bad.name;
      // Whatever the client sends first, the connection ends with the reason and nothing else.
      (void)client->SendText(R"({"event":"selectStore","data":"storea"})");
      auto read = client->Read();
      ASSERT_FALSE(read.ok()) << bad.name << " got " << *read;
      EXPECT_THAT(std::string(read.status().message()), HasSubstr("closed 1008")) << bad.name;
      EXPECT_THAT(std::string(read.status().message()), HasSubstr(bad.reason)) << bad.name;
    }
  }
}

TEST_F(AuthTest, WebSocketTokenCannotWatchOrTriggerAnotherStore) {
  for (bool header : {false, true}) {
    SCOPED_TRACE(header ? "Authorization header" : "?token=");
    auto client =
        header ? Ws("/ws", {{"Authorization", "Bearer " + TokenA()}}) : Ws("/ws?token=" + TokenA());
    ASSERT_NE(client, nullptr);
    const int64_t b_runs = RunsOf(kB);
    for (const std::string& frame :
         {std::string(R"({"event":"selectStore","data":"storeb"})"),
          std::string(R"({"event":"selectStore","data":{"storeId":"storeb"}})"),
          std::string(R"({"event":"triggerManualSync","data":"storeb"})"),
          std::string(R"({"event":"triggerManualSync","data":{"storeId":"storeb"}})")}) {
      ASSERT_TRUE(client->SendText(frame).ok());
      auto reply = client->Read();
      ASSERT_TRUE(reply.ok()) << frame << ": " << reply.status();
      EXPECT_THAT(*reply, HasSubstr("does not grant store storeb")) << frame;
      EXPECT_THAT(*reply, Not(HasSubstr("\"success\":true"))) << frame;
    }
    // Nothing selected yet: a bare trigger has no store to run.
    ASSERT_TRUE(client->SendText(R"({"event":"triggerManualSync"})").ok());
    auto bare = client->Read();
    ASSERT_TRUE(bare.ok());
    EXPECT_THAT(*bare, Not(HasSubstr("\"success\":true")));
    EXPECT_EQ(RunsOf(kB), b_runs);

    // Watch A; a run of B (started by an admin) sends A's client nothing about B.
    ASSERT_TRUE(client->SendText(R"({"event":"selectStore","data":"storea"})").ok());
    auto status = client->ReadUntil("\"syncStatus\"");
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_THAT(*status, HasSubstr("\"storeId\":\"storea\""));
    auto b_run = system_->TriggerAndWait(kB);
    ASSERT_TRUE(b_run.ok()) << b_run.status();
    EXPECT_EQ(b_run->status(), "completed") << b_run->error();
    // Then A's own run, to the end: every message up to its last event is about A.
    ASSERT_TRUE(client->SendText(R"({"event":"triggerManualSync"})").ok());
    bool completed = false;
    for (int i = 0; i < 200 && !completed; ++i) {
      auto msg = client->Read(absl::Seconds(30));
      ASSERT_TRUE(msg.ok()) << msg.status();
      EXPECT_THAT(*msg, Not(HasSubstr("storeb")));
      if (absl::StrContains(*msg, "\"triggerResult\"")) {
        EXPECT_THAT(*msg, HasSubstr("\"success\":true"));
      }
      completed = absl::StrContains(*msg, "\"stage\":\"completed\"");
    }
    EXPECT_TRUE(completed);
  }
}

bool HaveNode() {
  return RunCommand({"node", "--version"}).ok() &&
         std::filesystem::exists(JsDir() + "/../../gateway/js/node_modules/socket.io-client");
}

absl::StatusOr<std::string> SioClient(const std::string& url, std::vector<std::string> extra) {
  std::vector<std::string> argv = {"node", JsDir() + "/sio_auth.js", "--url=" + url};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return RunCommand(argv);
}

TEST_F(AuthTest, SocketIoTokenCannotWatchOrTriggerAnotherStore) {
  ASSERT_TRUE(HaveNode()) << "node and `npm ci --prefix tests/integration/gateway/js` are needed";
  for (const char* via : {"auth", "query", "header"}) {
    for (bool websocket_only : {false, true}) {
      SCOPED_TRACE(absl::StrCat(via, websocket_only ? " websocket-only" : " polling+upgrade"));
      const int64_t b_runs = RunsOf(kB);
      std::vector<std::string> args = {"--token=" + TokenA(), absl::StrCat("--via=", via)};
      if (websocket_only) args.push_back("--websocket-only");
      auto out = SioClient(Url(""), args);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_THAT(*out, HasSubstr(R"("ok":true)"));
      EXPECT_THAT(*out, HasSubstr(R"("foreignEvents":0)"));
      // Four refusals, each naming the store; the own store's run went to the end.
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(*out).get(doc), simdjson::SUCCESS) << *out;
      simdjson::dom::array acks;
      ASSERT_EQ(doc["foreignAcks"].get_array().get(acks), simdjson::SUCCESS);
      EXPECT_EQ(acks.size(), 4u);
      for (simdjson::dom::element ack : acks) {
        bool success = true;
        EXPECT_EQ(ack["success"].get(success), simdjson::SUCCESS);
        EXPECT_FALSE(success);
        std::string_view error;
        EXPECT_EQ(ack["error"].get(error), simdjson::SUCCESS);
        EXPECT_THAT(std::string(error), HasSubstr("does not grant store storeb"));
      }
      EXPECT_THAT(*out, HasSubstr(R"("completed"])"));
      EXPECT_EQ(RunsOf(kB), b_runs);
    }
  }
}

TEST_F(AuthTest, BadTokensAreRefusedOverSocketIoWithTheirReason) {
  ASSERT_TRUE(HaveNode()) << "node and `npm ci --prefix tests/integration/gateway/js` are needed";
  auto anonymous = SioClient(Url(""), {"--scenario=refused"});
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_THAT(*anonymous, HasSubstr("bearer token is required"));
  const std::vector<BadToken> bad_tokens = BadTokens();
  for (size_t i = 0; i < bad_tokens.size(); ++i) {
    const BadToken& bad = bad_tokens[i];
    // Each carrier in turn (node start-up is the slow part: one run per token).
    const std::string via = bad.oversized || i % 3 == 0 ? "auth" : i % 3 == 1 ? "query" : "header";
    auto out = SioClient(Url(""), {"--scenario=refused", "--token=" + bad.token, "--via=" + via});
    ASSERT_TRUE(out.ok()) << bad.name << " via " << via << ": " << out.status();
    EXPECT_THAT(*out, HasSubstr("invalid token: ")) << bad.name << " via " << via;
    EXPECT_THAT(*out, HasSubstr(bad.reason)) << bad.name << " via " << via;
  }
}

}  // namespace
}  // namespace autosync::testing
