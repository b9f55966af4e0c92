// Command-line flags with environment fallbacks, and small validators for option values.
// Every flag can also be set by AUTOSYNC_<FLAG NAME UPPER-CASED>; the command line wins.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// Checks a libpq connection string ("postgresql://user@host:5432/db" or "host=… dbname=…")
// without connecting. The error never repeats the password.
absl::Status ValidateDatabaseUrl(absl::string_view url);

// Returns the value of an option for an error line, with any password replaced by "***".
std::string RedactDatabaseUrl(absl::string_view url);

// Accumulates validation errors of a Config; each line names its option.
class ConfigErrors final {
 public:
  void Check(const absl::Status& status, absl::string_view option);
  void Require(bool ok, absl::string_view option, absl::string_view problem);
  bool ok() const { return errors_.empty(); }
  // "invalid --listen: …; invalid --database_url: …" (one line).
  std::string Summary() const;
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

// Prints "<program>: <message>" as one line on stderr and exits with status 2.
[[noreturn]] void ExitWithConfigError(absl::string_view program, absl::string_view message);

}  // namespace autosync::common
