// Test support: a throw-away highly available PostgreSQL 15 formation made with pg_auto_failover
// (a monitor, a primary and a synchronous standby, on free loopback ports, data in a temp dir),
// with the handles a failover test needs: the multi-host URL, the current primary, kill a node
// (its keeper and postmaster, as when its machine dies), restart it, switch over, wait for states.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace autosync::testing {

// Not thread-safe: one test thread drives it. Start() returns once node 0 is primary and node 1
// secondary (about 25 s: three initdb runs and a base backup). The destructor kills every process
// of the formation and removes the directory; a watchdog does the same if the test binary dies.
//
// The monitor's health checks are tuned for a test (README "PostgreSQL high availability"):
// a dead primary is failed over in about 10 s instead of about 50 s with the defaults.
class PgFailoverCluster final {
 public:
  static constexpr int kNodes = 2;
  static constexpr char kDatabase[] = "autosync";

  static absl::StatusOr<std::unique_ptr<PgFailoverCluster>> Start();
  ~PgFailoverCluster();
  PgFailoverCluster(const PgFailoverCluster&) = delete;
  PgFailoverCluster& operator=(const PgFailoverCluster&) = delete;

  // postgresql://postgres@127.0.0.1:<p0>,127.0.0.1:<p1>/<database>?target_session_attrs=read-write
  std::string Url(const std::string& database = kDatabase) const;
  // A single-host URL of node `i`, whatever its role.
  std::string NodeUrl(int i, const std::string& database = kDatabase) const;
  int port(int i) const { return nodes_.at(i).port; }
  const std::string& dir() const { return dir_; }

  // CREATE DATABASE on the primary (replicated to the standby); returns its multi-host URL.
  absl::StatusOr<std::string> CreateDatabase();

  // node name -> "reported/assigned" state, as the monitor has them ("primary/primary").
  absl::StatusOr<std::map<std::string, std::string>> States() const;
  // The node (0 or 1) that the monitor has as the writable one in both reported and assigned
  // state: primary, or wait_primary / single while no standby follows it.
  absl::StatusOr<int> Primary() const;
  // Polls the monitor until `want` (node index -> state, reported and assigned) holds.
  absl::Status WaitForState(const std::map<int, std::string>& want, absl::Duration timeout) const;
  // Waits for one node primary and the other secondary; returns the primary.
  absl::StatusOr<int> WaitForPrimaryAndSecondary(absl::Duration timeout) const;

  // SIGKILL of the node's whole process group: its keeper (pg_autoctl) and its postmaster, as
  // when the machine or pod dies. The node stays down until RestartNode().
  absl::Status KillNode(int i);
  // SIGKILL of the postmaster only: the keeper restarts PostgreSQL in its role (no failover).
  absl::Status KillPostmaster(int i);
  // `pg_autoctl run` of a killed node: it rejoins (a former primary as a standby).
  absl::Status RestartNode(int i);
  // `pg_autoctl perform switchover`: returns once the monitor reports the new primary.
  absl::Status Switchover();

  // The keeper's log of node `i` (all its runs) and the monitor's, for failure messages.
  std::string NodeLog(int i) const;
  std::string MonitorLog() const;

 private:
  struct Node {
    std::string name;
    std::string pgdata;
    int port = 0;
    pid_t pgid = 0;  // the keeper's process group; 0 when not running
    int runs = 0;
  };

  explicit PgFailoverCluster(std::string dir) : dir_(std::move(dir)) {}
  absl::Status StartMonitor();
  absl::Status CreateNode(int i);
  // Starts `pg_autoctl <args>` as its own process group, logging into `log`; returns the pgid.
  absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, const std::string& log,
                              const std::string& pgid_file);
  absl::StatusOr<std::string> Autoctl(const std::vector<std::string>& args) const;
  std::string MonitorUrl() const;
  void KillGroup(pid_t& pgid, const std::string& pgid_file);
  void StartWatchdog();

  std::string dir_;
  int monitor_port_ = 0;
  pid_t monitor_pgid_ = 0;
  std::vector<Node> nodes_;
  int watchdog_fd_ = -1;
  int databases_ = 0;
};

}  // namespace autosync::testing
