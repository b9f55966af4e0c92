// The audit trail's SQL (migration 0015): the insert every audited write makes in its own
// transaction, and the keyset-paged read behind Scheduler.ListAudit.
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "common/pg_pool.h"
#include "scheduler-service/audit.h"
#include "scheduler-service/pg_sql.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/store_validation.h"

namespace autosync::scheduler {

namespace pg {

void InsertAudit(pqxx::transaction_base& tx, const AuditEntry* entry,
                 const std::string& extra_detail_json, absl::string_view action) {
  if (entry == nullptr) return;
  tx.exec_params(
      "INSERT INTO audit_log (actor, action, store_id, detail, source, actor_verified) "
      "VALUES ($1, $2, nullif($3, ''), $4::jsonb || $5::jsonb, $6, $7)",
      entry->actor, action.empty() ? entry->action : std::string(action), entry->store_id,
      entry->detail_json.empty() ? std::string("{}") : entry->detail_json, extra_detail_json,
      entry->source, entry->actor_verified);
}

}  // namespace pg

absl::StatusOr<std::vector<autosync::v1::AuditEntry>> PgRepository::ListAudit(
    const AuditQuery& query) {
  std::vector<autosync::v1::AuditEntry> out;
  absl::Status s = pool_.Run([&](pqxx::connection_base& c) {
    out.clear();
    pqxx::read_transaction tx(c);
    const pqxx::result r = tx.exec_params(
        "SELECT id, " AUTOSYNC_MICROS("at") ", actor, action, coalesce(store_id, ''), "
        "detail::text, source FROM audit_log "
        "WHERE ($1 = '' OR store_id = $1) AND ($2 = '' OR action = $2) "
        "AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
        query.store_id, query.action, query.before, query.limit);
    for (const auto& row : r) {
      autosync::v1::AuditEntry& e = out.emplace_back();
      e.set_id(row[0].as<int64_t>());
      ToProto(pg::TimeFrom(row[1]), e.mutable_at());
      e.set_actor(row[2].as<std::string>());
      e.set_action(row[3].as<std::string>());
      e.set_store_id(row[4].as<std::string>());
      e.set_detail_json(row[5].as<std::string>());
      e.set_source(row[6].as<std::string>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace autosync::scheduler
