// Flags every autosync binary shares (logging) and the start-up helpers built on them.
#pragma once

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/pg_pool.h"

namespace autosync::common {

// Reads --log_format / --log_level, validates them into `errors`, and initializes logging.
void InitLoggingFromFlags(absl::string_view service, ConfigErrors& errors);

// Pings the database until it answers or `timeout` passes (retrying every 0.5 s: PostgreSQL
// often starts after us in a fresh cluster; a writable one: a standby is not enough). Logs
// why it waits, every 10 s. Returns the last error on timeout.
absl::Status WaitForDatabase(PgPool& pool, absl::Duration timeout);

}  // namespace autosync::common
