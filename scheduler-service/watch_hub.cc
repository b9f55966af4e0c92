#include "scheduler-service/watch_hub.h"

#include <algorithm>

#include "absl/strings/escaping.h"

namespace autosync::scheduler {
namespace {

void Cut(std::string* s, size_t max) {
  if (s->size() > max) s->resize(max);
}

void CutRun(autosync::v1::Run* run, size_t max) { Cut(run->mutable_error(), max); }

}  // namespace

std::optional<std::string> EncodeEvent(const autosync::v1::WatchEvent& event) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) return std::nullopt;
  std::string out = absl::Base64Escape(bytes);
  if (out.size() <= kMaxNotifyPayload) return out;
  autosync::v1::WatchEvent cut = event;
  for (size_t max : {1000, 200, 0}) {
    if (cut.has_progress()) {
      Cut(cut.mutable_progress()->mutable_message(), max);
      Cut(cut.mutable_progress()->mutable_error(), max);
    }
    if (cut.has_status()) {
      Cut(cut.mutable_status()->mutable_last_error(), max);
      CutRun(cut.mutable_status()->mutable_current_run(), max);
      CutRun(cut.mutable_status()->mutable_last_run(), max);
    }
    bytes.clear();
    cut.SerializeToString(&bytes);
    out = absl::Base64Escape(bytes);
    if (out.size() <= kMaxNotifyPayload) return out;
  }
  return std::nullopt;
}

absl::StatusOr<autosync::v1::WatchEvent> DecodeEvent(absl::string_view payload) {
  std::string bytes;
  autosync::v1::WatchEvent event;
  if (payload.size() > 8000 || !absl::Base64Unescape(payload, &bytes) ||
      !event.ParseFromString(bytes) || event.store_id().empty()) {
    return absl::InvalidArgumentError("not a WatchEvent payload");
  }
  return event;
}

void WatchHub::Add(const std::string& store_id, const std::shared_ptr<Subscriber>& subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_[store_id].push_back(subscriber);
  ++count_;
}

void WatchHub::Remove(const std::string& store_id, const Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.find(store_id);
  if (it == subscribers_.end()) return;
  auto& list = it->second;
  const size_t before = list.size();
  list.erase(std::remove_if(list.begin(), list.end(),
                            [subscriber](const std::weak_ptr<Subscriber>& w) {
                              auto s = w.lock();
                              return s == nullptr || s.get() == subscriber;
                            }),
             list.end());
  count_ -= before - list.size();
  if (list.empty()) subscribers_.erase(it);
}

void WatchHub::Deliver(const autosync::v1::WatchEvent& event) {
  std::vector<std::shared_ptr<Subscriber>> targets;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.find(event.store_id());
    if (it == subscribers_.end()) return;
    for (const auto& w : it->second) {
      if (auto s = w.lock()) targets.push_back(std::move(s));
    }
  }
  // One copy shared by every recipient.
  auto shared = std::make_shared<const autosync::v1::WatchEvent>(event);
  for (const auto& s : targets) s->Deliver(shared);
}

std::vector<std::string> WatchHub::WatchedStores() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  out.reserve(subscribers_.size());
  for (const auto& [id, list] : subscribers_) out.push_back(id);
  return out;
}

size_t WatchHub::size() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

}  // namespace autosync::scheduler
