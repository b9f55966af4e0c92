// Test support: a throw-away PostgreSQL 15 cluster (initdb + pg_ctl into a temp dir, loopback,
// a free port; as the `postgres` user when we are root), and a fresh database per test.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace autosync::testing {

class PgCluster final {
 public:
  // initdb + start. Takes about a second.
  static absl::StatusOr<std::unique_ptr<PgCluster>> Start();
  // Stops the server (immediate mode) and removes the data directory.
  ~PgCluster();

  int port() const { return port_; }
  // postgresql://postgres@127.0.0.1:<port>/<db>
  std::string UrlFor(const std::string& database) const;
  // Creates an empty database with a unique name and returns its URL.
  absl::StatusOr<std::string> CreateDatabase();

  // For fault tests: stop (fast mode) and start the same cluster on the same port.
  absl::Status StopServer();
  absl::Status StartServer();

 private:
  PgCluster(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}
  void StartWatchdog();
  std::string dir_;
  int watchdog_fd_ = -1;
  int port_;
  int databases_ = 0;
  bool running_ = false;
};

// Runs CREATE DATABASE `name` over `admin_url` (a connection to an existing database of the
// cluster, usually "postgres"). UNAVAILABLE "CREATE DATABASE failed: <why>" on error. What both
// PgCluster and PgFailoverCluster use.
absl::Status CreatePgDatabase(const std::string& admin_url, const std::string& name);

// One cluster per test binary, started on first use and stopped when the binary exits.
// Every test gets its own database from it. Fails the calling test if the cluster cannot start.
PgCluster& SharedPgCluster();

// A fresh database of the shared cluster; ADD_FAILURE and return "" on error.
std::string FreshDatabaseUrl();

}  // namespace autosync::testing
