#include "tests/support/migrated_db.h"

#include <pqxx/pqxx>

#include "common/migrations.h"
#include "tests/support/pg_cluster.h"

namespace autosync::testing {

void MigratedDatabaseTest::SetUp() {
  url_ = FreshDatabaseUrl();
  auto pool = common::PgPool::Create({.url = url_, .size = pool_size_});
  ASSERT_TRUE(pool.ok()) << pool.status();
  pool_ = std::move(*pool);
  const absl::StatusOr<int> applied = common::ApplyMigrations(*pool_, common::EmbeddedMigrations());
  ASSERT_TRUE(applied.ok()) << applied.status();
}

void MigratedDatabaseTest::Exec(const std::string& sql) {
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  tx.exec(sql);
  tx.commit();
}

int64_t MigratedDatabaseTest::Scalar(const std::string& sql) {
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  return tx.exec(sql)[0][0].as<int64_t>();
}

}  // namespace autosync::testing
