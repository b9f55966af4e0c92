#include "common/service_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/log.h"

ABSL_FLAG(std::string, log_format, "text", "Log line format: text or json (one line per event)");
ABSL_FLAG(std::string, log_level, "info", "Minimum log level: debug, info, warn or error");

namespace autosync::common {

void InitLoggingFromFlags(absl::string_view service, ConfigErrors& errors) {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
  errors.Check(ParseLogFormat(absl::GetFlag(FLAGS_log_format), &format), "log_format");
  errors.Check(ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level), "log_level");
  InitLogging(service, format, level);
}

absl::Status WaitForDatabase(PgPool& pool, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status = pool.Ping();
  absl::Time next_log = absl::Now();
  bool waited = false;
  while (!status.ok() && absl::Now() < deadline) {
    // Says why it waits: with a multi-host URL whose hosts are all standbys (a failover under
    // way), libpq's error names each host and "session is read-only".
    if (absl::Now() >= next_log) {
      LogWarn("waiting for a writable PostgreSQL primary (--database_url)",
              {{"error", status.message()}});
      next_log = absl::Now() + absl::Seconds(10);
      waited = true;
    }
    // Not a readiness guess: each attempt is a real connection; this only paces the retries.
    absl::SleepFor(absl::Milliseconds(500));
    status = pool.Ping();
  }
  if (status.ok() && waited) LogInfo("the database answers");
  return status;
}

}  // namespace autosync::common
