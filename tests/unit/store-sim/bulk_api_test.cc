// Shopify bulk operations as a connector sees them, through Simulator::Handle(): run, poll,
// download, the JSONL against the REST and GraphQL views of the same orders, the lifecycle on
// the fake clock, cancel, the signed URL and every bulk fault switch.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/unit/store-sim/sim_test_util.h"
#include "tools/store-sim/graphql_bulk.h"

namespace autosync::storesim {
namespace {

using testing::Call;
using testing::FakeClock;
using testing::Get;
using testing::GraphqlOrdersBody;
using testing::GraphqlQueryBody;
using testing::MakeSim;
using testing::OrdersPath;
using testing::ParseJson;
using testing::PostGraphql;
using testing::SmallConfig;

constexpr const char* kRunMutation =
    "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } "
    "userErrors { field message } } }";
constexpr const char* kPollQuery =
    "query($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode createdAt "
    "completedAt objectCount fileSize url partialDataUrl } } }";
constexpr const char* kCancelMutation =
    "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } "
    "userErrors { field message } } }";
constexpr const char* kSelection =
    "{ edges { node { id name email createdAt updatedAt processedAt cancelledAt test "
    "displayFinancialStatus currencyCode totalPriceSet { shopMoney { amount currencyCode } } "
    "subtotalPriceSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } "
    "totalDiscountsSet { shopMoney { amount } } currentTotalPriceSet { shopMoney { amount } } "
    "customer { id } refunds { id transactions { edges { node { id kind status amountSet { "
    "shopMoney { amount } } } } } } } } }";

std::string InnerQuery(const std::string& search) {
  std::string args = "sortKey: UPDATED_AT";
  if (!search.empty()) {
    std::string quoted;
    AppendJsonString(quoted, search);
    args = "query: " + quoted + ", " + args;
  }
  return "{ orders(" + args + ") " + kSelection + " }";
}

std::string RunBody(const std::string& inner) {
  std::string vars = "{\"q\":";
  AppendJsonString(vars, inner);
  return GraphqlQueryBody(kRunMutation, vars + "}");
}

std::string IdBody(const char* query, const std::string& gid) {
  std::string vars = "{\"id\":";
  AppendJsonString(vars, gid);
  return GraphqlQueryBody(query, vars + "}");
}

struct Operation {
  bool present = false;
  std::string id, status, error_code, created_at, completed_at, url;
  int64_t object_count = -1;
  int64_t file_size = -1;  // -1: null
  bool partial_null = false;
};

// `full`: the node / currentBulkOperation shape, where every member is always there.
Operation ReadOperation(simdjson::dom::element e, bool full = true) {
  Operation op;
  if (e.is_null()) return op;
  op.present = true;
  std::string_view v;
  if (e["id"].get(v) == simdjson::SUCCESS) op.id = v;
  if (e["status"].get(v) == simdjson::SUCCESS) op.status = v;
  if (e["errorCode"].get(v) == simdjson::SUCCESS) op.error_code = v;
  if (e["createdAt"].get(v) == simdjson::SUCCESS) op.created_at = v;
  if (e["completedAt"].get(v) == simdjson::SUCCESS) op.completed_at = v;
  if (e["url"].get(v) == simdjson::SUCCESS) op.url = v;
  if (e["objectCount"].get(v) == simdjson::SUCCESS) {
    EXPECT_TRUE(absl::SimpleAtoi(absl::string_view(v.data(), v.size()), &op.object_count)) << v;
  }
  if (e["fileSize"].get(v) == simdjson::SUCCESS) {
    EXPECT_TRUE(absl::SimpleAtoi(absl::string_view(v.data(), v.size()), &op.file_size)) << v;
  }
  op.partial_null = e["partialDataUrl"].is_null();
  for (const char* member : {"id", "status", "errorCode", "createdAt", "completedAt", "objectCount",
                             "fileSize", "url", "partialDataUrl"}) {
    if (full) {
      EXPECT_NE(e[member].error(), simdjson::NO_SUCH_FIELD) << member;
    }
  }
  return op;
}

struct UserError {
  std::string field;  // the field JSON: null or ["query"]
  std::string message;
};

class BulkApiTest : public ::testing::Test {
 protected:
  void SetUp() override { Make(0); }

  void Make(int64_t bulk_min_ms, int64_t orders = 3000) {
    sim_.reset();
    SimConfig c = SmallConfig(orders);
    c.bulk_min_ms = bulk_min_ms;
    c.graphql_restore_rate = 0;  // polls are not about the cost bucket here
    sim_ = MakeSim(c, &clock_);
  }

  void SetFaults(const std::string& json) {
    Response r = sim_->Handle(Call("POST", "/_sim/faults", json));
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Runs; returns the gid, or "" with the userError in *error.
  std::string Run(const std::string& inner, const std::string& store = "shop",
                  UserError* error = nullptr) {
    Response r = sim_->Handle(PostGraphql(store, RunBody(inner)));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = ParseJson(r.body);
    EXPECT_TRUE(j->ok) << r.body;
    auto result = j->root["data"]["bulkOperationRunQuery"];
    simdjson::dom::array errors;
    EXPECT_EQ(result["userErrors"].get(errors), simdjson::SUCCESS) << r.body;
    if (errors.size() > 0) {
      EXPECT_TRUE(result["bulkOperation"].is_null()) << r.body;
      if (error != nullptr) {
        error->field = simdjson::minify(errors.at(0)["field"]);
        error->message = std::string(std::string_view(errors.at(0)["message"]));
      } else {
        ADD_FAILURE() << r.body;
      }
      return "";
    }
    Operation op = ReadOperation(result["bulkOperation"], /*full=*/false);
    EXPECT_EQ(op.status, "CREATED");
    EXPECT_TRUE(absl::StartsWith(op.id, "gid://shopify/BulkOperation/")) << op.id;
    EXPECT_NE(r.body.find("\"extensions\":{\"cost\":{\"requestedQueryCost\":10,"
                          "\"actualQueryCost\":10,"),
              std::string::npos)
        << r.body;
    return op.id;
  }

  Operation Poll(const std::string& gid, const std::string& store = "shop") {
    Response r = sim_->Handle(PostGraphql(store, IdBody(kPollQuery, gid)));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = ParseJson(r.body);
    EXPECT_TRUE(j->ok) << r.body;
    return ReadOperation(j->root["data"]["node"]);
  }

  Operation Current(const std::string& store = "shop") {
    Response r = sim_->Handle(
        PostGraphql(store, GraphqlQueryBody("query { currentBulkOperation { id status errorCode "
                                            "objectCount url } }")));
    EXPECT_EQ(r.status, 200) << r.body;
    return ReadOperation(ParseJson(r.body)->root["data"]["currentBulkOperation"]);
  }

  // The answer's bulkOperation status, or the first userError as "<field> <message>".
  std::string Cancel(const std::string& gid) {
    Response r = sim_->Handle(PostGraphql("shop", IdBody(kCancelMutation, gid)));
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = ParseJson(r.body);
    auto result = j->root["data"]["bulkOperationCancel"];
    simdjson::dom::array errors = result["userErrors"].get_array();
    if (errors.size() > 0) {
      EXPECT_TRUE(result["bulkOperation"].is_null());
      return simdjson::minify(errors.at(0)["field"]) + " " +
             std::string(std::string_view(errors.at(0)["message"]));
    }
    return std::string(std::string_view(result["bulkOperation"]["status"]));
  }

  // Polls (real time, bounded) until the status is `want` or the deadline passes.
  Operation WaitFor(const std::string& gid, const std::string& want) {
    Operation op;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      op = Poll(gid);
      if (op.status == want) return op;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ADD_FAILURE() << gid << " never became " << want << " (last " << op.status << ")";
    return op;
  }

  Response Download(const std::string& url) {
    const std::string prefix = "http://127.0.0.1:8090";
    EXPECT_TRUE(absl::StartsWith(url, prefix + "/_bulk/shop/")) << url;
    Request r;
    r.method = "GET";
    r.target = url.substr(prefix.size());
    return sim_->Handle(r);
  }

  // Runs, waits for COMPLETED and downloads; the file.
  std::string RunToFile(const std::string& inner) {
    std::string gid = Run(inner);
    Operation op = WaitFor(gid, "COMPLETED");
    Response d = Download(op.url);
    EXPECT_EQ(d.status, 200) << d.body;
    return std::string(d.Body());
  }

  FakeClock clock_;
  std::unique_ptr<Simulator> sim_;
};

struct Line {
  std::string json;
  std::string id;
  std::string parent;  // __parentId, empty for an order
};

std::vector<Line> Lines(const std::string& file) {
  std::vector<Line> out;
  EXPECT_TRUE(file.empty() || file.back() == '\n');
  for (absl::string_view text : absl::StrSplit(file, '\n', absl::SkipEmpty())) {
    Line line;
    line.json = std::string(text);
    auto j = ParseJson(line.json);
    EXPECT_TRUE(j->ok) << text;
    std::string_view v;
    EXPECT_EQ(j->root["id"].get(v), simdjson::SUCCESS);
    line.id = v;
    if (j->root["__parentId"].get(v) == simdjson::SUCCESS) line.parent = v;
    out.push_back(std::move(line));
  }
  return out;
}

int64_t GidNumber(const std::string& gid) { return std::stoll(gid.substr(gid.rfind('/') + 1)); }

int64_t Cents(std::string_view amount) {
  double v = std::stod(std::string(amount));
  return static_cast<int64_t>(v * 100 + (v < 0 ? -0.5 : 0.5));
}

TEST_F(BulkApiTest, RunPollDownloadGivesTheGraphqlNodesWithTheirRefunds) {
  const std::string gid = Run(InnerQuery(""));
  Operation done = WaitFor(gid, "COMPLETED");
  EXPECT_EQ(done.id, gid);
  EXPECT_TRUE(done.error_code.empty());
  EXPECT_TRUE(absl::EndsWith(done.created_at, "Z")) << done.created_at;
  EXPECT_TRUE(absl::EndsWith(done.completed_at, "Z")) << done.completed_at;
  EXPECT_TRUE(done.partial_null);
  Response d = Download(done.url);
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.Header("Content-Type"), "application/jsonl");
  const std::string file(d.Body());
  EXPECT_EQ(done.file_size, static_cast<int64_t>(file.size()));
  std::vector<Line> lines = Lines(file);
  EXPECT_EQ(done.object_count, static_cast<int64_t>(lines.size()));

  // Every GraphQL connection node, in its order (by updatedAt, then id).
  std::vector<std::string> nodes;
  for (std::string after;;) {
    Response r = sim_->Handle(PostGraphql("shop", GraphqlOrdersBody(250, after)));
    auto j = ParseJson(r.body);
    ASSERT_TRUE(j->ok);
    for (auto node : j->root["data"]["orders"]["nodes"].get_array()) {
      nodes.push_back(simdjson::minify(node));
    }
    if (!bool(j->root["data"]["orders"]["pageInfo"]["hasNextPage"])) break;
    after = std::string(std::string_view(j->root["data"]["orders"]["pageInfo"]["endCursor"]));
  }
  ASSERT_EQ(nodes.size(), 3000u);

  // REST's refunded amount per order: its refunds' successful transactions.
  std::map<int64_t, int64_t> rest_refunded;
  for (std::string target = OrdersPath("shop", "status=any&limit=250&fields=id,refunds");
       !target.empty();) {
    Response r = sim_->Handle(Get(target));
    ASSERT_EQ(r.status, 200);
    auto page = ParseJson(r.body);
    for (auto o : page->root["orders"].get_array()) {
      int64_t sum = 0;
      for (auto refund : o["refunds"].get_array()) {
        for (auto t : refund["transactions"].get_array()) {
          if (std::string_view(t["status"]) == "success") sum += Cents(t["amount"]);
        }
      }
      rest_refunded[int64_t(o["id"])] = sum;
    }
    target = testing::LinkTarget(r, "next");
  }
  ASSERT_EQ(rest_refunded.size(), 3000u);

  const StoreData& data = *sim_->FindStore("shop");
  std::map<int64_t, const Order*> by_id;
  for (const Order& o : data.orders()) by_id[o.id] = &o;
  size_t parent_index = 0;
  int refunded = 0, pairs = 0;
  for (size_t i = 0; i < lines.size();) {
    const Line& parent = lines[i];
    ASSERT_TRUE(parent.parent.empty()) << parent.json;
    ASSERT_LT(parent_index, nodes.size());
    const int64_t order_id = GidNumber(parent.id);
    const Order& o = *by_id.at(order_id);
    // The connection's node without totalRefundedSet, plus refunds.
    std::string expected = nodes[parent_index++];
    const std::string refunded_member = ",\"totalRefundedSet\":{\"shopMoney\":{";
    size_t at = expected.find(refunded_member);
    ASSERT_NE(at, std::string::npos);
    expected.erase(at, expected.find("}}", at) + 2 - at);
    const std::string refund_gid = absl::StrCat("gid://shopify/Refund/", order_id);
    expected.insert(expected.size() - 1,
                    o.refund_at != 0 ? absl::StrCat(",\"refunds\":[{\"id\":\"", refund_gid, "\"}]")
                                     : ",\"refunds\":[]");
    EXPECT_EQ(parent.json, expected);
    ++i;
    // Its transactions come right after it.
    int64_t success = 0;
    std::vector<std::string> statuses;
    for (; i < lines.size() && !lines[i].parent.empty(); ++i) {
      EXPECT_EQ(lines[i].parent, refund_gid);
      auto t = ParseJson(lines[i].json);
      EXPECT_EQ(std::string_view(t->root["kind"]), "REFUND");
      std::string_view status = t->root["status"];
      statuses.emplace_back(status);
      EXPECT_EQ(std::string_view(t->root["amountSet"]["shopMoney"]["currencyCode"]), "USD");
      if (status == "SUCCESS") success += Cents(t->root["amountSet"]["shopMoney"]["amount"]);
    }
    if (o.refund_at == 0) {
      EXPECT_TRUE(statuses.empty()) << parent.json;
      continue;
    }
    ++refunded;
    if (order_id % 5 == 0) {
      ++pairs;
      EXPECT_EQ(statuses, (std::vector<std::string>{"FAILURE", "SUCCESS"}));
    } else {
      EXPECT_EQ(statuses, (std::vector<std::string>{"SUCCESS"}));
    }
    EXPECT_EQ(success, o.refunded_cents());
    EXPECT_EQ(success, rest_refunded.at(order_id));
  }
  EXPECT_EQ(parent_index, nodes.size());
  EXPECT_GT(refunded, 50);
  EXPECT_GT(pairs, 5);
  // Transaction ids are unique.
  std::map<std::string, int> seen;
  for (const Line& l : lines) EXPECT_EQ(++seen[l.id], 1) << l.id;
}

TEST_F(BulkApiTest, ALargeFileRenderedInTwoHalvesHasEveryOrderOnceInOrder) {
  Make(0, 100'000);  // large enough for two rendering threads
  const std::string file = RunToFile(InnerQuery(""));
  const StoreData& data = *sim_->FindStore("shop");
  std::vector<int64_t> expected;
  for (uint32_t pos : data.by_updated()) expected.push_back(data.orders()[pos].id);
  std::vector<int64_t> parents;
  size_t children = 0;
  for (absl::string_view line : absl::StrSplit(file, '\n', absl::SkipEmpty())) {
    // Cheap checks per line; the first test reads every member of a small file.
    ASSERT_EQ(line.front(), '{');
    ASSERT_EQ(line.back(), '}');
    if (absl::StrContains(line, "__parentId")) {
      ++children;
      continue;
    }
    absl::string_view id = line.substr(std::string_view("{\"id\":\"gid://shopify/Order/").size());
    int64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(id.substr(0, id.find('"')), &n)) << line.substr(0, 80);
    parents.push_back(n);
  }
  EXPECT_EQ(parents, expected);
  EXPECT_GT(children, 1000u);
}

TEST_F(BulkApiTest, TheSearchQueryAndTheStoreOffsetSelectLikeTheConnection) {
  // "east" is at -05:00: bare dates are its midnights, as for the connection.
  const std::string search = "created_at:>=2025-06-01 created_at:<='2025-09-30T12:00:00Z'";
  std::vector<int64_t> connection;
  for (std::string after;;) {
    Response r = sim_->Handle(PostGraphql("east", GraphqlOrdersBody(250, after, search)));
    auto j = ParseJson(r.body);
    ASSERT_TRUE(j->ok) << r.body;
    for (auto node : j->root["data"]["orders"]["nodes"].get_array()) {
      connection.push_back(GidNumber(std::string(std::string_view(node["id"]))));
    }
    if (!bool(j->root["data"]["orders"]["pageInfo"]["hasNextPage"])) break;
    after = std::string(std::string_view(j->root["data"]["orders"]["pageInfo"]["endCursor"]));
  }
  ASSERT_GT(connection.size(), 20u);
  const std::string gid = Run(InnerQuery(search), "east");
  Operation op;
  for (int i = 0; i < 10000 && op.status != "COMPLETED"; ++i) {
    Response r = sim_->Handle(PostGraphql("east", IdBody(kPollQuery, gid)));
    op = ReadOperation(ParseJson(r.body)->root["data"]["node"]);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(op.status, "COMPLETED");
  Request get;
  get.target = op.url.substr(std::string("http://127.0.0.1:8090").size());
  Response d = sim_->Handle(get);
  ASSERT_EQ(d.status, 200);
  std::vector<int64_t> bulk;
  for (const Line& l : Lines(std::string(d.Body()))) {
    if (l.parent.empty()) bulk.push_back(GidNumber(l.id));
  }
  EXPECT_EQ(bulk, connection);
}

TEST_F(BulkApiTest, ALiteralInnerQueryAndABlockStringWorkToo) {
  std::string literal;
  AppendJsonString(literal, InnerQuery("updated_at:>='2025-12-01T00:00:00Z'"));
  Response r = sim_->Handle(PostGraphql(
      "shop",
      GraphqlQueryBody("mutation { bulkOperationRunQuery(query: " + literal +
                       ") { bulkOperation { id status } userErrors { field message } } }")));
  auto j = ParseJson(r.body);
  ASSERT_TRUE(j->ok) << r.body;
  std::string_view gid = j->root["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"];
  WaitFor(std::string(gid), "COMPLETED");
  Response block = sim_->Handle(PostGraphql(
      "shop", GraphqlQueryBody("mutation {\n  bulkOperationRunQuery(query: \"\"\"\n    {\n"
                               "      orders { edges { node { id } } }\n    }\n  \"\"\") {\n"
                               "    bulkOperation { id status } userErrors { field message }\n"
                               "  }\n}")));
  EXPECT_NE(block.body.find("\"status\":\"CREATED\""), std::string::npos) << block.body;
}

TEST_F(BulkApiTest, BadInnerQueriesAreUserErrorsOnTheQueryField) {
  for (const std::string& inner :
       {std::string("{ orders(first: 10) { edges { node { id } } } }"),
        std::string("{ orders(after: \"x\") { edges { node { id } } } }"),
        std::string("{ products { edges { node { id } } } }"),
        std::string("{ orders(query: \"status:open\") { edges { node { id } } } }"),
        std::string("{ orders(sortKey: CREATED_AT) { edges { node { id } } } }"),
        std::string("query($x: String) { orders(query: $x) { edges { node { id } } } }")}) {
    UserError error;
    EXPECT_EQ(Run(inner, "shop", &error), "") << inner;
    EXPECT_EQ(error.field, "[\"query\"]") << inner;
    EXPECT_TRUE(absl::StartsWith(error.message, "Invalid bulk query: ")) << error.message;
  }
  UserError error;
  Response missing = sim_->Handle(PostGraphql("shop", GraphqlQueryBody(kRunMutation, "{}")));
  EXPECT_NE(missing.body.find("Invalid bulk query: "), std::string::npos) << missing.body;
  // No operation was created.
  EXPECT_FALSE(Current().present);
}

TEST_F(BulkApiTest, OneOperationInProgressPerShop) {
  Make(60'000);  // a minute on the fake clock: it stays RUNNING while the test runs
  const std::string first = Run(InnerQuery(""));
  UserError error;
  EXPECT_EQ(Run(InnerQuery(""), "shop", &error), "");
  EXPECT_EQ(error.field, "null");
  EXPECT_EQ(error.message,
            "A bulk query operation for this app and shop is already in progress: " + first + ".");
  // Another shop is not affected.
  const std::string east = Run(InnerQuery(""), "east");
  EXPECT_NE(east, first);
  EXPECT_EQ(GidNumber(east), GidNumber(first) + 1);
  // Once the first completes, the shop may run again.
  clock_.Advance(absl::Minutes(1));
  WaitFor(first, "COMPLETED");
  EXPECT_NE(Run(InnerQuery("")), "");
}

TEST_F(BulkApiTest, ObjectCountGrowsWithTheClockUntilMinDurationHasPassed) {
  Make(1000);
  const std::string gid = Run(InnerQuery(""));
  Operation op = Poll(gid);
  EXPECT_TRUE(op.status == "CREATED" || op.status == "RUNNING") << op.status;
  EXPECT_EQ(op.object_count, 0);
  EXPECT_EQ(op.file_size, -1);
  EXPECT_TRUE(op.url.empty());
  EXPECT_TRUE(op.completed_at.empty());
  // A quarter of the way: the file is rendered long before, but only part of it shows.
  clock_.Advance(absl::Milliseconds(250));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int64_t quarter = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    op = Poll(gid);
    ASSERT_TRUE(op.status == "CREATED" || op.status == "RUNNING") << op.status;
    if (op.object_count >= 700) break;  // a quarter of 3000 orders' lines, at least
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  quarter = op.object_count;
  EXPECT_GE(quarter, 700);
  EXPECT_EQ(op.status, "RUNNING");
  clock_.Advance(absl::Milliseconds(500));
  op = Poll(gid);
  EXPECT_EQ(op.status, "RUNNING");
  EXPECT_GT(op.object_count, quarter);
  clock_.Advance(absl::Milliseconds(250));
  op = WaitFor(gid, "COMPLETED");    // at once, unless a slow (sanitized) build is still rendering
  EXPECT_GT(op.object_count, 3000);  // orders plus refund transactions
  EXPECT_FALSE(op.url.empty());
}

TEST_F(BulkApiTest, CancelGoesCancelingThenCanceledAtTheNextPoll) {
  SetFaults(R"({"bulk_stuck":1})");
  const std::string gid = Run(InnerQuery(""));
  EXPECT_EQ(Cancel(gid), "CANCELING");
  // Until a poll settles it, a new run is refused.
  UserError error;
  EXPECT_EQ(Run(InnerQuery(""), "shop", &error), "");
  EXPECT_TRUE(absl::StrContains(error.message, "already in progress")) << error.message;
  Operation op = Poll(gid);
  EXPECT_EQ(op.status, "CANCELED");
  EXPECT_FALSE(op.completed_at.empty());
  EXPECT_TRUE(op.url.empty());
  EXPECT_EQ(Cancel(gid), "null A bulk operation cannot be canceled when it is canceled");
  EXPECT_EQ(Cancel("gid://shopify/BulkOperation/999"), "[\"id\"] Bulk operation does not exist");
  EXPECT_EQ(Cancel("gid://shopify/Order/1"), "[\"id\"] Bulk operation does not exist");
  const std::string next = Run(InnerQuery(""));
  WaitFor(next, "COMPLETED");
  EXPECT_EQ(Cancel(next), "null A bulk operation cannot be canceled when it is completed");
}

TEST_F(BulkApiTest, ACancelSettlesBySelfAfterASecond) {
  SetFaults(R"({"bulk_stuck":1})");
  const std::string gid = Run(InnerQuery(""));
  EXPECT_EQ(Cancel(gid), "CANCELING");
  clock_.Advance(absl::Seconds(1));
  EXPECT_NE(Run(InnerQuery("")), "");
  EXPECT_EQ(Poll(gid).status, "CANCELED");
}

TEST_F(BulkApiTest, NodeAndCurrentSeeOnlyTheShopsOwnOperations) {
  EXPECT_FALSE(Current().present);
  const std::string gid = Run(InnerQuery(""));
  EXPECT_FALSE(Poll(gid, "east").present);
  EXPECT_FALSE(Current("east").present);
  EXPECT_FALSE(Poll("gid://shopify/BulkOperation/42").present);
  EXPECT_FALSE(Poll("not a gid").present);
  WaitFor(gid, "COMPLETED");
  Operation current = Current();
  EXPECT_EQ(current.id, gid);
  EXPECT_EQ(current.status, "COMPLETED");
  EXPECT_FALSE(current.url.empty());
}

TEST_F(BulkApiTest, OnlyTheLastFewOperationsAreKept) {
  std::vector<std::string> gids;
  for (size_t i = 0; i < kBulkKeptPerShop + 1; ++i) {
    gids.push_back(Run(InnerQuery("updated_at:>='2025-12-20T00:00:00Z'")));
    WaitFor(gids.back(), "COMPLETED");
  }
  EXPECT_FALSE(Poll(gids.front()).present);
  for (size_t i = 1; i < gids.size(); ++i) EXPECT_EQ(Poll(gids[i]).status, "COMPLETED");
}

TEST_F(BulkApiTest, TheFileIsASnapshotOfRunTime) {
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "COMPLETED");
  const std::string before(Download(op.url).Body());
  ASSERT_TRUE(sim_->Tick("shop").ok());
  EXPECT_EQ(std::string(Download(op.url).Body()), before);
}

TEST_F(BulkApiTest, SignedUrlsRefuseBadSignaturesAndExpire) {
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "COMPLETED");
  EXPECT_EQ(Download(op.url).status, 200);
  // No token is needed, but the signature must match the store, the id and the expiry.
  std::string bad = op.url;
  bad.replace(bad.size() - 4, 4, "0000");
  Response refused = Download(bad);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.Header("Content-Type"), "application/xml");
  EXPECT_EQ(Download(op.url.substr(0, op.url.find("&sig="))).status, 403);
  std::string later = op.url;
  size_t e = later.find("expires=") + 8;
  later.replace(e, later.find('&', e) - e, "99999999999");
  EXPECT_EQ(Download(later).status, 403);
  // Past the TTL: ExpiredToken, and the operation shows EXPIRED without a URL.
  clock_.Advance(absl::Seconds(604800));
  Response expired = Download(op.url);
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(expired.Header("Content-Type"), "application/xml");
  EXPECT_EQ(expired.body,
            "<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>The "
            "provided token has expired.</Message></Error>");
  Operation old = Poll(gid);
  EXPECT_EQ(old.status, "EXPIRED");
  EXPECT_TRUE(old.url.empty());
  // Only GET.
  Request post;
  post.method = "POST";
  post.target = op.url.substr(std::string("http://127.0.0.1:8090").size());
  EXPECT_EQ(sim_->Handle(post).status, 405);
}

TEST_F(BulkApiTest, TheUrlUsesTheHostThePollCameThrough) {
  const std::string gid = Run(InnerQuery(""));
  WaitFor(gid, "COMPLETED");
  Request poll = PostGraphql("shop", IdBody(kPollQuery, gid));
  poll.headers[0].second = "sim.local:9999";
  Response r = sim_->Handle(poll);
  EXPECT_NE(r.body.find("\"url\":\"http://sim.local:9999/_bulk/shop/"), std::string::npos)
      << r.body;
}

TEST_F(BulkApiTest, BulkFailEndsFailedPartway) {
  SetFaults(R"({"bulk_fail":1})");
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "FAILED");
  EXPECT_EQ(op.error_code, "INTERNAL_SERVER_ERROR");
  EXPECT_GT(op.object_count, 0);
  EXPECT_LT(op.object_count, 3000);
  EXPECT_TRUE(op.url.empty());
  EXPECT_EQ(op.file_size, -1);
  EXPECT_FALSE(op.completed_at.empty());
  // Only the next one.
  WaitFor(Run(InnerQuery("")), "COMPLETED");
}

TEST_F(BulkApiTest, BulkStuckStaysRunningUntilCancelled) {
  SetFaults(R"({"bulk_stuck":1})");
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "RUNNING");
  clock_.Advance(absl::Hours(2));
  for (int i = 0; i < 50; ++i) {
    op = Poll(gid);
    EXPECT_EQ(op.status, "RUNNING");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_LT(op.object_count, 3000);
  EXPECT_EQ(Cancel(gid), "CANCELING");
  EXPECT_EQ(Current().status, "CANCELED");
}

TEST_F(BulkApiTest, BulkUrlExpiredAnswersExpiredTokenForTheNextDownloads) {
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "COMPLETED");
  SetFaults(R"({"bulk_url_expired":2})");
  for (int i = 0; i < 2; ++i) {
    Response r = Download(op.url);
    EXPECT_EQ(r.status, 403);
    EXPECT_TRUE(absl::StrContains(r.body, "<Code>ExpiredToken</Code>"));
  }
  EXPECT_EQ(Download(op.url).status, 200);
}

TEST_F(BulkApiTest, BulkTruncateSendsAboutHalfAndEndsMidLine) {
  const std::string gid = Run(InnerQuery(""));
  Operation op = WaitFor(gid, "COMPLETED");
  SetFaults(R"({"bulk_truncate":1})");
  Response cut = Download(op.url);
  EXPECT_EQ(cut.status, 200);
  ASSERT_TRUE(cut.cut_body_at.has_value());
  EXPECT_EQ(static_cast<int64_t>(cut.Body().size()), op.file_size);  // announced in full
  EXPECT_NEAR(static_cast<double>(*cut.cut_body_at), op.file_size / 2.0, 2.0);
  EXPECT_NE(cut.Body()[*cut.cut_body_at - 1], '\n');
  EXPECT_FALSE(Download(op.url).cut_body_at.has_value());
}

TEST_F(BulkApiTest, FaultSwitchesShowInTheFaultsRoute) {
  SetFaults(R"({"bulk_fail":1,"bulk_stuck":2,"bulk_url_expired":3,"bulk_truncate":4})");
  auto j = ParseJson(sim_->Handle(Call("GET", "/_sim/faults")).body);
  EXPECT_EQ(int64_t(j->root["bulk_fail"]), 1);
  EXPECT_EQ(int64_t(j->root["bulk_stuck"]), 2);
  EXPECT_EQ(int64_t(j->root["bulk_url_expired"]), 3);
  EXPECT_EQ(int64_t(j->root["bulk_truncate"]), 4);
  EXPECT_EQ(int64_t(j->root["counters"]["bulk_truncate_left"]), 4);
}

TEST_F(BulkApiTest, TokenAndTransientFaultsApplyAsToTheConnection) {
  EXPECT_EQ(sim_->Handle(PostGraphql("shop", RunBody(InnerQuery("")), "wrong")).status, 401);
  SetFaults(R"({"burst_429":1})");
  EXPECT_EQ(sim_->Handle(PostGraphql("shop", RunBody(InnerQuery("")))).status, 429);
  EXPECT_NE(Run(InnerQuery("")), "");
}

TEST_F(BulkApiTest, PollsAndRunsChargeTheCostBucket) {
  sim_.reset();
  SimConfig c = SmallConfig();
  c.bulk_min_ms = 0;
  c.graphql_bucket_size = 15;
  c.graphql_restore_rate = 1;
  sim_ = MakeSim(c, &clock_);
  const std::string gid = Run(InnerQuery(""));  // 10 of 15
  Response poll = sim_->Handle(PostGraphql("shop", IdBody(kPollQuery, gid)));
  EXPECT_NE(poll.body.find("\"requestedQueryCost\":1,\"actualQueryCost\":1,"), std::string::npos)
      << poll.body;
  Response run = sim_->Handle(PostGraphql("shop", RunBody(InnerQuery(""))));
  EXPECT_NE(run.body.find("THROTTLED"), std::string::npos) << run.body;
}

}  // namespace
}  // namespace autosync::storesim
