#include "tests/support/store_sim.h"

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "simdjson.h"
#include "tests/support/grpc_probe.h"

namespace autosync::testing {

absl::StatusOr<std::unique_ptr<StoreSim>> StoreSim::Start(std::vector<std::string> args) {
  const int port = FreePort();
  args.push_back(absl::StrCat("--listen=127.0.0.1:", port));
  bool has_end = false;
  for (const std::string& a : args) has_end = has_end || a.rfind("--end=", 0) == 0;
  if (!has_end) args.push_back("--end=2026-11-01T00:00:00Z");
  // Bulk operations and async ad reports finish as soon as their data is ready unless a test
  // asks for them to take a while.
  const auto has = [&](absl::string_view flag) {
    for (const std::string& a : args) {
      if (absl::StartsWith(a, flag)) return true;
    }
    return false;
  };
  if (!has("--bulk_min_ms=")) args.push_back("--bulk_min_ms=0");
  if (!has("--ads_async_ms=")) args.push_back("--ads_async_ms=0");
  auto child = ChildProcess::Start(BinaryPath("store-sim"), {.args = args});
  if (!child.ok()) return child.status();
  auto sim = std::unique_ptr<StoreSim>(new StoreSim(std::move(*child), port));
  auto health = WaitForHttp(absl::StrCat(sim->base_url(), "/_sim/health"), absl::Seconds(60));
  if (!health.ok() || health->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("store-sim did not come up: ", sim->process_->Output()));
  }
  return sim;
}

std::string StoreSim::base_url() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::string StoreSim::orders_base(const std::string& store) const {
  return absl::StrCat(base_url(), "/shops/", store);
}

absl::StatusOr<SimSummary> StoreSim::Summary(const std::string& store) const {
  auto res = HttpGet(absl::StrCat(base_url(), "/_sim/stores/", store, "/summary"));
  if (!res.ok()) return res.status();
  if (res->status != 200) return absl::InternalError(res->body);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(res->body).get(doc)) return absl::InternalError("bad summary JSON");
  SimSummary out;
  int64_t count = 0;
  std::string_view checksum;
  if (doc["count"].get(count) || doc["checksum"].get(checksum)) {
    return absl::InternalError(absl::StrCat("bad summary: ", res->body));
  }
  out.count = count;
  out.checksum = std::string(checksum);
  return out;
}

absl::Status StoreSim::SetFaults(const std::string& json) const {
  auto res = HttpPost(absl::StrCat(base_url(), "/_sim/faults"), json);
  if (!res.ok()) return res.status();
  if (res->status != 200) return absl::InternalError(res->body);
  return absl::OkStatus();
}

absl::Status StoreSim::ClearFaults() const {
  // POST of an all-zero switch set clears them as DELETE does (curl helper only GETs/POSTs).
  // Every switch is named: store-sim keeps the value of a switch the body leaves out, so "{}"
  // would clear nothing (a latency set earlier slowed every later request of the test).
  return SetFaults(
      R"({"latency_ms":0,"fail_5xx_every":0,"burst_429":0,"drop_connection_on_page":0,)"
      R"("truncate_page":0,"malformed_page":0,"ads_throttle":0})");
}

absl::Status StoreSim::Tick(const std::string& store) const {
  auto res = HttpPost(absl::StrCat(base_url(), "/_sim/stores/", store, "/tick"), "");
  if (!res.ok()) return res.status();
  if (res->status != 200) return absl::InternalError(res->body);
  return absl::OkStatus();
}

absl::StatusOr<SimSummary> DatabaseSummary(const std::string& database_url,
                                           const std::string& store) {
  try {
    pqxx::connection conn(database_url);
    pqxx::read_transaction tx(conn);
    uint64_t hash = 0xcbf29ce484222325ULL;
    SimSummary out;
    for (const auto& row :
         tx.exec_params("SELECT order_id, extract(epoch FROM updated_at)::bigint, "
                        "coalesce(current_total_price, total_price)::text FROM orders "
                        "WHERE store_id = $1 ORDER BY order_id",
                        store)) {
      const std::string line = absl::StrCat(row[0].as<int64_t>(), ":", row[1].as<int64_t>(), ":",
                                            row[2].as<std::string>(), "\n");
      for (unsigned char c : line) {
        hash ^= c;
        hash *= 0x100000001b3ULL;
      }
      ++out.count;
    }
    out.checksum = absl::StrFormat("%016x", hash);
    return out;
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace autosync::testing
