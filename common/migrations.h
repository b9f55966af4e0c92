// Numbered SQL migrations (common/migrations/NNNN_name.sql, embedded at build time) and the
// routine that applies the missing ones, once, even when several processes start together.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::common {

class PgPool;

struct Migration {
  int version;
  absl::string_view name;
  absl::string_view sql;
};

// Every migration of this build, in version order.
const std::vector<Migration>& EmbeddedMigrations();

// Applies the migrations not yet recorded in schema_migrations, in order, all in one
// transaction under a transaction-scoped advisory lock: concurrent callers serialize, and the
// second finds nothing to do. Returns how many were applied (0 when up to date). Refuses to run
// against a database whose schema is newer than this binary knows (FAILED_PRECONDITION).
absl::StatusOr<int> ApplyMigrations(PgPool& pool, const std::vector<Migration>& migrations);

}  // namespace autosync::common
