#include "scheduler-service/audit.h"

#include "common/log.h"

namespace autosync::scheduler {

void LogAudit(const AuditEntry& entry) {
  common::LogInfo("audit", {{"event", "audit"},
                            {"actor", entry.actor},
                            {"action", entry.action},
                            {"store", entry.store_id},
                            {"source", entry.source},
                            {"actor_verified", entry.actor_verified ? "true" : "false"},
                            {"detail", entry.detail_json}});
}

void AddAuditDetail(std::string* json, absl::string_view name, const std::string& value) {
  if (json->size() < 2 || json->back() != '}') *json = "{}";
  json->pop_back();
  if (json->size() > 1) *json += ",";
  *json += AuditDetail({{name, value}}).substr(1);
}

std::string AuditDetail(std::initializer_list<std::pair<absl::string_view, std::string>> members) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : members) {
    if (!first) out += ",";
    first = false;
    out += "\"";
    common::AppendJsonEscaped(out, name);
    out += "\":\"";
    common::AppendJsonEscaped(out, value);
    out += "\"";
  }
  out += "}";
  return out;
}

}  // namespace autosync::scheduler
