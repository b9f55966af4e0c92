#include "scheduler-service/event_relay.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "common/ids.h"
#include "common/log.h"

namespace autosync::scheduler {
namespace {

using autosync::v1::SyncProgress;
using autosync::v1::WatchEvent;

// Skip events and status publishes after a boundary (each a few queries).
constexpr int kAnnounceThreads = 2;

WatchEvent ProgressEvent(const SyncProgress& progress) {
  WatchEvent event;
  event.set_store_id(progress.store_id());
  *event.mutable_progress() = progress;
  return event;
}

}  // namespace

EventRelay::EventRelay(EventChannel& channel, std::string database_url,
                       common::ThreadPool& rpc_pool, StatusFn status, ReloadFn reload)
    : channel_(channel),
      rpc_pool_(rpc_pool),
      status_(std::move(status)),
      reload_(std::move(reload)),
      announce_pool_(kAnnounceThreads, 0),
      listener_(
          std::move(database_url), {kEventsChannel, kStoresChannel},
          [this](const std::string& ch, const std::string& payload) {
            OnNotification(ch, payload);
          },
          [this] { OnReconnect(); }) {}

void EventRelay::Start() {
  listener_.Start();
  listener_.WaitListening(absl::Seconds(5));
}

void EventRelay::StopAnnouncing() { announce_pool_.Stop(); }

void EventRelay::Stop() { listener_.Stop(); }

void EventRelay::OnReconnect() {
  for (const std::string& id : hub_.WatchedStores()) {
    rpc_pool_.Submit([this, id] {
      absl::StatusOr<autosync::v1::SyncStatus> st = status_(id);
      if (!st.ok()) {
        common::LogDebug("watcher not refreshed after a reconnect",
                         {{"store", id}, {"error", st.status().message()}});
        return;
      }
      WatchEvent event;
      event.set_store_id(id);
      *event.mutable_status() = *st;
      hub_.Deliver(event);
    });
  }
}

void EventRelay::AnnounceSkips(std::vector<SyncProgress> skips) {
  // A few hundred stores a task: the two announce threads share a large boundary.
  constexpr size_t kPerTask = 256;
  for (size_t begin = 0; begin < skips.size(); begin += kPerTask) {
    const size_t end = std::min(skips.size(), begin + kPerTask);
    std::vector<SyncProgress> part(
        std::make_move_iterator(skips.begin() + static_cast<ptrdiff_t>(begin)),
        std::make_move_iterator(skips.begin() + static_cast<ptrdiff_t>(end)));
    auto announce = [this, part = std::move(part)] {
      for (const SyncProgress& progress : part) {
        PublishProgress(progress);
        PublishStatus(progress.store_id());
      }
    };
    // Stopping: announced here (the pool no longer takes work).
    if (!announce_pool_.Submit(announce)) announce();
  }
}

void EventRelay::Publish(const WatchEvent& event) {
  // This replica's watchers get the event at once; other replicas' through NOTIFY, whose echo
  // here is dropped by its origin. PostgreSQL stays off the local path: when it is busy (an
  // ingest in flight) its two process hops made the tail of the end-to-end latency. While the
  // database is unreachable other replicas miss the event; their watchers' status is refreshed
  // when their listener reconnects.
  hub_.Deliver(event);
  std::optional<std::string> payload = EncodeEvent(event, origin_);
  if (!payload.has_value()) return;
  if (absl::Status s = channel_.Notify(kEventsChannel, *payload); !s.ok()) {
    common::LogDebug("event not relayed to other replicas", {{"error", s.message()}});
  }
}

void EventRelay::PublishProgress(const SyncProgress& progress) { Publish(ProgressEvent(progress)); }

void EventRelay::DeliverLocal(const SyncProgress& progress) {
  hub_.Deliver(ProgressEvent(progress));
}

void EventRelay::PublishStatus(const std::string& store_id) {
  absl::StatusOr<autosync::v1::SyncStatus> status = status_(store_id);
  if (!status.ok()) {
    // A deleted store has no status to show; anything else is retried by the next change.
    common::LogDebug("status not published",
                     {{"store", store_id}, {"error", status.status().message()}});
    return;
  }
  WatchEvent event;
  event.set_store_id(store_id);
  *event.mutable_status() = *std::move(status);
  Publish(event);
}

void EventRelay::OnNotification(const std::string& channel, const std::string& payload) {
  if (channel == kEventsChannel) {
    absl::StatusOr<RelayedEvent> relayed = DecodeEvent(payload);
    if (relayed.ok() && relayed->origin != origin_) hub_.Deliver(relayed->event);
    return;
  }
  if (channel == kStoresChannel && common::ValidateStoreId(payload).ok()) {
    rpc_pool_.Submit([this, payload] { reload_(payload); });
  }
}

}  // namespace autosync::scheduler
