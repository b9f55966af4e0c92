// Local fan-out of WatchStore events on one replica, and the wire form of an event relayed
// between replicas through PostgreSQL NOTIFY (base64 of the serialized WatchEvent, under the
// 8000-byte payload limit).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "autosync/v1/scheduler.pb.h"

namespace autosync::scheduler {

// NOTIFY payloads must stay below 8000 bytes.
inline constexpr size_t kMaxNotifyPayload = 7900;

// An event relayed between replicas, and the process that published it ("" when unknown).
struct RelayedEvent {
  autosync::v1::WatchEvent event;
  std::string origin;
};

// The publisher's token travels in the payload as an unknown field of the WatchEvent (this
// number is never used by the API): a replica that predates it parses the payload as before and
// ignores the field, so mixed versions keep relaying during a rolling upgrade.
inline constexpr int kOriginField = 9001;

// base64(WatchEvent + origin). A too-large event has its free-text fields (message, error, run
// errors) cut until it fits; nullopt when even that is not enough.
std::optional<std::string> EncodeEvent(const autosync::v1::WatchEvent& event,
                                       absl::string_view origin = "");
// INVALID_ARGUMENT for a payload that is not one (another program on our channel). The event
// comes back without the origin field.
absl::StatusOr<RelayedEvent> DecodeEvent(absl::string_view payload);

// One watcher of one store. Deliver must not block: it queues.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void Deliver(const std::shared_ptr<const autosync::v1::WatchEvent>& event) = 0;
};

// Thread-safe. Subscribers are held weakly: one that is gone is skipped and pruned.
class WatchHub final {
 public:
  void Add(const std::string& store_id, const std::shared_ptr<Subscriber>& subscriber);
  void Remove(const std::string& store_id, const Subscriber* subscriber);
  // Delivers to every subscriber of event.store_id (the list is snapshotted under the lock and
  // delivered outside it).
  void Deliver(const autosync::v1::WatchEvent& event);
  std::vector<std::string> WatchedStores() const;
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::weak_ptr<Subscriber>>> subscribers_
      ABSL_GUARDED_BY(mu_);
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace autosync::scheduler
