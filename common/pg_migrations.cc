#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/migrations.h"
#include "common/pg_pool.h"

namespace autosync::common {
namespace {
// Arbitrary constant naming "autosync schema migrations" for pg_advisory_xact_lock.
constexpr int64_t kMigrationLockKey = 0x6175746f73796e63;  // "autosync"

// A service's own role (migration 0014) may not change the schema: say who may.
absl::Status NotTheOwner(absl::string_view what, const pqxx::insufficient_privilege& e) {
  return absl::PermissionDeniedError(absl::StrCat(
      what, " this database role may not apply it (", absl::StripAsciiWhitespace(e.what()),
      "): migrations run as the owner of the schema objects; run scheduler-service "
      "--migrate_only with the owner's --database_url first (README: Database roles)"));
}
}  // namespace

absl::StatusOr<int> ApplyMigrations(PgPool& pool, const std::vector<Migration>& migrations) {
  int applied = 0;
  absl::Status status = pool.Run([&](pqxx::connection_base& conn) -> absl::Status {
    pqxx::work tx(conn, "migrate");
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    // Created only when absent: a service's least-privilege role (migration 0014) may read the
    // version but not create tables, and its start-up check must pass on a migrated database.
    if (tx.exec("SELECT to_regclass('schema_migrations') IS NULL")[0][0].as<bool>()) {
      try {
        tx.exec(
            "CREATE TABLE schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
      } catch (const pqxx::insufficient_privilege& e) {
        return NotTheOwner("the database is not migrated yet and", e);
      }
    }
    int current = 0;
    for (const auto& row : tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")) {
      current = row[0].as<int>();
    }
    const int known = migrations.empty() ? 0 : migrations.back().version;
    if (current > known) {
      return absl::FailedPreconditionError(absl::StrCat("database schema is at version ", current,
                                                        " but this binary knows only up to ", known,
                                                        ": run a newer build"));
    }
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      try {
        tx.exec(std::string(m.sql));
      } catch (const pqxx::insufficient_privilege& e) {
        return NotTheOwner(absl::StrCat("migration ", m.version, " (", m.name, ") is pending and"),
                           e);
      }
      tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                     std::string(m.name));
      ++applied;
    }
    tx.commit();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return applied;
}

}  // namespace autosync::common
