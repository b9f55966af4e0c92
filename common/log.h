// One-line-per-event logging over spdlog, as text ("msg key=value …") or JSON lines
// ({"ts":…,"level":…,"service":…,"msg":…,"store":…}). Fields carry store/run/rpc ids.
#pragma once

#include <initializer_list>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/json_text.h"  // AppendJsonEscaped, which JSON log lines use

namespace autosync::common {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };

absl::Status ParseLogFormat(absl::string_view text, LogFormat* out);
absl::Status ParseLogLevel(absl::string_view text, LogLevel* out);

// Sets up the process-wide logger (stderr). Call once from main before any thread logs.
void InitLogging(absl::string_view service, LogFormat format, LogLevel level);

using LogField = std::pair<absl::string_view, absl::string_view>;

// Logs one event. Thread-safe. `fields` are rendered as key=value (text) or JSON members.
void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}
inline void LogDebug(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, m, f);
}

}  // namespace autosync::common
