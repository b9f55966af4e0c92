// The gateway's connection to the scheduler-service: one channel, reused stubs, a deadline on
// every unary call, and WatchStore streams as callback reactors. An interface so tests and the
// hub can use a fake. Thread-safe.
#pragma once

#include <grpcpp/security/credentials.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.pb.h"

namespace autosync::gateway {

// One open WatchStore stream. Cancel() asks it to end; its `on_done` still runs exactly once.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual void Cancel() = 0;
};

struct WatchCallbacks {
  // Called for every event, in order, on a gRPC thread; must not block.
  std::function<void(const autosync::v1::WatchEvent&)> on_event;
  // Called once when the stream has ended (OK, cancelled or broken), after the last on_event.
  std::function<void(const absl::Status&)> on_done;
};

// The gRPC metadata naming the person behind a call, for the scheduler's audit trail.
inline constexpr char kActorMetadata[] = "x-autosync-actor";
inline constexpr char kClientAddressMetadata[] = "x-autosync-client-address";

// On whose behalf this thread calls the scheduler: the token's `sub` and the client's address
// ("peer=<tcp peer>", plus " x-forwarded-for=<value>" when the request had one). Every unary call
// made on this thread while a ScopedCaller lives sends them as kActorMetadata /
// kClientAddressMetadata. The router and the sessions set one around each request or event
// (they call the scheduler synchronously on one thread). Nests; not shared across threads.
struct Caller {
  std::string actor;
  std::string client_address;
};
class ScopedCaller final {
 public:
  explicit ScopedCaller(Caller caller);
  ~ScopedCaller();
  ScopedCaller(const ScopedCaller&) = delete;
  ScopedCaller& operator=(const ScopedCaller&) = delete;
  // The innermost caller of this thread, or nullptr.
  static const Caller* Current();

 private:
  Caller caller_;
  const Caller* previous_;
};

class SchedulerClient {
 public:
  virtual ~SchedulerClient() = default;
  // grpc.health.v1 Check of the scheduler; OK when SERVING, UNAVAILABLE with the reason otherwise.
  virtual absl::Status CheckHealth() = 0;

  // Blocking unary calls, each bounded by the client's deadline. Errors keep the gRPC code.
  virtual absl::StatusOr<autosync::v1::TriggerSyncResponse> TriggerSync(
      const autosync::v1::TriggerSyncRequest& request) = 0;
  virtual absl::StatusOr<autosync::v1::GetSyncStatusResponse> GetSyncStatus(
      const std::string& store_id) = 0;
  virtual absl::StatusOr<autosync::v1::ListStoresResponse> ListStores(
      const autosync::v1::ListStoresRequest& request) = 0;
  virtual absl::StatusOr<autosync::v1::GetLtvCohortsResponse> GetLtvCohorts(
      const std::string& store_id) = 0;
  virtual absl::StatusOr<autosync::v1::ListRunsResponse> ListRuns(
      const autosync::v1::ListRunsRequest& request) = 0;
  virtual absl::StatusOr<autosync::v1::ListQuarantineResponse> ListQuarantine(
      const autosync::v1::ListQuarantineRequest& request) = 0;
  // Store management (the HTTP routes of docs/STORES-HTTP.md).
  virtual absl::StatusOr<autosync::v1::UpsertStoreResponse> UpsertStore(
      const autosync::v1::UpsertStoreRequest& request) = 0;
  virtual absl::StatusOr<autosync::v1::Store> GetStore(const std::string& store_id) = 0;
  virtual absl::Status DeleteStore(const std::string& store_id) = 0;
  virtual absl::StatusOr<autosync::v1::Store> PauseStore(
      const autosync::v1::PauseStoreRequest& request) = 0;
  virtual absl::StatusOr<autosync::v1::Store> ResumeStore(const std::string& store_id) = 0;
  virtual absl::StatusOr<autosync::v1::PreviewScheduleResponse> PreviewSchedule(
      const autosync::v1::PreviewScheduleRequest& request) = 0;
  // The audit trail (GET /api/audit).
  virtual absl::StatusOr<autosync::v1::ListAuditResponse> ListAudit(
      const autosync::v1::ListAuditRequest& request) = 0;

  // Non-blocking; `done` runs on a gRPC thread when the call ends (deadline bounded).
  virtual void ReportConnections(const autosync::v1::ReportConnectionsRequest& request,
                                 std::function<void(absl::Status)> done) = 0;

  // Opens a WatchStore stream (no deadline: it lives as long as local clients watch).
  virtual std::shared_ptr<WatchStream> Watch(const std::string& store_id,
                                             const std::string& watcher_id,
                                             WatchCallbacks callbacks) = 0;
};

// `credentials`: mTLS or plaintext (common::GrpcSecurity::ChannelCredentials).
std::unique_ptr<SchedulerClient> MakeGrpcSchedulerClient(
    const std::string& target, absl::Duration timeout,
    std::shared_ptr<grpc::ChannelCredentials> credentials);

}  // namespace autosync::gateway
