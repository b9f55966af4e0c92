#include "tests/bench/fleet/fleet_system.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/migrations.h"
#include "common/pg_pool.h"
#include "tests/bench/fleet/proc_stats.h"

namespace autosync::bench {

using autosync::testing::ChildProcess;

void Die(const std::string& what) {
  std::fprintf(stderr, "fleet_bench: %s\n", what.c_str());
  std::exit(1);
}

void Say(const std::string& what) {
  std::fprintf(stderr, "fleet_bench: %s %s\n",
               absl::FormatTime("%H:%M:%S", absl::Now(), absl::UTCTimeZone()).c_str(),
               what.c_str());
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

Json& Json::Num(const std::string& key, double v) {
  return Raw(key, std::isfinite(v) ? absl::StrFormat("%.6g", v) : "null");
}

Json& Json::Str(const std::string& key, const std::string& v) {
  std::string quoted = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return Raw(key, quoted + "\"");
}

Json& Json::Raw(const std::string& key, const std::string& v) {
  fields_.push_back(absl::StrCat("\"", key, "\":", v));
  return *this;
}

std::string Json::Render() const { return "{" + absl::StrJoin(fields_, ",") + "}"; }

std::string Spread(const std::vector<double>& v) {
  return absl::StrFormat("{\"p50\":%.6g,\"p99\":%.6g,\"max\":%.6g,\"n\":%d}", Percentile(v, 0.5),
                         Percentile(v, 0.99), Percentile(v, 1.0), v.size());
}

absl::Time NextBoundary(absl::Duration margin) {
  return absl::FromCivil(absl::ToCivilMinute(absl::Now() + margin, absl::UTCTimeZone()) + 1,
                         absl::UTCTimeZone());
}

absl::Time LastBoundary() {
  return absl::FromCivil(absl::ToCivilMinute(absl::Now(), absl::UTCTimeZone()),
                         absl::UTCTimeZone());
}

std::string Ts(absl::Time t) { return absl::StrCat("to_timestamp(", absl::ToUnixSeconds(t), ")"); }

std::string TsMicros(absl::Time t) {
  return absl::StrCat("to_timestamp(", absl::ToUnixMicros(t), " / 1e6)");
}

std::vector<double> Column(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx(conn);
  std::vector<double> out;
  for (const auto& row : tx.exec(sql)) {
    if (!row[0].is_null()) out.push_back(row[0].as<double>());
  }
  return out;
}

int64_t Scalar(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx(conn);
  const pqxx::row row = tx.exec1(sql);
  return row[0].is_null() ? 0 : row[0].as<int64_t>();
}

void Exec(pqxx::connection& conn, const std::string& sql) {
  pqxx::work tx(conn);
  tx.exec(sql);
  tx.commit();
}

Cluster StartCluster() {
  Cluster c;
  auto pg = autosync::testing::PgCluster::Start();
  if (!pg.ok()) Die(pg.status().ToString());
  c.pg = std::move(*pg);
  auto url = c.pg->CreateDatabase();
  if (!url.ok()) Die(url.status().ToString());
  c.url = *url;
  auto pool = common::PgPool::Create({.url = c.url, .size = 1});
  if (!pool.ok() || !common::ApplyMigrations(**pool, common::EmbeddedMigrations()).ok()) {
    Die("migration failed");
  }
  c.postmaster = FindPostmaster(c.pg->port());
  return c;
}

Service StartService(const std::string& binary, std::vector<std::string> args,
                     std::map<std::string, std::string> env, absl::Duration serving_within) {
  Service s;
  const int port = autosync::testing::FreePort();
  s.metrics_port = autosync::testing::FreePort();
  args.insert(args.begin(),
              {"--insecure_grpc", absl::StrCat("--listen=127.0.0.1:", port),
               absl::StrCat("--metrics_listen=127.0.0.1:", s.metrics_port), "--log_level=warn"});
  auto p = ChildProcess::Start(autosync::testing::BinaryPath(binary),
                               {.args = std::move(args), .env = std::move(env)});
  if (!p.ok()) Die(p.status().ToString());
  s.process = std::move(*p);
  s.target = absl::StrCat("127.0.0.1:", port);
  if (!autosync::testing::WaitForServing(s.target, serving_within).ok()) {
    Die(binary + " not serving: " + s.process->Output());
  }
  return s;
}

Service StartScheduler(const std::string& url, const std::string& worker_target,
                       const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--database_url=" + url, "--worker_target=" + worker_target};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartService("scheduler-service", std::move(args), {}, absl::Seconds(60));
}

void Stop(Service& s) {
  s.process->Signal(SIGTERM);
  if (!s.process->Wait(absl::Seconds(30)).ok()) Die("a service did not stop on SIGTERM");
}

autosync::testing::MetricValues Scrape(int port) {
  auto m = autosync::testing::ScrapeMetrics(port, absl::Seconds(10));
  return m.ok() ? *std::move(m) : autosync::testing::MetricValues{};
}

double SumSeries(const autosync::testing::MetricValues& m, const std::string& name) {
  double total = 0;
  for (const auto& [series, value] : m) {
    if (series == name || absl::StartsWith(series, name + "{")) total += value;
  }
  return total;
}

namespace {

constexpr const char* kTables[] = {"sync_runs", "tick_claims",          "orders",
                                   "ads",       "customer_ltv_cohorts", "sync_tracking"};

}  // namespace

DbSnapshot Snapshot(pqxx::connection& conn) {
  DbSnapshot s;
  pqxx::nontransaction tx(conn);
  for (const char* table : kTables) {
    const pqxx::row r = tx.exec1(
        absl::StrCat("SELECT pg_total_relation_size('", table, "'), (SELECT count(*) FROM ", table,
                     "), n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables "
                     "WHERE schemaname = 'public' AND relname = '",
                     table, "'"));
    s.tables[table] = {r[0].as<double>(), r[1].as<double>(), r[2].as<double>(),
                       r[3].as<double>(), r[4].as<double>(), r[5].as<double>()};
  }
  s.wal_bytes =
      tx.exec1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8")[0].as<double>();
  return s;
}

std::string Growth(const DbSnapshot& a, const DbSnapshot& b) {
  Json tables;
  for (const char* table : kTables) {
    const TableStat& x = a.tables.at(table);
    const TableStat& y = b.tables.at(table);
    tables.Raw(table, Json()
                          .Num("bytes", y.bytes - x.bytes)
                          .Num("rows", y.rows - x.rows)
                          .Num("ins", y.ins - x.ins)
                          .Num("upd", y.upd - x.upd)
                          .Num("hot", y.hot - x.hot)
                          .Num("del", y.del - x.del)
                          .Num("size_after", y.bytes)
                          .Num("rows_after", y.rows)
                          .Render());
  }
  return Json().Raw("tables", tables.Render()).Num("wal_bytes", b.wal_bytes - a.wal_bytes).Render();
}

std::vector<double> GroupClaimMs(pqxx::connection& conn, const std::string& boundary) {
  if (Scalar(conn, "SELECT (to_regclass('tick_group_claims') IS NOT NULL)::int") != 1) return {};
  return Column(conn,
                "SELECT extract(epoch FROM claimed_at - boundary) * 1000 "
                "FROM tick_group_claims WHERE boundary = " +
                    boundary);
}

}  // namespace autosync::bench
