// ValidateDatabaseUrl and DatabaseUrlFlag (pg_url.h): in common_pg, because they parse the URL
// with libpq; common itself does not link libpq.
#include "common/pg_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config.h"

namespace autosync::common {

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

std::string DatabaseUrlFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors) {
  std::string value = absl::GetFlag(flag);
  errors.Check(ValidateDatabaseUrl(value), FlagName(flag));
  return value;
}

}  // namespace autosync::common
