// The schema stays ready to be distributed by store_id (docs/SCALING.md): read from the catalog
// of a fully migrated database, every primary key and unique index of a store-scoped table (one
// with a store_id column) includes store_id, every foreign key between store-scoped tables joins
// on store_id, and no other table references a store-scoped one. A migration that breaks the rule
// fails here, naming the table and the key.
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/migrated_db.h"

namespace autosync::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Tables that have a store_id column but are fleet-wide, not store-scoped, as a PostgreSQL array
// literal. A table listed here stays on the coordinator if the schema is distributed:
// - audit_log: one log of who changed what, across stores (store_id is NULL for fleet-wide
//   actions such as an fx-rates import), kept apart from the per-store data it describes.
constexpr char kFleetWideTables[] = "{audit_log}";

// One line per broken rule, e.g. "sync_runs: primary key sync_runs_pkey (run_id) lacks store_id".
std::vector<std::string> Violations(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  std::vector<std::string> out;
  const std::string fleet_wide = kFleetWideTables;
  // The store-scoped tables of the public schema.
  const std::string scoped =
      "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
      "AND NOT c.relname = ANY($1::text[]) "
      "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
      "            AND a.attname = 'store_id' AND NOT a.attisdropped)";
  // Primary keys and unique indexes (partial ones too) without store_id among their columns.
  for (const auto& row : tx.exec_params(
           "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, i.indisprimary, "
           "  pg_get_indexdef(i.indexrelid) "
           "FROM pg_index i WHERE (i.indisunique OR i.indisprimary) "
           "AND i.indrelid IN (" +
               scoped +
               ") "
               "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid "
               "  AND a.attname = 'store_id' AND a.attnum = ANY(i.indkey::int2[])) "
               "ORDER BY 1, 2",
           fleet_wide)) {
    out.push_back(absl::StrCat(
        row[0].as<std::string>(), ": ", row[2].as<bool>() ? "primary key " : "unique index ",
        row[1].as<std::string>(), " lacks store_id (", row[3].as<std::string>(), ")"));
  }
  // Foreign keys from a store-scoped table to another that do not pair store_id with store_id.
  for (const auto& row : tx.exec_params(
           "SELECT k.conrelid::regclass::text, k.conname, k.confrelid::regclass::text, "
           "  pg_get_constraintdef(k.oid) "
           "FROM pg_constraint k WHERE k.contype = 'f' "
           "AND k.conrelid IN (" +
               scoped + ") AND k.confrelid IN (" + scoped +
               ") "
               "AND NOT EXISTS (SELECT 1 FROM unnest(k.conkey, k.confkey) AS p(col, fcol) "
               "  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = p.col "
               "  JOIN pg_attribute f ON f.attrelid = k.confrelid AND f.attnum = p.fcol "
               "  WHERE a.attname = 'store_id' AND f.attname = 'store_id') "
               "ORDER BY 1, 2",
           fleet_wide)) {
    out.push_back(absl::StrCat(row[0].as<std::string>(), ": foreign key ", row[1].as<std::string>(),
                               " to ", row[2].as<std::string>(), " does not join on store_id (",
                               row[3].as<std::string>(), ")"));
  }
  // Foreign keys from any other table to a store-scoped one (a reference or coordinator table
  // cannot point into distributed data).
  for (const auto& row :
       tx.exec_params("SELECT k.conrelid::regclass::text, k.conname, k.confrelid::regclass::text "
                      "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                      "JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE k.contype = 'f' AND n.nspname = 'public' "
                      "AND k.conrelid NOT IN (" +
                          scoped + ") AND k.confrelid IN (" + scoped +
                          ") "
                          "ORDER BY 1, 2",
                      fleet_wide)) {
    out.push_back(absl::StrCat(row[0].as<std::string>(), ": foreign key ", row[1].as<std::string>(),
                               " points into store-scoped table ", row[2].as<std::string>(),
                               " from a table without store_id"));
  }
  return out;
}

class SchemaRuleTest : public MigratedDatabaseTest {};

TEST_F(SchemaRuleTest, EveryKeyOfAStoreScopedTableIncludesStoreId) {
  if (HasFatalFailure()) return;
  EXPECT_THAT(Violations(url_), IsEmpty());
  // The rule has something to check: the store-scoped tables are most of the schema.
  EXPECT_GE(Scalar("SELECT count(DISTINCT attrelid) FROM pg_attribute a "
                   "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n "
                   "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
                   "AND a.attname = 'store_id'"),
            10);
}

TEST_F(SchemaRuleTest, AMigrationThatBreaksTheRuleIsNamed) {
  if (HasFatalFailure()) return;
  // What a careless migration could add: each kind of break once.
  Exec(
      "CREATE TABLE widgets (id bigint PRIMARY KEY, store_id text NOT NULL "
      "  REFERENCES stores (store_id), label text)");
  Exec("CREATE UNIQUE INDEX sync_runs_by_error ON sync_runs (error) WHERE error <> ''");
  Exec(
      "CREATE TABLE run_notes (store_id text NOT NULL, run_id text NOT NULL, "
      "  PRIMARY KEY (store_id, run_id), "
      "  CONSTRAINT run_notes_run FOREIGN KEY (run_id, store_id) "
      "    REFERENCES sync_runs (store_id, run_id))");
  Exec("CREATE TABLE fleet_labels (label text PRIMARY KEY, store_id text)");
  Exec("ALTER TABLE fleet_labels DROP COLUMN store_id");
  Exec("ALTER TABLE fleet_labels ADD COLUMN owner text REFERENCES stores (store_id)");
  EXPECT_THAT(
      Violations(url_),
      UnorderedElementsAre(
          "widgets: primary key widgets_pkey lacks store_id "
          "(CREATE UNIQUE INDEX widgets_pkey ON public.widgets USING btree (id))",
          "sync_runs: unique index sync_runs_by_error lacks store_id (CREATE UNIQUE INDEX "
          "sync_runs_by_error ON public.sync_runs USING btree (error) WHERE (error <> ''::text))",
          // Crossed columns: run_id against store_id; store_id is in it but not paired.
          "run_notes: foreign key run_notes_run to sync_runs does not join on store_id "
          "(FOREIGN KEY (run_id, store_id) REFERENCES sync_runs(store_id, run_id))",
          "fleet_labels: foreign key fleet_labels_owner_fkey points into store-scoped table "
          "stores from a table without store_id"));
}

}  // namespace
}  // namespace autosync::testing
