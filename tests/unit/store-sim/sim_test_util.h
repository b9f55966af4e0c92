// Helpers for store-sim unit tests: a fake clock, a small simulator, request shortcuts and a
// JSON parse helper. Everything runs in-process; no sockets.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/simulator.h"

namespace autosync::storesim::testing {

class FakeClock final : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

// 2026-01-01T00:00:00Z: history covers 2024-01-02 .. 2025-12-31.
inline absl::Time TestEnd() { return absl::FromUnixSeconds(1767225600); }

inline SimConfig SmallConfig(int64_t orders = 3000) {
  SimConfig c;
  c.seed = 42;
  c.end = TestEnd();
  c.stores = {{"shop", orders, 0}, {"east", 500, -300}};
  c.leak_per_second = 0;  // most tests are not about the rate limit
  return c;
}

inline std::unique_ptr<Simulator> MakeSim(const SimConfig& c, const Clock* clock) {
  auto sim = Simulator::Create(c, clock);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? *std::move(sim) : nullptr;
}

inline Request Get(std::string target, std::string token = "sim-token") {
  Request r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers.emplace_back("Host", "127.0.0.1:8090");
  if (!token.empty()) r.headers.emplace_back("X-Shopify-Access-Token", token);
  return r;
}

inline Request Call(std::string method, std::string target, std::string body = "") {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers.emplace_back("Host", "127.0.0.1:8090");
  return r;
}

inline std::string OrdersPath(const std::string& store, const std::string& query) {
  return "/shops/" + store + "/admin/api/2024-01/orders.json" + (query.empty() ? "" : "?" + query);
}

inline std::string GraphqlPath(const std::string& store) {
  return "/shops/" + store + "/admin/api/2024-01/graphql.json";
}

inline Request PostGraphql(const std::string& store, std::string body,
                           std::string token = "sim-token") {
  Request r;
  r.method = "POST";
  r.target = GraphqlPath(store);
  r.body = std::move(body);
  r.headers.emplace_back("Host", "127.0.0.1:8090");
  r.headers.emplace_back("Content-Type", "application/json");
  if (!token.empty()) r.headers.emplace_back("X-Shopify-Access-Token", token);
  return r;
}

// A connector's orders query, arguments as variables.
inline constexpr const char* kGraphqlOrdersQuery =
    "query Orders($first: Int!, $after: String, $query: String) {\n"
    "  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "    nodes { id name email createdAt updatedAt totalPriceSet { shopMoney { amount } } }\n"
    "  }\n"
    "}";

// {"query": <query>, "variables": <variables JSON>}
inline std::string GraphqlQueryBody(const std::string& query, const std::string& variables = "{}") {
  std::string out = "{\"query\":";
  AppendJsonString(out, query);
  return out + ",\"variables\":" + variables + "}";
}

// kGraphqlOrdersQuery with {"first": …, "after": …|null, "query": …}; an empty `after` is null,
// an empty `search` is left out.
inline std::string GraphqlOrdersBody(int first, const std::string& after = "",
                                     const std::string& search = "") {
  std::string vars = "{\"first\":" + std::to_string(first) + ",\"after\":";
  if (after.empty()) {
    vars += "null";
  } else {
    AppendJsonString(vars, after);
  }
  if (!search.empty()) {
    vars += ",\"query\":";
    AppendJsonString(vars, search);
  }
  return GraphqlQueryBody(kGraphqlOrdersQuery, vars + "}");
}

// Extracts the URL of rel="next" / rel="previous" from a Link header, reduced to path+query.
inline std::string LinkTarget(const Response& r, const std::string& rel) {
  auto link = r.Header("Link");
  if (!link) return "";
  std::string needle = "; rel=\"" + rel + "\"";
  size_t end = link->find(needle);
  if (end == std::string::npos) return "";
  size_t start = link->rfind('<', end);
  std::string url = link->substr(start + 1, end - start - 2);
  const std::string prefix = "http://127.0.0.1:8090";
  EXPECT_EQ(url.rfind(prefix, 0), 0u) << url;
  return url.substr(prefix.size());
}

// Parses JSON into a DOM owned by the returned parser holder.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
};
inline std::unique_ptr<Json> ParseJson(const std::string& body) {
  auto j = std::make_unique<Json>();
  j->ok = j->parser.parse(simdjson::padded_string(body)).get(j->root) == simdjson::SUCCESS;
  return j;
}

inline std::vector<int64_t> OrderIds(const Response& r) {
  std::vector<int64_t> ids;
  auto j = ParseJson(r.body);
  EXPECT_TRUE(j->ok) << r.body.substr(0, 200);
  if (!j->ok) return ids;
  simdjson::dom::array orders;
  EXPECT_EQ(j->root["orders"].get(orders), simdjson::SUCCESS);
  for (auto o : orders) {
    int64_t id = 0;
    EXPECT_EQ(o["id"].get(id), simdjson::SUCCESS);
    ids.push_back(id);
  }
  return ids;
}

}  // namespace autosync::storesim::testing
