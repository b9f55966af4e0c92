#include "common/pg_pool.h"

#include <poll.h>

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pg_url.h"

namespace autosync::common {
namespace {

// libpq reads these for every connection; set once so URLs need not carry them.
std::string WithConnectOptions(const PgPoolOptions& options) {
  const bool uri = absl::StartsWith(options.url, "postgres://") ||
                   absl::StartsWith(options.url, "postgresql://");
  const std::string timeout =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options.connect_timeout)));
  std::string url = options.url;
  if (uri) {
    // A multi-host URI (host1:port1,host2:port2/db?target_session_attrs=read-write) is libpq's
    // own: only parameters are added, the host list is left as it is.
    if (!absl::StrContains(url, "connect_timeout=")) {
      absl::StrAppend(&url, absl::StrContains(url, "?") ? "&" : "?", "connect_timeout=", timeout);
    }
    if (!absl::StrContains(url, "application_name=")) {
      absl::StrAppend(&url, absl::StrContains(url, "?") ? "&" : "?",
                      "application_name=", options.application_name);
    }
  } else {
    if (!absl::StrContains(url, "connect_timeout=")) {
      absl::StrAppend(&url, " connect_timeout=", timeout);
    }
    if (!absl::StrContains(url, "application_name=")) {
      absl::StrAppend(&url, " application_name=", options.application_name);
    }
  }
  return url;
}

std::string OneLine(absl::string_view text) {
  std::string out(text);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

// An idle pooled connection has nothing to read: the server sends nothing unasked on it (no
// LISTEN). Readable, hung up or in error means the server closed it -- a restart or an
// administrator's termination sends a FATAL message and closes -- so it must not be handed out:
// the caller's query would fail on it although the database answers again.
bool ClosedByServer(const pqxx::connection_base& conn) {
  const int fd = conn.sock();
  if (fd < 0) return true;
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  return ::poll(&p, 1, 0) != 0;
}

constexpr char kReadOnlySqlTransaction[] = "25006";

}  // namespace

void PgConnectionDeleter::operator()(pqxx::connection_base* conn) const {
  // Every pooled connection is created as a pqxx::connection in Acquire().
  delete static_cast<pqxx::connection*>(conn);
}

absl::Status StatusFromPgException(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(absl::StrCat("database unavailable: ", OneLine(e.what())));
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(OneLine(e.what()));
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError(OneLine(e.what()));
  }
  if (dynamic_cast<const pqxx::check_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::not_null_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::foreign_key_violation*>(&e) != nullptr ||
      dynamic_cast<const pqxx::data_exception*>(&e) != nullptr) {
    return absl::InvalidArgumentError(OneLine(e.what()));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat("database connection lost during commit: ", OneLine(e.what())));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    // Class 57 (operator intervention: admin shutdown, cannot connect now) and 08 (connection).
    const std::string state = sql->sqlstate();
    // 25006 read_only_sql_transaction: this connection's server is no longer a writable primary
    // (demoted, or fenced read-only by pg_auto_failover while it promotes the standby). Like a
    // lost connection: the caller retries, and a new connection finds the primary
    // (target_session_attrs=read-write).
    if (state == kReadOnlySqlTransaction) {
      return absl::UnavailableError(
          absl::StrCat("database is read-only (no longer the primary): ", OneLine(e.what())));
    }
    if (absl::StartsWith(state, "57") || absl::StartsWith(state, "08")) {
      return absl::UnavailableError(absl::StrCat("database unavailable: ", OneLine(e.what())));
    }
    return absl::InternalError(absl::StrCat("database error ", state, ": ", OneLine(e.what())));
  }
  return absl::InternalError(OneLine(e.what()));
}

PgPool::PgPool(PgPoolOptions options) : options_(std::move(options)) {}
PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Create(PgPoolOptions options) {
  if (absl::Status s = ValidateDatabaseUrl(options.url); !s.ok()) return s;
  if (options.size < 1) return absl::InvalidArgumentError("pool size must be at least 1");
  options.url = WithConnectOptions(options);
  return std::unique_ptr<PgPool>(new PgPool(std::move(options)));
}

absl::StatusOr<PgConnectionPtr> PgPool::Acquire() {
  std::vector<PgConnectionPtr> closed;  // closed outside the lock
  {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || in_use_ < options_.size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&available), options_.acquire_timeout)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("all ", options_.size, " database connections stayed busy for ",
                       absl::FormatDuration(options_.acquire_timeout)));
    }
    ++in_use_;
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (!ClosedByServer(*conn)) return conn;
      closed.push_back(std::move(conn));
    }
  }
  try {
    return PgConnectionPtr(new pqxx::connection(options_.url));
  } catch (const std::exception& e) {
    absl::MutexLock lock(&mu_);
    --in_use_;
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", OneLine(e.what())));
  }
}

void PgPool::Release(PgConnectionPtr conn, bool broken) {
  std::vector<PgConnectionPtr> dropped;  // closed outside the lock
  absl::MutexLock lock(&mu_);
  --in_use_;
  if (!broken && conn != nullptr && conn->is_open()) {
    idle_.push_back(std::move(conn));
    return;
  }
  // What broke this connection (a server restart, a network cut) most likely broke the idle
  // ones too: drop them all, so the next callers connect afresh instead of each failing once.
  if (broken) dropped.swap(idle_);
  dropped.push_back(std::move(conn));
}

absl::Status PgPool::Run(absl::FunctionRef<absl::Status(pqxx::connection_base&)> fn) {
  absl::StatusOr<PgConnectionPtr> conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status result;
  bool broken = false;
  try {
    result = fn(**conn);
  } catch (const std::exception& e) {
    result = StatusFromPgException(e);
    broken = result.code() == absl::StatusCode::kUnavailable || !(*conn)->is_open();
  }
  Release(std::move(*conn), broken);
  return result;
}

absl::Status PgPool::Warm(int n, absl::FunctionRef<absl::Status(pqxx::connection_base&)> fn) {
  std::vector<PgConnectionPtr> taken;
  absl::Status first;
  for (int i = 0; i < std::min(n, options_.size); ++i) {
    absl::StatusOr<PgConnectionPtr> conn = Acquire();
    if (!conn.ok()) {
      first = conn.status();
      break;
    }
    taken.push_back(*std::move(conn));
  }
  for (PgConnectionPtr& conn : taken) {
    absl::Status result;
    bool broken = false;
    try {
      result = fn(*conn);
    } catch (const std::exception& e) {
      result = StatusFromPgException(e);
      broken = result.code() == absl::StatusCode::kUnavailable || !conn->is_open();
    }
    if (first.ok()) first = result;
    Release(std::move(conn), broken);
  }
  return first;
}

absl::Status PgPool::Ping() {
  return Run([](pqxx::connection_base& c) {
    pqxx::nontransaction tx(c);
    // A server that answers but takes no writes (a standby, or a primary fenced read-only during
    // a failover) is not ready: every service writes. Thrown as a lost connection so that Run()
    // drops this connection and the next one looks for the primary again.
    const pqxx::result r =
        tx.exec("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool");
    if (r[0][0].as<bool>()) {
      throw pqxx::broken_connection("the server is read-only (not a primary)");
    }
    return absl::OkStatus();
  });
}

absl::Status WaitForDatabase(PgPool& pool, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status = pool.Ping();
  absl::Time next_log = absl::Now();
  bool waited = false;
  while (!status.ok() && absl::Now() < deadline) {
    // Says why it waits: with a multi-host URL whose hosts are all standbys (a failover under
    // way), libpq's error names each host and "session is read-only".
    if (absl::Now() >= next_log) {
      LogWarn("waiting for a writable PostgreSQL primary (--database_url)",
              {{"error", status.message()}});
      next_log = absl::Now() + absl::Seconds(10);
      waited = true;
    }
    // Not a readiness guess: each attempt is a real connection; this only paces the retries.
    absl::SleepFor(absl::Milliseconds(500));
    status = pool.Ping();
  }
  if (status.ok() && waited) LogInfo("the database answers");
  return status;
}

std::unique_ptr<PgPool> OpenDatabaseAtStartup(absl::string_view program, PgPoolOptions options,
                                              absl::Duration startup_timeout) {
  const std::string url = options.url;
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Create(std::move(options));
  if (!pool.ok()) ExitWithConfigError(program, pool.status().message());
  if (absl::Status s = WaitForDatabase(**pool, startup_timeout); !s.ok()) {
    LogError("cannot reach the database (--database_url)",
             {{"error", s.message()}, {"database", RedactDatabaseUrl(url)}});
    return nullptr;
  }
  return *std::move(pool);
}

}  // namespace autosync::common
