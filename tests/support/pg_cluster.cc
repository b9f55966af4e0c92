#include "tests/support/pg_cluster.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

// PostgreSQL refuses to run as root: run its tools as `postgres` then.
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (geteuid() != 0) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string Bin(const char* tool) { return absl::StrCat(kPgBin, "/", tool); }

}  // namespace

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Start() {
  char dir_template[] = "/tmp/autosync-pg-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string dir = dir_template;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr)
      return absl::FailedPreconditionError("no postgres user (install postgresql)");
    if (chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown of the cluster dir failed");
    }
  }
  auto init =
      RunCommand(AsPostgres({Bin("initdb"), "-D", dir + "/data", "-U", "postgres", "--auth=trust",
                             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}));
  if (!init.ok()) return init.status();
  // A port taken between FreePort() and start makes pg_ctl fail: try a few.
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cluster = std::unique_ptr<PgCluster>(new PgCluster(dir, FreePort()));
    last = cluster->StartServer();
    if (last.ok()) {
      cluster->StartWatchdog();
      return cluster;
    }
    cluster->dir_.clear();  // keep the data dir for the next attempt
  }
  std::filesystem::remove_all(dir);
  return last;
}

absl::Status PgCluster::StartServer() {
  const std::string options =
      absl::StrCat("-p ", port_, " -k ", dir_, " -c listen_addresses=127.0.0.1 -c fsync=off",
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200");
  auto out = RunCommand(AsPostgres({Bin("pg_ctl"), "-D", dir_ + "/data", "-l", dir_ + "/log", "-o",
                                    options, "-w", "-t", "30", "start"}));
  if (!out.ok()) return out.status();
  running_ = true;
  return absl::OkStatus();
}

absl::Status PgCluster::StopServer() {
  auto out =
      RunCommand(AsPostgres({Bin("pg_ctl"), "-D", dir_ + "/data", "-m", "fast", "-w", "stop"}));
  running_ = false;
  return out.status();
}

// The watchdog is a child that waits for EOF on a pipe only this process writes to: when the
// test process ends in any way (even a crash or SIGKILL), it stops the server and removes the
// directory, so no test leaves a PostgreSQL running.
void PgCluster::StartWatchdog() {
  int fds[2];
  if (pipe(fds) != 0) return;
  // Everything is prepared before fork(): the child only calls async-signal-safe functions
  // and then execs a shell that waits for EOF on the pipe.
  std::string stop;
  for (const std::string& part :
       AsPostgres({Bin("pg_ctl"), "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"})) {
    absl::StrAppend(&stop, "'", part, "' ");
  }
  const std::string script =
      absl::StrCat("cat >/dev/null; if [ -f '", dir_, "/data/postmaster.pid' ]; then ", stop,
                   ">/dev/null 2>&1; fi; rm -rf '", dir_, "'");
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    setsid();  // survive signals sent to the test's process group
    execv("/bin/sh", const_cast<char* const*>(argv));
    _exit(127);
  }
  close(fds[0]);
  watchdog_fd_ = fds[1];
  fcntl(watchdog_fd_, F_SETFD, FD_CLOEXEC);
}

PgCluster::~PgCluster() {
  // The watchdog wakes when the pipe closes and cleans up whatever is left.
  struct CloseWatchdog {
    int fd;
    ~CloseWatchdog() {
      if (fd >= 0) close(fd);
    }
  } close_watchdog{watchdog_fd_};
  if (dir_.empty()) return;
  if (running_) {
    (void)RunCommand(
        AsPostgres({Bin("pg_ctl"), "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"}));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgCluster::UrlFor(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PgCluster::CreateDatabase() {
  const std::string name = absl::StrCat("t", getpid(), "_", ++databases_);
  if (absl::Status s = CreatePgDatabase(UrlFor("postgres"), name); !s.ok()) return s;
  return UrlFor(name);
}

absl::Status CreatePgDatabase(const std::string& admin_url, const std::string& name) {
  try {
    pqxx::connection conn(admin_url);
    pqxx::nontransaction tx(conn);
    tx.exec(absl::StrCat("CREATE DATABASE ", tx.quote_name(name)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("CREATE DATABASE failed: ", e.what()));
  }
  return absl::OkStatus();
}

namespace {

class PgEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override { cluster.reset(); }
  std::unique_ptr<PgCluster> cluster;
  absl::Status start_error;
  bool tried = false;
};

PgEnvironment* Env() {
  // Registered on first use; gtest owns and tears it down at the end of the run.
  static PgEnvironment* env = [] {
    auto* e = new PgEnvironment();
    ::testing::AddGlobalTestEnvironment(e);
    return e;
  }();
  return env;
}

}  // namespace

PgCluster& SharedPgCluster() {
  PgEnvironment* env = Env();
  if (!env->tried) {
    env->tried = true;
    auto cluster = PgCluster::Start();
    if (cluster.ok()) {
      env->cluster = std::move(*cluster);
    } else {
      env->start_error = cluster.status();
    }
  }
  if (env->cluster == nullptr) {
    std::cerr << "PostgreSQL test cluster failed to start: " << env->start_error << "\n";
    std::abort();
  }
  return *env->cluster;
}

std::string FreshDatabaseUrl() {
  auto url = SharedPgCluster().CreateDatabase();
  if (!url.ok()) {
    ADD_FAILURE() << url.status();
    return "";
  }
  return *url;
}

}  // namespace autosync::testing
