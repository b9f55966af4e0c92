// The fleet benchmark's system and its measures: a throw-away PostgreSQL cluster with the
// schema, the scheduler-service started and stopped, /metrics scrapes, the database's size and
// write counters before and after a boundary, percentiles, and a small JSON writer for the
// RESULT line tests/bench/run reads. Every failure to set the system up ends the process (Die).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace autosync::bench {

[[noreturn]] void Die(const std::string& what);
// One progress line on stderr, with the time.
void Say(const std::string& what);

// Linear-interpolated percentile (q in [0, 1]); -1 for no values.
double Percentile(std::vector<double> v, double q);

// A JSON object written field by field (numbers, strings, values already rendered).
class Json final {
 public:
  Json& Num(const std::string& key, double v);
  Json& Str(const std::string& key, const std::string& v);
  Json& Raw(const std::string& key, const std::string& v);
  std::string Render() const;

 private:
  std::vector<std::string> fields_;
};

// {"p50":…,"p99":…,"max":…,"n":…} of the values, in their unit.
std::string Spread(const std::vector<double>& v);

// The first minute boundary at least `margin` from now; the minute boundary at or before now.
absl::Time NextBoundary(absl::Duration margin);
absl::Time LastBoundary();
// SQL for an instant: whole seconds (a boundary), or microseconds.
std::string Ts(absl::Time t);
std::string TsMicros(absl::Time t);

// Statements on the bench's own connection: a column of numbers (NULLs left out), one number
// (NULL is 0), a statement in a transaction of its own.
std::vector<double> Column(pqxx::connection& conn, const std::string& sql);
int64_t Scalar(pqxx::connection& conn, const std::string& sql);
void Exec(pqxx::connection& conn, const std::string& sql);

// A throw-away cluster with one migrated database; `postmaster` for its CPU.
struct Cluster {
  std::unique_ptr<autosync::testing::PgCluster> pg;
  std::string url;
  pid_t postmaster = -1;
};
Cluster StartCluster();

// A service process with its gRPC target and /metrics port.
struct Service {
  std::unique_ptr<autosync::testing::ChildProcess> process;
  std::string target;
  int metrics_port = 0;
};
// `binary` (of the build's bin directory) with --listen and --metrics_listen on free loopback
// ports, logging at warn, `args` and `env` besides; SERVING within `serving_within` (else Die).
Service StartService(const std::string& binary, std::vector<std::string> args,
                     std::map<std::string, std::string> env, absl::Duration serving_within);
// A scheduler-service (StartService), SERVING within 60 s.
// `extra`: more flags for the scheduler (the bench's --then_scheduler_args).
Service StartScheduler(const std::string& url, const std::string& worker_target,
                       const std::vector<std::string>& extra = {});
// SIGTERM, and its exit within 30 s.
void Stop(Service& s);

// One scrape (empty on failure) and the sum of every series of `name` (all label sets).
autosync::testing::MetricValues Scrape(int port);
double SumSeries(const autosync::testing::MetricValues& m, const std::string& name);

// The tables a run writes: size (pg_total_relation_size), rows, and the rows inserted, updated
// (of which HOT) and deleted (pg_stat_user_tables); and the WAL position.
struct TableStat {
  double bytes = 0, rows = 0, ins = 0, upd = 0, hot = 0, del = 0;
};
struct DbSnapshot {
  std::map<std::string, TableStat> tables;
  double wal_bytes = 0;
};
DbSnapshot Snapshot(pqxx::connection& conn);
// What was written between two snapshots, per table, as JSON.
std::string Growth(const DbSnapshot& a, const DbSnapshot& b);

// Claims per group of stores (tick_group_claims, migration 0006) at a boundary: claimed_at minus
// the boundary in milliseconds, one value per group; empty without that table.
std::vector<double> GroupClaimMs(pqxx::connection& conn, const std::string& boundary);

}  // namespace autosync::bench
