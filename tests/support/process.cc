#include "tests/support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

extern char** environ;

namespace autosync::testing {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("AUTOSYNC_BIN_DIR");
  return absl::StrCat(dir != nullptr ? dir : AUTOSYNC_DEFAULT_BIN_DIR, "/", name);
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return 0;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv) {
  char path[] = "/tmp/autosync-cmd-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  std::vector<std::string> copy = argv;
  std::vector<char*> args = CStrings(copy);  // before fork: see ChildProcess::Start
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  unlink(path);
  const int code = DecodeWaitStatus(status);
  if (code != 0) {
    return absl::InternalError(
        absl::StrCat("`", absl::StrJoin(argv, " "), "` exited ", code, ": ", out.str()));
  }
  return out.str();
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::string& path,
                                                                  const Options& options) {
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, " is not an executable (build it first)"));
  }
  char log_template[] = "/tmp/autosync-proc-XXXXXX";
  const int log_fd = mkstemp(log_template);
  if (log_fd < 0) return absl::InternalError("mkstemp failed");
  std::vector<std::string> argv = {path};
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool drop = options.env.count(name) > 0;
    for (const std::string& unset : options.unset_env) drop = drop || unset == name;
    if (!drop) env.push_back(entry);
  }
  for (const auto& [k, v] : options.env) env.push_back(absl::StrCat(k, "=", v));
  // Everything the child needs is built before fork: the test process has other threads (gRPC,
  // the fake servers), and a child of a multi-threaded process may only call async-signal-safe
  // functions until execve. Allocating there can deadlock on a lock another thread held at the
  // fork (the allocator's, which ASan's builds take often), hanging the test in waitpid.
  std::vector<char*> args = CStrings(argv);
  std::vector<char*> envp = CStrings(env);
  sigset_t none;
  sigemptyset(&none);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // A test that crashes must not leave its services running.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Signals blocked by the test's parent must not stay blocked in the service.
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(log_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_template));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  unlink(log_path_.c_str());
}

void ChildProcess::Signal(int sig) {
  if (!exit_code_.has_value()) kill(pid_, sig);
}

bool ChildProcess::running() {
  if (exit_code_.has_value()) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return false;
  }
  return true;
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(10));  // waitpid has no timeout; poll its exit status
  }
  return *exit_code_;
}

std::string ChildProcess::Output() const {
  std::ifstream in(log_path_);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace autosync::testing
