#include "common/config.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <system_error>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace autosync::common {
namespace {

// Only our own flags read the environment: Abseil's and gRPC's built-in flags keep their usual
// behaviour. Ours are defined in files of this repository.
bool IsOurFlag(const absl::CommandLineFlag& flag) {
  const std::string file = flag.Filename();
  return absl::StrContains(file, "common/") || absl::StrContains(file, "scheduler-service/") ||
         absl::StrContains(file, "sync-worker/") || absl::StrContains(file, "ws-gateway/") ||
         absl::StrContains(file, "tools/") || absl::StrContains(file, "tests/");
}

}  // namespace

std::string EnvNameForFlag(absl::string_view flag_name) {
  return absl::StrCat("AUTOSYNC_", absl::AsciiStrToUpper(flag_name));
}

std::vector<char*> ParseFlagsWithEnv(int argc, char** argv, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/") && !absl::StrContains(file, "third_party");
  };
  usage_config.normalize_filename = [](absl::string_view file) { return std::string(file); };
  absl::SetFlagsUsageConfig(usage_config);

  const std::string program = argc > 0 ? argv[0] : "autosync";
  // Environment first, so that the command line, parsed after, overrides it.
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!IsOurFlag(*flag)) continue;
    const std::string env = EnvNameForFlag(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      ExitWithConfigError(program, absl::StrCat("invalid ", env, " (--", name, "): ", error));
    }
  }
  return absl::ParseCommandLine(argc, argv);
}

std::string HostPort::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  HostPort out;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not [ipv6]:port"));
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not host:port"));
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has no host"));
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535 || port_text.empty() ||
      port_text[0] == '+' || port_text[0] == '-') {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" has a bad port (want 0-65535)"));
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

absl::Status ValidateDatabaseUrl(absl::string_view url) {
  if (url.empty())
    return absl::InvalidArgumentError("is empty (want postgresql://user@host:port/db)");
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(url).c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "cannot parse";
    if (error != nullptr) PQfreemem(error);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    // libpq quotes the offending text (`missing "=" after "…"`, `invalid percent-encoded token:
    // "…"`), which may be part of a password or a password pasted into the wrong place: keep
    // only the reason, with every quoted word longer than one character replaced.
    if (absl::StrContains(message, "@") || absl::StrContains(message, "password")) {
      message = "is not a valid PostgreSQL connection string";
    }
    std::string reason;
    for (size_t i = 0; i < message.size();) {
      const size_t close = message[i] == '"' ? message.find('"', i + 1) : std::string::npos;
      if (close == std::string::npos) {
        reason += message[i++];
        continue;
      }
      reason += close - i > 2 ? std::string("\"***\"") : message.substr(i, close - i + 1);
      i = close + 1;
    }
    message = std::move(reason);
    return absl::InvalidArgumentError(message);
  }
  // libpq checks ports only when connecting; a typo should stop the process at start instead.
  absl::Status status = absl::OkStatus();
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    // libpq checks this one only when connecting too; a typo would read as "cannot connect".
    if (std::string_view(o->keyword) == "target_session_attrs" && o->val != nullptr) {
      static constexpr std::string_view kAttrs[] = {"any",     "read-write", "read-only",
                                                    "primary", "standby",    "prefer-standby"};
      if (std::find(std::begin(kAttrs), std::end(kAttrs), std::string_view(o->val)) ==
          std::end(kAttrs)) {
        status = absl::InvalidArgumentError(absl::StrCat(
            "target_session_attrs \"", o->val,
            "\" is not one of any, read-write, read-only, primary, standby, prefer-standby"));
      }
      continue;
    }
    if (std::string_view(o->keyword) != "port" || o->val == nullptr) continue;
    for (absl::string_view part : absl::StrSplit(o->val, ',')) {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(part, &port) || port == 0 || port > 65535) {
        status = absl::InvalidArgumentError(
            absl::StrCat("port \"", part, "\" is not a number from 1 to 65535"));
      }
    }
  }
  PQconninfoFree(options);
  return status;
}

std::string RedactDatabaseUrl(absl::string_view url) {
  std::string out(url);
  // URI form: scheme://user:password@host → scheme://user:***@host. The user info ends at the
  // last '@' before the path or query, so a raw '@' inside the password is hidden too
  // (tests/integration/security/redaction_test.cc).
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    size_t end = out.find_first_of("/?", start);
    if (end == std::string::npos) end = out.size();
    const size_t at = end > start ? out.rfind('@', end - 1) : std::string::npos;
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // Key/value form and URI query: password=secret → password=***. libpq allows blanks around
  // '=' and single-quoted values with backslash escapes; the key is matched in any case.
  auto blank = [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); };
  size_t pos = 0;
  while ((pos = absl::AsciiStrToLower(out).find("password", pos)) != std::string::npos) {
    const bool boundary =
        pos == 0 || blank(out[pos - 1]) || out[pos - 1] == '?' || out[pos - 1] == '&';
    size_t i = pos + 8;
    while (i < out.size() && blank(out[i])) ++i;
    if (!boundary || i >= out.size() || out[i] != '=') {
      pos += 8;
      continue;
    }
    ++i;
    while (i < out.size() && blank(out[i])) ++i;
    size_t value_end = i;
    if (value_end < out.size() && out[value_end] == '\'') {
      ++value_end;
      while (value_end < out.size() && out[value_end] != '\'') {
        value_end += out[value_end] == '\\' && value_end + 1 < out.size() ? 2 : 1;
      }
      value_end = std::min(value_end + 1, out.size());  // the closing quote
    } else {
      while (value_end < out.size() && !blank(out[value_end]) && out[value_end] != '&') {
        ++value_end;
      }
    }
    out.replace(i, value_end - i, "***");
    pos = i + 3;
  }
  return out;
}

void ConfigErrors::Check(const absl::Status& status, absl::string_view option) {
  if (!status.ok()) errors_.push_back(absl::StrCat("invalid --", option, ": ", status.message()));
}

void ConfigErrors::Require(bool ok, absl::string_view option, absl::string_view problem) {
  if (!ok) errors_.push_back(absl::StrCat("invalid --", option, ": ", problem));
}

void ConfigErrors::RequireInRange(int64_t value, int64_t lo, int64_t hi, absl::string_view option) {
  if (value < lo || value > hi) {
    errors_.push_back(absl::StrCat("invalid --", option, ": must be between ", lo, " and ", hi));
  }
}

void ConfigErrors::Append(const absl::Status& status) {
  if (!status.ok()) errors_.emplace_back(status.message());
}

std::string ConfigErrors::Summary() const { return absl::StrJoin(errors_, "; "); }

absl::Status ConfigErrors::ToStatus() const {
  return ok() ? absl::OkStatus() : absl::InvalidArgumentError(Summary());
}

absl::Duration SecondsFlag(const absl::Flag<int32_t>& flag, int32_t lo, int32_t hi,
                           ConfigErrors& errors) {
  return absl::Seconds(FlagInRange(flag, lo, hi, errors));
}

absl::Duration MillisecondsFlag(const absl::Flag<int32_t>& flag, int32_t lo, int32_t hi,
                                ConfigErrors& errors) {
  return absl::Milliseconds(FlagInRange(flag, lo, hi, errors));
}

HostPort ListenFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  absl::StatusOr<HostPort> parsed = ParseHostPort(absl::GetFlag(flag));
  errors.Check(parsed.status(), FlagName(flag));
  return parsed.ok() ? *parsed : HostPort{};
}

std::string NonEmptyFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  errors.Require(!value.empty(), FlagName(flag), "is empty");
  return value;
}

std::string DatabaseUrlFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  errors.Check(ValidateDatabaseUrl(value), FlagName(flag));
  return value;
}

std::string HttpUrlFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) {
    errors.Require(absl::StartsWith(value, "http://") || absl::StartsWith(value, "https://"),
                   FlagName(flag), "must be an http:// or https:// URL");
  }
  return value;
}

std::string DirectoryFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) {
    std::error_code ec;
    errors.Require(std::filesystem::is_directory(value, ec), FlagName(flag), "is not a directory");
  }
  return value;
}

std::string DefaultProcessName() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", ::getpid());
}

std::string ProcessNameFlag(const absl::Flag<std::string>& flag, size_t max_size,
                            ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) value = DefaultProcessName();
  if (max_size > 0) {
    errors.Require(value.size() <= max_size, FlagName(flag),
                   absl::StrCat("is longer than ", max_size, " characters"));
  }
  return value;
}

bool LoopbackOnlyFlag(const absl::Flag<bool>& flag, const HostPort& listen, ConfigErrors& errors) {
  const bool on = absl::GetFlag(flag);
  if (on) {
    errors.Require(IsLoopbackHost(listen.host), FlagName(flag),
                   "needs --listen on a loopback address");
  }
  return on;
}

void ExitWithConfigError(absl::string_view program, absl::string_view message) {
  std::string name(program);
  const size_t slash = name.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  std::fprintf(stderr, "%s: %.*s\n", name.c_str(), static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::_Exit(2);
}

}  // namespace autosync::common
