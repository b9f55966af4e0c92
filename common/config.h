// Command-line flags with environment fallbacks, and small validators for option values.
// Every flag can also be set by AUTOSYNC_<FLAG NAME UPPER-CASED>; the command line wins.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autosync::common {

// Parses argv (after applying AUTOSYNC_* environment variables to the flags they name) and returns
// the positional arguments. `usage` is the one-line description printed by --help. A flag value
// that does not parse, from either source, prints one line naming the option and exits 2.
std::vector<char*> ParseFlagsWithEnv(int argc, char** argv, absl::string_view usage);

// The environment variable that feeds a flag: "database_url" -> "AUTOSYNC_DATABASE_URL".
std::string EnvNameForFlag(absl::string_view flag_name);

// A validated "host:port" listen address ("0.0.0.0:50051", "127.0.0.1:0", "[::1]:8080").
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // re-bracketed for IPv6
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);
bool IsLoopbackHost(absl::string_view host);

// Returns the value of an option for an error line, with any password replaced by "***".
std::string RedactDatabaseUrl(absl::string_view url);

// Accumulates validation errors of a Config; each line names its option.
class ConfigErrors final {
 public:
  void Check(const absl::Status& status, absl::string_view option);
  void Require(bool ok, absl::string_view option, absl::string_view problem);
  // Records "invalid --<option>: must be between <lo> and <hi>" unless lo <= value <= hi.
  void RequireInRange(int64_t value, int64_t lo, int64_t hi, absl::string_view option);
  // Appends the lines of a status made by another ConfigErrors (its ToStatus()) as they are.
  void Append(const absl::Status& status);
  bool ok() const { return errors_.empty(); }
  // "invalid --listen: …; invalid --database_url: …" (one line).
  std::string Summary() const;
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

// Flag readers for the config functions of the binaries (scheduler-service/config.h, …): each
// reads one flag, records a problem in `errors` as "invalid --<name>: <problem>" (the name comes
// from the flag itself, so it cannot drift from it) and returns the value, so that one start
// reports every bad flag at once. Pure apart from reading the flag; call after parsing.

// The flag's name without dashes ("listen").
template <typename T>
absl::string_view FlagName(const absl::Flag<T>& flag) {
  return absl::GetFlagReflectionHandle(flag).Name();
}

// A number in [lo, hi]: "must be between <lo> and <hi>", or `problem` when given (for a range
// with a reason: "must be 0 (no sweep) to 8784").
template <typename T>
T FlagInRange(const absl::Flag<T>& flag, std::type_identity_t<T> lo, std::type_identity_t<T> hi,
              ConfigErrors& errors, absl::string_view problem = {}) {
  static_assert(std::is_integral_v<T>);
  const T value = absl::GetFlag(flag);
  if (problem.empty()) {
    errors.RequireInRange(value, lo, hi, FlagName(flag));
  } else {
    errors.Require(value >= lo && value <= hi, FlagName(flag), problem);
  }
  return value;
}

// A duration given in whole seconds or milliseconds, in [lo, hi] of that unit.
absl::Duration SecondsFlag(const absl::Flag<int32_t>& flag, int32_t lo, int32_t hi,
                           ConfigErrors& errors);
absl::Duration MillisecondsFlag(const absl::Flag<int32_t>& flag, int32_t lo, int32_t hi,
                                ConfigErrors& errors);

// A listen address ("0.0.0.0:50051"); a bad one reads as an empty HostPort.
HostPort ListenFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors);

// A string that must not be empty: "is empty".
std::string NonEmptyFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors);

// Empty, or an http:// or https:// URL: "must be an http:// or https:// URL".
std::string HttpUrlFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors);

// Empty, or a directory that exists: "is not a directory".
std::string DirectoryFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors);

// A process name such as --replica_id: empty means DefaultProcessName(); longer than `max_size`
// (0 = no limit) is "is longer than <max_size> characters".
std::string ProcessNameFlag(const absl::Flag<std::string>& flag, size_t max_size,
                            ConfigErrors& errors);
// "<host name>-<pid>": unique per process on a network.
std::string DefaultProcessName();

// A switch that is only safe on a loopback --listen: "needs --listen on a loopback address" when
// it is on and `listen` is not loopback.
bool LoopbackOnlyFlag(const absl::Flag<bool>& flag, const HostPort& listen, ConfigErrors& errors);

// Prints "<program>: <message>" as one line on stderr and exits with status 2.
[[noreturn]] void ExitWithConfigError(absl::string_view program, absl::string_view message);

}  // namespace autosync::common
