#include "ws-gateway/hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "ws-gateway/codec/ws_message.h"
#include "ws-gateway/sv.h"

namespace autosync::gateway {
namespace v1 = autosync::v1;
namespace {

// Hands `event` to the recipients collected under the hub's lock (Deliver runs outside it: a
// client may call back into the hub). At 10k clients this loop is the fan-out's hot path and
// every client is cache-cold by the time it comes round: the next few clients are prefetched
// while one is delivered to, and each reference is dropped right after its delivery, while the
// control block is still in cache, instead of in a third pass when the vector goes.
void DeliverAll(std::vector<std::shared_ptr<HubClient>>& recipients, const EncodedEvent& event) {
  constexpr size_t kPrefetchAhead = 4;
  const size_t n = recipients.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) __builtin_prefetch(recipients[i + kPrefetchAhead].get());
    recipients[i]->Deliver(event);
    recipients[i].reset();
  }
}

}  // namespace

Hub::Hub(SchedulerClient& scheduler, Timers& timers, GatewayMetrics* metrics, HubOptions options)
    : scheduler_(scheduler), timers_(timers), metrics_(metrics), options_(std::move(options)) {}

Hub::~Hub() { Shutdown(); }

void Hub::Start() {
  timers_.After(options_.report_period, [this] { PeriodicReport(); });
}

void Hub::Shutdown() {
  std::vector<std::shared_ptr<WatchStream>> to_cancel;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_ && open_streams_ == 0) return;
    shutting_down_ = true;
    for (auto& [store, state] : stores_) {
      if (state.stream) to_cancel.push_back(std::move(state.stream));
      ++state.generation;  // ignore what the cancelled streams still say
    }
    stores_.clear();
    client_store_.clear();
  }
  for (auto& stream : to_cancel) stream->Cancel();
  absl::MutexLock lock(&mu_);
  // Streams end promptly once cancelled; the bound only guards against a wedged channel.
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](int* open) { return *open == 0; }, &open_streams_),
                       absl::Seconds(5));
}

uint64_t Hub::NewClientId() {
  absl::MutexLock lock(&mu_);
  return next_client_id_++;
}

void Hub::Select(uint64_t client_id, std::weak_ptr<HubClient> client, const std::string& store_id) {
  std::vector<std::shared_ptr<WatchStream>> to_cancel;
  std::shared_ptr<const EncodedEvent> status;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    auto current = client_store_.find(client_id);
    if (current == client_store_.end() || current->second != store_id) {
      LeaveLocked(client_id, to_cancel);
    }
    StoreState& state = stores_[store_id];
    state.clients[client_id] = client;
    client_store_[client_id] = store_id;
    if (!state.stream && !state.reopen_scheduled) OpenStreamLocked(store_id, state);
    status = state.last_status;
    ScheduleReportLocked();
  }
  for (auto& stream : to_cancel) stream->Cancel();
  if (status) {
    if (auto c = client.lock()) c->Deliver(*status);
  }
}

void Hub::Remove(uint64_t client_id) {
  std::vector<std::shared_ptr<WatchStream>> to_cancel;
  {
    absl::MutexLock lock(&mu_);
    if (!client_store_.contains(client_id)) return;
    LeaveLocked(client_id, to_cancel);
    ScheduleReportLocked();
  }
  for (auto& stream : to_cancel) stream->Cancel();
}

void Hub::LeaveLocked(uint64_t client_id, std::vector<std::shared_ptr<WatchStream>>& to_cancel) {
  auto it = client_store_.find(client_id);
  if (it == client_store_.end()) return;
  auto store_it = stores_.find(it->second);
  client_store_.erase(it);
  if (store_it == stores_.end()) return;
  StoreState& state = store_it->second;
  state.clients.erase(client_id);
  if (!state.clients.empty()) return;
  // The last client left: nobody needs the upstream any more.
  if (state.stream) to_cancel.push_back(std::move(state.stream));
  stores_.erase(store_it);
}

void Hub::OpenStreamLocked(const std::string& store_id, StoreState& state) {
  const uint64_t generation = next_generation_++;
  state.generation = generation;
  ++open_streams_;
  if (metrics_ != nullptr) metrics_->upstream_streams().Increment();
  WatchCallbacks callbacks;
  callbacks.on_event = [this, store_id, generation](const v1::WatchEvent& event) {
    OnEvent(store_id, generation, event);
  };
  callbacks.on_done = [this, store_id, generation](const absl::Status& status) {
    OnDone(store_id, generation, status);
  };
  // Watch may call on_done inline on some failures: never hold a reference into stores_ across
  // it, and let on_done take the lock only after we release it (it is the same thread, so the
  // callbacks below must not assume mu_ is free). The gRPC client never calls back inline.
  state.stream = scheduler_.Watch(store_id, options_.gateway_id, std::move(callbacks));
}

void Hub::OnEvent(const std::string& store_id, uint64_t generation, const v1::WatchEvent& event) {
  if (metrics_ != nullptr) metrics_->upstream_events().Increment();
  // Encode outside the lock: once per event, shared by every recipient.
  std::shared_ptr<const EncodedEvent> encoded;
  const bool is_status = event.has_status();
  if (is_status) {
    encoded = std::make_shared<const EncodedEvent>(
        EncodeForClients(kStatusEvent, StatusEventData(store_id, event.status())));
  } else if (event.has_progress()) {
    v1::SyncProgress progress = event.progress();
    if (progress.store_id().empty()) progress.set_store_id(store_id);
    encoded = std::make_shared<const EncodedEvent>(
        EncodeForClients(kProgressEvent, ProgressEventData(progress)));
  } else {
    return;
  }
  std::vector<std::shared_ptr<HubClient>> recipients;
  {
    absl::MutexLock lock(&mu_);
    auto it = stores_.find(store_id);
    if (it == stores_.end() || it->second.generation != generation) return;
    StoreState& state = it->second;
    state.failures = 0;
    if (is_status) state.last_status = encoded;
    recipients.reserve(state.clients.size());
    for (auto& [id, weak] : state.clients) {
      if (auto client = weak.lock()) recipients.push_back(std::move(client));
    }
  }
  DeliverAll(recipients, *encoded);
}

void Hub::OnDone(const std::string& store_id, uint64_t generation, const absl::Status& status) {
  std::vector<std::shared_ptr<HubClient>> refused;
  EncodedEvent error;
  {
    absl::MutexLock lock(&mu_);
    if (!StreamEndedLocked(store_id, generation, status)) return;
    // The scheduler will never serve this store (unknown, malformed, forbidden): retrying
    // would only hammer it. Tell the clients once and let them go.
    auto it = stores_.find(store_id);
    std::string data = "{\"message\":";
    AppendJsonString(
        &data, Sv(absl::StrCat(status.code() == absl::StatusCode::kNotFound ? "unknown store "
                                                                            : "cannot watch store ",
                               store_id, ": ", status.message())));
    data += ",\"storeId\":";
    AppendJsonString(&data, Sv(store_id));
    data += "}";
    error = EncodeForClients("error", data);
    for (auto& [id, weak] : it->second.clients) {
      client_store_.erase(id);
      if (auto client = weak.lock()) refused.push_back(std::move(client));
    }
    stores_.erase(it);
    ScheduleReportLocked();
  }
  for (auto& client : refused) client->Deliver(error);
}

bool Hub::StreamEndedLocked(const std::string& store_id, uint64_t generation,
                            const absl::Status& status) {
  --open_streams_;
  if (metrics_ != nullptr) metrics_->upstream_streams().Decrement();
  if (shutting_down_) return false;
  auto it = stores_.find(store_id);
  if (it == stores_.end() || it->second.generation != generation) return false;  // cancelled
  if (status.code() == absl::StatusCode::kNotFound ||
      status.code() == absl::StatusCode::kInvalidArgument ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    return true;
  }
  StoreState& state = it->second;
  state.stream.reset();
  const int failures = std::min(state.failures, 10);
  ++state.failures;
  absl::Duration delay = options_.backoff_initial * (int64_t{1} << failures);
  delay = std::min(delay, options_.backoff_max);
  common::LogWarn("WatchStore stream ended; re-opening",
                  {{"store", store_id},
                   {"error", status.ok() ? "ended by server" : status.ToString()},
                   {"backoff", absl::FormatDuration(delay)}});
  state.reopen_scheduled = true;
  timers_.After(delay, [this, store_id] { Reopen(store_id); });
  return false;
}

void Hub::Reopen(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  auto it = stores_.find(store_id);
  if (it == stores_.end()) return;  // everyone left meanwhile
  StoreState& state = it->second;
  state.reopen_scheduled = false;
  if (state.stream) return;
  if (metrics_ != nullptr) metrics_->upstream_reconnects().Increment();
  OpenStreamLocked(store_id, state);
}

size_t Hub::Broadcast(const std::string& store_id, const EncodedEvent& event) {
  std::vector<std::shared_ptr<HubClient>> recipients;
  {
    absl::MutexLock lock(&mu_);
    auto it = stores_.find(store_id);
    if (it == stores_.end()) return 0;
    recipients.reserve(it->second.clients.size());
    for (auto& [id, weak] : it->second.clients) {
      if (auto client = weak.lock()) recipients.push_back(std::move(client));
    }
  }
  const size_t count = recipients.size();
  DeliverAll(recipients, event);
  return count;
}

std::map<std::string, int> Hub::ClientCounts() {
  absl::MutexLock lock(&mu_);
  std::map<std::string, int> counts;
  for (const auto& [store, state] : stores_) {
    if (!state.clients.empty()) counts[store] = static_cast<int>(state.clients.size());
  }
  return counts;
}

int Hub::open_streams() {
  absl::MutexLock lock(&mu_);
  return open_streams_;
}

void Hub::ScheduleReportLocked() {
  if (report_scheduled_ || shutting_down_) return;
  report_scheduled_ = true;
  timers_.After(options_.report_debounce, [this] {
    {
      absl::MutexLock lock(&mu_);
      report_scheduled_ = false;
      if (shutting_down_) return;
    }
    SendReport();
  });
}

void Hub::SendReport() {
  v1::ReportConnectionsRequest request;
  request.set_gateway_id(options_.gateway_id);
  for (const auto& [store, count] : ClientCounts()) {
    v1::StoreConnections* entry = request.add_stores();
    entry->set_store_id(store);
    entry->set_connections(count);
  }
  // The callback may run after the hub is gone: it captures nothing of it.
  scheduler_.ReportConnections(request, [](absl::Status status) {
    if (!status.ok()) {
      common::LogDebug("ReportConnections failed", {{"error", status.ToString()}});
    }
  });
}

void Hub::PeriodicReport() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
  }
  SendReport();
  timers_.After(options_.report_period, [this] { PeriodicReport(); });
}

}  // namespace autosync::gateway
