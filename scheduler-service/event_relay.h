// EventRelay: the scheduler's events to every watcher of every replica. A progress or status
// event is delivered to this replica's watchers at once (WatchHub) and sent to the other replicas
// with NOTIFY on kEventsChannel; the LISTEN side (PgListener) delivers the other replicas' events
// here (this replica's own echo is dropped by its origin token) and reloads a store's schedule on
// kStoresChannel. Skips of a boundary are announced (an event and a status each) on two announce
// threads; after a listener reconnect every local watcher gets its store's status again.
//
// Threads: callable from any thread; the listener has its own thread, announces run on the
// announce pool, reconnect refreshes and schedule reloads on the caller's rpc pool. Lifetime:
// `channel`, `rpc_pool` and the callbacks' targets must outlive the relay; StopAnnouncing() and
// Stop() before destruction.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "autosync/v1/scheduler.pb.h"
#include "common/ids.h"
#include "common/thread_pool.h"
#include "scheduler-service/pg_listener.h"
#include "scheduler-service/repository.h"
#include "scheduler-service/watch_hub.h"

namespace autosync::scheduler {

class EventRelay final {
 public:
  // The store's current status (StoreRegistry::Status).
  using StatusFn = std::function<absl::StatusOr<autosync::v1::SyncStatus>(const std::string&)>;
  // Reloads one store's schedule after another replica changed it.
  using ReloadFn = std::function<void(const std::string&)>;

  EventRelay(EventChannel& channel, std::string database_url, common::ThreadPool& rpc_pool,
             StatusFn status, ReloadFn reload);

  // Starts listening and waits (a few seconds at most) until the LISTEN is in place.
  void Start();
  // Stops the announce threads (an announce then runs on its caller).
  void StopAnnouncing();
  // Stops the listener. Idempotent.
  void Stop();

  WatchHub& hub() { return hub_; }

  // Publishes to every replica's watchers (local delivery first; NOTIFY for the others).
  void PublishProgress(const autosync::v1::SyncProgress& progress);
  // The store's current status, published; nothing when it cannot be read.
  void PublishStatus(const std::string& store_id);
  // This replica's watchers only.
  void DeliverLocal(const autosync::v1::SyncProgress& progress);
  std::vector<std::string> WatchedStores() { return hub_.WatchedStores(); }
  // Each skip's event and the store's status, a few hundred stores per announce task.
  void AnnounceSkips(std::vector<autosync::v1::SyncProgress> skips);

 private:
  void Publish(const autosync::v1::WatchEvent& event);
  void OnNotification(const std::string& channel, const std::string& payload);
  // Notifications were missed while disconnected: every local watcher's status again.
  void OnReconnect();

  EventChannel& channel_;
  common::ThreadPool& rpc_pool_;
  const StatusFn status_;
  const ReloadFn reload_;
  // This process's token on the events it NOTIFYs, so that their echo is not delivered twice.
  const std::string origin_ = common::NewRunId();
  WatchHub hub_;
  common::ThreadPool announce_pool_;
  PgListener listener_;
};

}  // namespace autosync::scheduler
