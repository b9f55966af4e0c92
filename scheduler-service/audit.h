// The audit trail (README "Audit trail", table audit_log of migration 0015): what one change
// made through the Scheduler API records, who made it, and the structured log line
// (`event=audit`) that goes with the row. The row is written by the repository in the
// transaction of the change (pg_audit.cc); a change that fails or rolls back records nothing.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace autosync::scheduler {

// Actions, as stored in audit_log.action.
inline constexpr absl::string_view kAuditStoreCreate = "store.create";
inline constexpr absl::string_view kAuditStoreReplace = "store.replace";
inline constexpr absl::string_view kAuditStoreDelete = "store.delete";
inline constexpr absl::string_view kAuditStorePause = "store.pause";
inline constexpr absl::string_view kAuditStoreResume = "store.resume";
inline constexpr absl::string_view kAuditSyncTrigger = "sync.trigger";
inline constexpr absl::string_view kAuditSyncResync = "sync.resync";
inline constexpr absl::string_view kAuditSyncBackfill = "sync.backfill";
inline constexpr absl::string_view kAuditFxImport = "fx_rates.import";

struct AuditEntry {
  std::string actor;     // "alice" (through a gateway), "grpc:<identity>", "grpc:anonymous"
  std::string action;    // one of the kAudit* names (UpsertStore: create or replace, decided by
                         // the repository from what the write did)
  std::string store_id;  // empty: none
  std::string detail_json = "{}";  // a JSON object; the repository adds what the write learnt
  std::string source;              // the client's address / the gRPC peer
  bool actor_verified = false;     // vouched for by an authenticated (TLS) gateway peer
};

// One log line: msg "audit" with event=audit, actor, action, store, source and detail.
void LogAudit(const AuditEntry& entry);

// Adds a string member to the JSON object `*json` ("{}" or "{…}").
void AddAuditDetail(std::string* json, absl::string_view name, const std::string& value);

// A JSON object of string members, escaped: {"note":"…"}.
std::string AuditDetail(std::initializer_list<std::pair<absl::string_view, std::string>> members);

}  // namespace autosync::scheduler
