#include "scheduler-service/pg_listener.h"

#include <memory>
#include <pqxx/pqxx>

#include "common/log.h"

namespace autosync::scheduler {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, const std::string& channel,
           const PgListener::Handler& handler)
      : pqxx::notification_receiver(conn, channel), handler_(handler) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    handler_(channel(), payload);
  }

 private:
  const PgListener::Handler& handler_;
};

}  // namespace

PgListener::PgListener(std::string database_url, std::vector<std::string> channels,
                       Handler on_notify, std::function<void()> on_reconnect)
    : url_(std::move(database_url)),
      channels_(std::move(channels)),
      on_notify_(std::move(on_notify)),
      on_reconnect_(std::move(on_reconnect)) {}

PgListener::~PgListener() { Stop(); }

void PgListener::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PgListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool PgListener::WaitListening(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return listening_ || stopping_; };
  return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout) && listening_;
}

void PgListener::Loop() {
  absl::Duration backoff = absl::Milliseconds(250);
  bool connected_before = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    try {
      pqxx::connection conn(url_);
      std::vector<std::unique_ptr<Receiver>> receivers;
      for (const std::string& channel : channels_) {
        receivers.push_back(std::make_unique<Receiver>(conn, channel, on_notify_));
      }
      // The LISTENs are issued lazily by libpqxx; a query makes sure they are in place.
      {
        pqxx::nontransaction tx(conn);
        tx.exec("SELECT 1");
      }
      {
        absl::MutexLock lock(&mu_);
        listening_ = true;
      }
      if (connected_before) {
        common::LogInfo("event relay reconnected to the database");
        on_reconnect_();
      }
      connected_before = true;
      backoff = absl::Milliseconds(250);
      while (true) {
        {
          absl::MutexLock lock(&mu_);
          if (stopping_) return;
        }
        // Wakes at least every 200 ms to notice Stop().
        conn.await_notification(0, 200'000);
      }
    } catch (const std::exception& e) {
      common::LogWarn("event relay lost its database connection; reconnecting",
                      {{"error", e.what()}});
    }
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

}  // namespace autosync::scheduler
