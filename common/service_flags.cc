#include "common/service_flags.h"

#include <string>

#include "absl/flags/flag.h"
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

}  // namespace autosync::common
