#include "common/log.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace autosync::common {
namespace {

struct LogState {
  std::shared_ptr<spdlog::logger> logger;
  LogFormat format = LogFormat::kText;
  std::string service;
};

LogState& State() {
  static LogState* state = new LogState();  // never destroyed: logging works during exit
  return *state;
}

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

absl::Status ParseLogFormat(absl::string_view text, LogFormat* out) {
  if (text == "text") {
    *out = LogFormat::kText;
    return absl::OkStatus();
  }
  if (text == "json") {
    *out = LogFormat::kJson;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not one of text, json"));
}

absl::Status ParseLogLevel(absl::string_view text, LogLevel* out) {
  if (text == "debug") {
    *out = LogLevel::kDebug;
    return absl::OkStatus();
  }
  if (text == "info") {
    *out = LogLevel::kInfo;
    return absl::OkStatus();
  }
  if (text == "warn") {
    *out = LogLevel::kWarn;
    return absl::OkStatus();
  }
  if (text == "error") {
    *out = LogLevel::kError;
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not one of debug, info, warn, error"));
}

void InitLogging(absl::string_view service, LogFormat format, LogLevel level) {
  LogState& state = State();
  state.format = format;
  state.service = std::string(service);
  auto logger = std::make_shared<spdlog::logger>(std::string(service),
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  // We render the whole line ourselves, so both formats are exactly one line per event.
  logger->set_pattern("%v");
  logger->set_level(ToSpd(level));
  logger->flush_on(spdlog::level::info);
  state.logger = std::move(logger);
}

void Log(LogLevel level, absl::string_view message, std::initializer_list<LogField> fields) {
  LogState& state = State();
  if (!state.logger) InitLogging("autosync", LogFormat::kText, LogLevel::kInfo);
  if (!state.logger->should_log(ToSpd(level))) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (state.format == LogFormat::kJson) {
    absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"", LevelName(level),
                    "\",\"service\":\"");
    AppendJsonEscaped(line, state.service);
    line += "\",\"msg\":\"";
    AppendJsonEscaped(line, message);
    line += '"';
    for (const auto& [key, value] : fields) {
      line += ",\"";
      AppendJsonEscaped(line, key);
      line += "\":\"";
      AppendJsonEscaped(line, value);
      line += '"';
    }
    line += '}';
  } else {
    absl::StrAppend(&line, ts, " ", LevelName(level), " ", state.service, ": ", message);
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, " ", key, "=");
      if (NeedsQuotes(value)) {
        line += '"';
        AppendJsonEscaped(line, value);
        line += '"';
      } else {
        line.append(value.data(), value.size());
      }
    }
  }
  state.logger->log(ToSpd(level), "{}", line);
}

}  // namespace autosync::common
