// Test support: a gtest fixture with a fresh, migrated database in the throw-away cluster, a
// pool on it, and one-statement helpers to arrange and check rows with plain SQL.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/pg_pool.h"
#include "gtest/gtest.h"

namespace autosync::testing {

class MigratedDatabaseTest : public ::testing::Test {
 protected:
  explicit MigratedDatabaseTest(int pool_size = 2) : pool_size_(pool_size) {}

  // A fresh database with every migration applied, and pool_ on it. Derived fixtures call it
  // first and return if it failed (HasFatalFailure()).
  void SetUp() override;

  // One statement (or several separated by ';') in its own committed transaction.
  void Exec(const std::string& sql);
  // The first column of the first row, as an integer.
  int64_t Scalar(const std::string& sql);

  std::string url_;
  std::unique_ptr<common::PgPool> pool_;

 private:
  const int pool_size_;
};

}  // namespace autosync::testing
