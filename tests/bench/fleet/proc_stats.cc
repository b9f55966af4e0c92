#include "tests/bench/fleet/proc_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace autosync::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fields of /proc/<pid>/stat after the command name: [0] is field 3 (state), so field n of
// proc(5) is [n - 3]. Empty when the process is gone.
std::vector<std::string> StatFields(pid_t pid) {
  const std::string content = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = content.rfind(')');
  if (close == std::string::npos || close + 2 >= content.size()) return {};
  return absl::StrSplit(content.substr(close + 2), ' ');
}

double Field(const std::vector<std::string>& f, int n) {
  double v = 0;
  if (static_cast<int>(f.size()) <= n - 3 || !absl::SimpleAtod(f[n - 3], &v)) return 0;
  return v;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (absl::SimpleAtoi(entry.path().filename().string(), &pid)) out.push_back(pid);
  }
  return out;
}

}  // namespace

double CpuSeconds(pid_t pid, bool reaped_children) {
  const std::vector<std::string> f = StatFields(pid);
  // utime 14, stime 15, cutime 16, cstime 17 (clock ticks).
  double ticks = Field(f, 14) + Field(f, 15);
  if (reaped_children) ticks += Field(f, 16) + Field(f, 17);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double RssMib(pid_t pid) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    double kib = 0;
    if (!parts.empty() && absl::SimpleAtod(parts[0], &kib)) return kib / 1024.0;
  }
  return 0;
}

pid_t FindPostmaster(int port) {
  const std::string port_text = absl::StrCat(port);
  for (pid_t pid : AllPids()) {
    const std::string cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
    if (argv.empty() || !absl::EndsWith(argv[0], "/postgres")) continue;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "-p" && argv[i + 1] == port_text) return pid;
    }
  }
  return -1;
}

double ClusterCpuSeconds(pid_t postmaster) {
  if (postmaster <= 0) return 0;
  double total = CpuSeconds(postmaster, /*reaped_children=*/true);
  for (pid_t pid : AllPids()) {
    const std::vector<std::string> f = StatFields(pid);
    if (static_cast<pid_t>(Field(f, 4)) == postmaster) total += CpuSeconds(pid);
  }
  return total;
}

}  // namespace autosync::bench
