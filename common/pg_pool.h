// A small pool of PostgreSQL connections (libpqxx) with reconnect: a connection found broken is
// dropped and a new one is opened on the next use. Only pg_*.cc files include <pqxx/pqxx>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pqxx {
class connection_base;
}

namespace autosync::common {

struct PgPoolOptions {
  // libpq connection string or URI; a multi-host URI with target_session_attrs=read-write
  // (postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write) connects to whichever
  // host is the primary, so a failover is a reconnect.
  std::string url = {};
  int size = 4;
  absl::Duration acquire_timeout = absl::Seconds(10);
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string application_name = "autosync";
};

// Deletes a pooled connection through its concrete type (pqxx::connection_base has no virtual
// destructor).
struct PgConnectionDeleter {
  void operator()(pqxx::connection_base* conn) const;
};
using PgConnectionPtr = std::unique_ptr<pqxx::connection_base, PgConnectionDeleter>;

// Thread-safe. Connections are opened lazily; Create() only validates the options.
class PgPool final {
 public:
  static absl::StatusOr<std::unique_ptr<PgPool>> Create(PgPoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs `fn` on a pooled connection. libpqxx exceptions thrown by `fn` become a Status
  // (broken connection → UNAVAILABLE, unique violation → ALREADY_EXISTS, serialization failure
  // or deadlock → ABORTED, check/not-null violation → INVALID_ARGUMENT, a write refused by a
  // read-only server (SQLSTATE 25006: a demoted primary) → UNAVAILABLE, else INTERNAL); an
  // UNAVAILABLE connection is discarded, with the idle ones. Waiting longer than acquire_timeout
  // for a free connection is RESOURCE_EXHAUSTED; failing to connect is UNAVAILABLE.
  absl::Status Run(absl::FunctionRef<absl::Status(pqxx::connection_base&)> fn);

  // One query on a pooled connection: OK when the server answers and takes writes. A standby or
  // a read-only primary is UNAVAILABLE, like a lost connection (and that connection is dropped).
  absl::Status Ping();

  // Takes `n` connections at once (opening what is missing, at most the pool's size), runs `fn`
  // on each and returns them to the pool: for a burst that wants several connections ready at
  // the same moment (opened, statements prepared, catalog caches loaded) rather than opening
  // and warming them inside the burst. The first error of `fn` (or of connecting) is returned;
  // the connections taken go back to the pool either way, unless broken.
  absl::Status Warm(int n, absl::FunctionRef<absl::Status(pqxx::connection_base&)> fn);

  const PgPoolOptions& options() const { return options_; }

 private:
  explicit PgPool(PgPoolOptions options);
  absl::StatusOr<PgConnectionPtr> Acquire();
  void Release(PgConnectionPtr conn, bool broken);

  const PgPoolOptions options_;
  absl::Mutex mu_;
  std::vector<PgConnectionPtr> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

// Maps an exception thrown by libpqxx (or anything else) to a Status, as Run() does.
absl::Status StatusFromPgException(const std::exception& e);

// Pings the database until it answers or `timeout` passes (retrying every 0.5 s: PostgreSQL
// often starts after us in a fresh cluster; a writable one: a standby is not enough). Logs
// why it waits, every 10 s. Returns the last error on timeout. Blocks; call it at start-up.
absl::Status WaitForDatabase(PgPool& pool, absl::Duration timeout);

// A service's database at start-up, as the scheduler and the worker open it: the pool (an
// invalid URL stops the process with the config-error line naming --database_url, exit 2), then
// WaitForDatabase. nullptr, with the reason logged (URL redacted), when the database did not
// answer within `startup_timeout`: the caller exits 1. Blocks.
std::unique_ptr<PgPool> OpenDatabaseAtStartup(absl::string_view program, PgPoolOptions options,
                                              absl::Duration startup_timeout);

}  // namespace autosync::common
