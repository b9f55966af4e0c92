// Test support: start a built binary as a child process, signal it, wait for it with a deadline;
// free loopback ports; run a command to completion.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace autosync::testing {

// Path of a binary built into build/<preset>/bin of this build (AUTOSYNC_BIN_DIR overrides).
std::string BinaryPath(const std::string& name);

// A port that was free on 127.0.0.1 a moment ago (bind :0, read it, close).
int FreePort();

// Runs argv to completion, capturing stdout+stderr. Error if it cannot start or exits non-zero
// (the message holds the output).
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

// A child process whose stdout and stderr go to a log file. Killed (SIGKILL) on destruction if
// still running.
class ChildProcess final {
 public:
  struct Options {
    std::vector<std::string> args = {};
    std::map<std::string, std::string> env = {};  // added to (and overriding) this process's env
    std::vector<std::string> unset_env = {};
  };
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::string& path,
                                                             const Options& options);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  bool running();
  // Waits for exit up to `timeout`; returns the exit code (128+signal when killed by one), or
  // DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // Everything the process has written so far.
  std::string Output() const;
  const std::string& log_path() const { return log_path_; }

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  std::optional<int> exit_code_;
};

}  // namespace autosync::testing
