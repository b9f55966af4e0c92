// A plain `/ws` client session: text frames {"event":…,"data":…} in and out. Client events
// selectStore and triggerManualSync (carried out by HandleClientCommand, client_commands.h);
// server events autoSyncProgress, syncStatus, plus `triggerResult` (the answer to a trigger) and
// `error` (what was wrong with a frame).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ws-gateway/client_commands.h"
#include "ws-gateway/client_context.h"

namespace autosync::gateway {

// Lifetime: owned by its connection (shared_ptr), referenced weakly by the hub.
class PlainWsClient final : public WsHandler,
                            public HubClient,
                            public CommandClient,
                            public std::enable_shared_from_this<PlainWsClient> {
 public:
  // `claims` were checked at the upgrade; `client_key` identifies the client for rate limits;
  // `client_address` is what the audit trail records (ClientAddressOf in routes.h).
  PlainWsClient(ClientContext& context, JwtClaims claims, std::string client_key,
                std::string client_address = "");

  void OnOpen(std::weak_ptr<WsSink> sink) override;
  void OnText(absl::string_view text) override;
  void OnBinary(absl::string_view bytes) override;
  void OnClosed() override;
  void Deliver(const EncodedEvent& event) override;

  CommandCaller Caller() override;
  std::string SelectedStore() override;
  void SelectStore(const std::string& store) override;

 private:
  void SendEvent(absl::string_view name, absl::string_view data_json);
  void ProtocolError(absl::string_view message);

  // Deliver's fields first, next to the object's start: the broadcast loop reads them for every
  // recipient, cache-cold at 10k clients.
  absl::Mutex mu_;
  std::weak_ptr<WsSink> sink_ ABSL_GUARDED_BY(mu_);
  ClientContext& context_;
  const JwtClaims claims_;
  const std::string client_key_;
  const std::string client_address_;
  const uint64_t hub_id_;
  std::string store_ ABSL_GUARDED_BY(mu_);
  int errors_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace autosync::gateway
