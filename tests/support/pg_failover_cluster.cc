#include "tests/support/pg_failover_cluster.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <pqxx/pqxx>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

extern char** environ;

namespace autosync::testing {
namespace {

constexpr char kPgCtl[] = "/usr/lib/postgresql/15/bin/pg_ctl";
constexpr char kAutoctl[] = "/usr/bin/pg_autoctl";

// The monitor's health checks, tuned so that a dead node is noticed within about 2 s and the
// standby promoted about 5 s later (defaults: 5 s checks, 20 s unhealthy, 30 s demote timeout, so
// about 50 s). primary_demote_timeout stays above the keepers' network_partition_timeout (below):
// a primary cut off from the monitor and its standby demotes itself before the monitor promotes.
constexpr const char* kMonitorSettings[][2] = {
    {"pgautofailover.health_check_period", "1000"},
    {"pgautofailover.health_check_timeout", "1000"},
    {"pgautofailover.health_check_max_retries", "1"},
    {"pgautofailover.health_check_retry_delay", "500"},
    {"pgautofailover.node_considered_unhealthy_timeout", "2000"},
    {"pgautofailover.primary_demote_timeout", "5000"},
};
constexpr char kNetworkPartitionTimeoutSeconds[] = "3";

bool IsRoot() { return geteuid() == 0; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` every 200 ms until it returns OK or `timeout` passes; returns its last status.
absl::Status Poll(const std::function<absl::Status()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = done();
  while (!last.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    last = done();
  }
  return last;
}

absl::Status Answers(const std::string& url) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT 1");
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgFailoverCluster>> PgFailoverCluster::Start() {
  // tmpfs when there is one: three initdb runs and a base backup sync every file they write.
  const std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string dir_template = base + "/autosync-pgaf-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  auto cluster = std::unique_ptr<PgFailoverCluster>(new PgFailoverCluster(dir_template));
  for (const char* sub : {"cfg", "data", "run", "logs"}) {
    std::filesystem::create_directory(cluster->dir_ + "/" + sub);
  }
  if (IsRoot()) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr)
      return absl::FailedPreconditionError("no postgres user (install postgresql)");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(cluster->dir_)) {
      if (chown(entry.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::InternalError("chown of the formation dir failed");
      }
    }
    if (chown(cluster->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown of the formation dir failed");
    }
  }
  if (access(kAutoctl, X_OK) != 0) {
    return absl::FailedPreconditionError(
        "pg_autoctl not found (install postgresql-15-auto-failover pg-auto-failover-cli)");
  }
  cluster->StartWatchdog();
  for (int i = 0; i < kNodes; ++i) {
    Node node;
    node.name = absl::StrCat("node", i + 1);
    node.pgdata = absl::StrCat(cluster->dir_, "/", node.name);
    node.port = FreePort();
    cluster->nodes_.push_back(node);
  }
  if (absl::Status s = cluster->StartMonitor(); !s.ok()) return s;
  if (absl::Status s = cluster->CreateNode(0); !s.ok()) return s;
  // The first node is alone ("single") once its database exists. A base backup starts with a
  // spread checkpoint, paced at 10 buffer writes a second: after CREATE DATABASE that is minutes.
  // An immediate checkpoint now leaves it nothing to write.
  if (absl::Status s = cluster->WaitForState({{0, "single"}}, absl::Seconds(60)); !s.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(s.message(), "\n", cluster->NodeLog(0)));
  }
  try {
    pqxx::connection conn(cluster->NodeUrl(0, "postgres"));
    pqxx::nontransaction tx(conn);
    tx.exec("CHECKPOINT");
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("CHECKPOINT on node1: ", e.what()));
  }
  if (absl::Status s = cluster->CreateNode(1); !s.ok()) return s;
  absl::StatusOr<int> primary = cluster->WaitForPrimaryAndSecondary(absl::Seconds(120));
  if (!primary.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(
        primary.status().message(), "\n", cluster->MonitorLog(), "\n", cluster->NodeLog(1)));
  }
  // Each keeper's own timeout, set once it is settled (a keeper rewrites its configuration file
  // while it initializes) and reloaded in place.
  for (const Node& node : cluster->nodes_) {
    auto set =
        cluster->Autoctl({"config", "set", "--pgdata", node.pgdata,
                          "timeout.network_partition_timeout", kNetworkPartitionTimeoutSeconds});
    if (!set.ok()) return set.status();
    if (auto reload = cluster->Autoctl({"reload", "--pgdata", node.pgdata}); !reload.ok()) {
      return reload.status();
    }
  }
  return cluster;
}

absl::Status PgFailoverCluster::StartMonitor() {
  monitor_port_ = FreePort();
  const std::string pgdata = dir_ + "/monitor";
  auto created = Autoctl({"create", "monitor", "--pgctl", kPgCtl, "--pgdata", pgdata, "--pgport",
                          absl::StrCat(monitor_port_), "--hostname", "127.0.0.1", "--auth", "trust",
                          "--no-ssl"});
  if (!created.ok()) return created.status();
  // The monitor has no --listen: it would listen on every interface. Tests stay on loopback.
  auto set =
      Autoctl({"config", "set", "--pgdata", pgdata, "postgresql.listen_addresses", "127.0.0.1"});
  if (!set.ok()) return set.status();
  auto pgid =
      Spawn({"run", "--pgdata", pgdata}, dir_ + "/logs/monitor.log", dir_ + "/monitor.pgid");
  if (!pgid.ok()) return pgid.status();
  monitor_pgid_ = *pgid;
  if (absl::Status s = Poll([&] { return Answers(MonitorUrl()); }, absl::Seconds(60)); !s.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "the pg_auto_failover monitor did not answer: ", s.message(), "\n", MonitorLog()));
  }
  try {
    pqxx::connection conn(
        absl::StrCat("postgresql://postgres@127.0.0.1:", monitor_port_, "/pg_auto_failover"));
    pqxx::nontransaction tx(conn);
    for (const auto& setting : kMonitorSettings) {
      tx.exec(absl::StrCat("ALTER SYSTEM SET ", setting[0], " = ", setting[1]));
    }
    tx.exec("SELECT pg_reload_conf()");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("tuning the monitor: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status PgFailoverCluster::CreateNode(int i) {
  Node& node = nodes_.at(i);
  auto pgid = Spawn({"create",   "postgres",     "--pgctl",    kPgCtl,
                     "--pgdata", node.pgdata,    "--pgport",   absl::StrCat(node.port),
                     "--listen", "127.0.0.1",    "--hostname", "127.0.0.1",
                     "--name",   node.name,      "--monitor",  MonitorUrl(),
                     "--auth",   "trust",        "--no-ssl",   "--dbname",
                     kDatabase,  "--pg-hba-lan", "--run"},
                    absl::StrCat(dir_, "/logs/", node.name, ".log"),
                    absl::StrCat(dir_, "/", node.name, ".pgid"));
  if (!pgid.ok()) return pgid.status();
  node.pgid = *pgid;
  ++node.runs;
  const std::string cfg = absl::StrCat(dir_, "/cfg/pg_autoctl", node.pgdata, "/pg_autoctl.cfg");
  absl::Status registered = Poll(
      [&] {
        return Answers(NodeUrl(i, "postgres")).ok() && std::filesystem::exists(cfg)
                   ? absl::OkStatus()
                   : absl::UnavailableError(absl::StrCat(node.name, " does not answer"));
      },
      absl::Seconds(60));
  if (!registered.ok()) {
    return absl::DeadlineExceededError(absl::StrCat(registered.message(), "\n", NodeLog(i)));
  }
  return absl::OkStatus();
}

absl::StatusOr<pid_t> PgFailoverCluster::Spawn(const std::vector<std::string>& args,
                                               const std::string& log,
                                               const std::string& pgid_file) {
  std::vector<std::string> argv;
  if (IsRoot()) argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), {"/usr/bin/env", absl::StrCat("XDG_CONFIG_HOME=", dir_, "/cfg"),
                           absl::StrCat("XDG_DATA_HOME=", dir_, "/data"),
                           absl::StrCat("XDG_RUNTIME_DIR=", dir_, "/run"), kAutoctl});
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    setsid();  // its own process group: KillNode() takes the keeper and its postmaster together
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(fd);
  std::ofstream(pgid_file) << pid << "\n";
  return pid;
}

absl::StatusOr<std::string> PgFailoverCluster::Autoctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv;
  if (IsRoot()) argv = {"runuser", "-u", "postgres", "--"};
  argv.insert(argv.end(), {"env", absl::StrCat("XDG_CONFIG_HOME=", dir_, "/cfg"),
                           absl::StrCat("XDG_DATA_HOME=", dir_, "/data"),
                           absl::StrCat("XDG_RUNTIME_DIR=", dir_, "/run"), kAutoctl});
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

std::string PgFailoverCluster::MonitorUrl() const {
  return absl::StrCat("postgresql://autoctl_node@127.0.0.1:", monitor_port_,
                      "/pg_auto_failover?sslmode=disable");
}

std::string PgFailoverCluster::Url(const std::string& database) const {
  std::vector<std::string> hosts;
  for (const Node& n : nodes_) hosts.push_back(absl::StrCat("127.0.0.1:", n.port));
  return absl::StrCat("postgresql://postgres@", absl::StrJoin(hosts, ","), "/", database,
                      "?target_session_attrs=read-write");
}

std::string PgFailoverCluster::NodeUrl(int i, const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", nodes_.at(i).port, "/", database,
                      "?connect_timeout=2");
}

absl::StatusOr<std::string> PgFailoverCluster::CreateDatabase() {
  const std::string name = absl::StrCat("f", getpid(), "_", ++databases_);
  if (absl::Status s = CreatePgDatabase(Url("postgres"), name); !s.ok()) return s;
  return Url(name);
}

absl::StatusOr<std::map<std::string, std::string>> PgFailoverCluster::States() const {
  try {
    pqxx::connection conn(MonitorUrl());
    pqxx::nontransaction tx(conn);
    std::map<std::string, std::string> out;
    for (const pqxx::row& row :
         tx.exec("SELECT nodename, reportedstate::text || '/' || goalstate::text "
                 "FROM pgautofailover.node")) {
      out[row[0].as<std::string>()] = row[1].as<std::string>();
    }
    return out;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("monitor: ", e.what()));
  }
}

absl::StatusOr<int> PgFailoverCluster::Primary() const {
  absl::StatusOr<std::map<std::string, std::string>> states = States();
  if (!states.ok()) return states.status();
  for (int i = 0; i < kNodes; ++i) {
    auto it = states->find(nodes_[i].name);
    if (it == states->end()) continue;
    // wait_primary: a primary without a standby to wait for (the other node is down).
    for (const char* writable : {"primary/primary", "wait_primary/wait_primary", "single/single"}) {
      if (it->second == writable) return i;
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no primary: ", absl::StrJoin(*states, ", ", absl::PairFormatter("="))));
}

absl::Status PgFailoverCluster::WaitForState(const std::map<int, std::string>& want,
                                             absl::Duration timeout) const {
  return Poll(
      [&]() -> absl::Status {
        absl::StatusOr<std::map<std::string, std::string>> states = States();
        if (!states.ok()) return states.status();
        for (const auto& [i, state] : want) {
          auto it = states->find(nodes_.at(i).name);
          const std::string want_both = absl::StrCat(state, "/", state);
          if (it == states->end() || it->second != want_both) {
            return absl::DeadlineExceededError(
                absl::StrCat("waiting for ", nodes_.at(i).name, " ", want_both,
                             "; states: ", absl::StrJoin(*states, ", ", absl::PairFormatter("="))));
          }
        }
        return absl::OkStatus();
      },
      timeout);
}

absl::StatusOr<int> PgFailoverCluster::WaitForPrimaryAndSecondary(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  do {
    for (int p = 0; p < kNodes; ++p) {
      last = WaitForState({{p, "primary"}, {1 - p, "secondary"}}, absl::ZeroDuration());
      if (last.ok()) return p;
    }
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < deadline);
  return last;
}

void PgFailoverCluster::KillGroup(pid_t& pgid, const std::string& pgid_file) {
  if (pgid <= 0) return;
  kill(-pgid, SIGKILL);
  int status = 0;
  waitpid(pgid, &status, 0);  // the group's leader is our child
  pgid = 0;
  std::filesystem::remove(pgid_file);
}

absl::Status PgFailoverCluster::KillNode(int i) {
  Node& node = nodes_.at(i);
  if (node.pgid == 0)
    return absl::FailedPreconditionError(absl::StrCat(node.name, " is not running"));
  // The postmaster is in the keeper's group; wait until it is gone, not only signalled.
  int postmaster = 0;
  const std::string pid_line = ReadFile(node.pgdata + "/postmaster.pid");
  (void)absl::SimpleAtoi(pid_line.substr(0, pid_line.find('\n')), &postmaster);
  KillGroup(node.pgid, absl::StrCat(dir_, "/", node.name, ".pgid"));
  if (postmaster <= 0) return absl::OkStatus();
  return Poll(
      [&] {
        return kill(postmaster, 0) != 0 && errno == ESRCH
                   ? absl::OkStatus()
                   : absl::DeadlineExceededError(
                         absl::StrCat("postmaster ", postmaster, " of ", node.name, " survives"));
      },
      absl::Seconds(10));
}

absl::Status PgFailoverCluster::KillPostmaster(int i) {
  const Node& node = nodes_.at(i);
  const std::string pid_line = ReadFile(node.pgdata + "/postmaster.pid");
  int postmaster = 0;
  if (!absl::SimpleAtoi(pid_line.substr(0, pid_line.find('\n')), &postmaster) || postmaster <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(node.name, " has no postmaster.pid"));
  }
  if (kill(postmaster, SIGKILL) != 0) {
    return absl::InternalError(absl::StrCat("kill ", postmaster, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status PgFailoverCluster::RestartNode(int i) {
  Node& node = nodes_.at(i);
  if (node.pgid != 0) return absl::FailedPreconditionError(absl::StrCat(node.name, " is running"));
  auto pgid =
      Spawn({"run", "--pgdata", node.pgdata}, absl::StrCat(dir_, "/logs/", node.name, ".log"),
            absl::StrCat(dir_, "/", node.name, ".pgid"));
  if (!pgid.ok()) return pgid.status();
  node.pgid = *pgid;
  ++node.runs;
  return absl::OkStatus();
}

absl::Status PgFailoverCluster::Switchover() {
  return Autoctl({"perform", "switchover", "--pgdata", dir_ + "/monitor", "--wait", "60"}).status();
}

std::string PgFailoverCluster::NodeLog(int i) const {
  return ReadFile(absl::StrCat(dir_, "/logs/", nodes_.at(i).name, ".log"));
}

std::string PgFailoverCluster::MonitorLog() const { return ReadFile(dir_ + "/logs/monitor.log"); }

// As PgCluster's: a child that waits for EOF on a pipe only this process writes to, then kills
// the process group named in each *.pgid file (kept current by Spawn and KillGroup) and removes
// the directory -- whatever way the test process ends.
void PgFailoverCluster::StartWatchdog() {
  int fds[2];
  if (pipe(fds) != 0) return;
  const std::string script = absl::StrCat("cat >/dev/null; for f in '", dir_,
                                          "'/*.pgid; do [ -f \"$f\" ] && kill -9 -- -$(cat \"$f\")",
                                          " 2>/dev/null; done; sleep 1; rm -rf '", dir_, "'");
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    setsid();
    execv("/bin/sh", const_cast<char* const*>(argv));
    _exit(127);
  }
  close(fds[0]);
  watchdog_fd_ = fds[1];
  fcntl(watchdog_fd_, F_SETFD, FD_CLOEXEC);
}

PgFailoverCluster::~PgFailoverCluster() {
  // Nodes first: a keeper whose monitor is gone would only log about it.
  for (Node& node : nodes_) KillGroup(node.pgid, absl::StrCat(dir_, "/", node.name, ".pgid"));
  KillGroup(monitor_pgid_, dir_ + "/monitor.pgid");
  // The watchdog removes the directory (and whatever was left running) when the pipe closes.
  if (watchdog_fd_ >= 0) {
    close(watchdog_fd_);
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace autosync::testing
