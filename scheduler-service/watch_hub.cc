#include "scheduler-service/watch_hub.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "google/protobuf/unknown_field_set.h"

namespace autosync::scheduler {
namespace {

void Cut(std::string* s, size_t max) {
  if (s->size() > max) s->resize(max);
}

void CutRun(autosync::v1::Run* run, size_t max) { Cut(run->mutable_error(), max); }

std::optional<std::string> EncodeUncut(const autosync::v1::WatchEvent& event,
                                       absl::string_view origin) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) return std::nullopt;
  if (!origin.empty()) {
    // Appended after the event's own fields: a parser merges it as an unknown field.
    google::protobuf::UnknownFieldSet extra;
    extra.AddLengthDelimited(kOriginField, std::string(origin));
    std::string tail;
    if (!extra.SerializeToString(&tail)) return std::nullopt;
    bytes += tail;
  }
  return absl::Base64Escape(bytes);
}

}  // namespace

std::optional<std::string> EncodeEvent(const autosync::v1::WatchEvent& event,
                                       absl::string_view origin) {
  std::optional<std::string> out = EncodeUncut(event, origin);
  if (!out.has_value() || out->size() <= kMaxNotifyPayload) return out;
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
    out = EncodeUncut(cut, origin);
    if (!out.has_value() || out->size() <= kMaxNotifyPayload) return out;
  }
  return std::nullopt;
}

absl::StatusOr<RelayedEvent> DecodeEvent(absl::string_view payload) {
  std::string bytes;
  RelayedEvent out;
  if (payload.size() > 8000 || !absl::Base64Unescape(payload, &bytes) ||
      !out.event.ParseFromString(bytes) || out.event.store_id().empty()) {
    return absl::InvalidArgumentError("not a WatchEvent payload");
  }
  const google::protobuf::UnknownFieldSet& unknown =
      out.event.GetReflection()->GetUnknownFields(out.event);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& f = unknown.field(i);
    if (f.number() == kOriginField &&
        f.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.origin = f.length_delimited();
    }
  }
  // Watchers get the event as the API defines it.
  out.event.DiscardUnknownFields();
  return out;
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
