// PostgreSQL connection strings, checked with libpq's own parser: in common_pg (the only part of
// common that links libpq), beside the pool that connects with them. RedactDatabaseUrl, which
// needs no libpq, stays in common/config.h.
#pragma once

#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/config.h"

namespace autosync::common {

// Checks a libpq connection string ("postgresql://user@host:5432/db" or "host=… dbname=…")
// without connecting. The error never repeats the password.
absl::Status ValidateDatabaseUrl(absl::string_view url);

// The flag's value as a PostgreSQL connection string (ValidateDatabaseUrl: the error never
// repeats the password), or the error added to `errors` under the flag's name.
std::string DatabaseUrlFlag(const absl::Flag<std::string>& flag, ConfigErrors& errors);

}  // namespace autosync::common
