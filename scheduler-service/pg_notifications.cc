// PgRepository: the SQL of store notifications (notifier.h, migration 0012).
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/pg_pool.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/repository.h"

namespace autosync::scheduler {

#define MICROS(col) AUTOSYNC_MICROS(col)

absl::StatusOr<std::vector<NotifyStore>> PgRepository::LoadNotifyStores() {
  std::vector<NotifyStore> out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec(
             "SELECT store_id, " MICROS("created_at") " FROM stores "
                                                      "WHERE enabled AND notify_webhook_url <> '' "
                                                      "ORDER BY store_id")) {
      out.push_back({row[0].as<std::string>(), pg::TimeFrom(row[1])});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<NotifyTarget>> PgRepository::LoadNotifyTarget(
    absl::string_view store_id) {
  std::optional<NotifyTarget> out;
  absl::Status s = pool_
                       .Run([&](pqxx::connection_base& c) {
                         pqxx::read_transaction tx(c);
                         const pqxx::result r = tx.exec_params(
        "SELECT s.notify_webhook_url, s.notify_secret_ref, " MICROS(
            "(SELECT max(r.finished_at) FROM sync_runs r WHERE r.store_id = s.store_id "
            "AND r.status = 'completed')") " FROM stores s WHERE s.store_id = $1",
        std::string(store_id));
                         if (r.empty()) return absl::OkStatus();
                         NotifyTarget t;
                         t.webhook_url = r[0][0].as<std::string>();
                         t.secret_ref = r[0][1].as<std::string>();
                         if (!r[0][2].is_null()) t.last_success = pg::TimeFrom(r[0][2]);
                         out = std::move(t);
                         return absl::OkStatus();
                       });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<NotifyClaim> PgRepository::ClaimNotification(absl::string_view store_id,
                                                            absl::string_view condition) {
  NotifyClaim out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    const std::string id(store_id);
    const std::string cond(condition);
    // One statement decides: a replica racing this one waits on the row's index entry, then
    // sees the fresh last_sent_at and updates nothing.
    out.won = !tx.exec_params(
                     "INSERT INTO store_notifications AS n (store_id, condition, last_sent_at, "
                     "last_outcome) VALUES ($1, $2, now(), 'sending') "
                     "ON CONFLICT (store_id, condition) DO UPDATE SET last_sent_at = now(), "
                     "last_outcome = 'sending' "
                     "WHERE n.last_sent_at <= now() - interval '1 hour' RETURNING 1",
                     id, cond)
                   .empty();
    const pqxx::result left = tx.exec_params(
        "SELECT (extract(epoch FROM last_sent_at + interval '1 hour' - now()) * 1000000)::bigint "
        "FROM store_notifications WHERE store_id = $1 AND condition = $2",
        id, cond);
    out.next_after =
        left.empty() ? absl::Hours(1)
                     : std::max(absl::ZeroDuration(), absl::Microseconds(left[0][0].as<int64_t>()));
    tx.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgRepository::RecordNotificationOutcome(absl::string_view store_id,
                                                     absl::string_view condition,
                                                     absl::string_view outcome) {
  return pool_.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE store_notifications SET last_outcome = $3 WHERE store_id = $1 AND condition = $2",
        std::string(store_id), std::string(condition), std::string(outcome));
    tx.commit();
    return absl::OkStatus();
  });
}

}  // namespace autosync::scheduler
