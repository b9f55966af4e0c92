#include "tests/support/store_watcher.h"

#include "absl/time/clock.h"

namespace autosync::testing {

namespace v1 = autosync::v1;

Watcher::Watcher(v1::Scheduler::Stub& stub, const std::string& store,
                 const std::string& watcher_id) {
  v1::WatchStoreRequest request;
  request.set_store_id(store);
  request.set_watcher_id(watcher_id);
  reader_ = stub.WatchStore(&context_, request);
  thread_ = std::thread([this] {
    v1::WatchEvent e;
    while (reader_->Read(&e)) {
      const absl::Time at = absl::Now();
      absl::MutexLock lock(&mu_);
      events_.push_back({e, at});
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  });
}

Watcher::~Watcher() {
  context_.TryCancel();
  thread_.join();
}

std::optional<v1::WatchEvent> Watcher::WaitFor(
    const std::function<bool(const v1::WatchEvent&)>& pred, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<v1::WatchEvent> found;
  auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const Timed& t : events_) {
      if (pred(t.event)) {
        found = t.event;
        return true;
      }
    }
    return done_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  return found;
}

bool Watcher::WaitForCount(const std::function<bool(const v1::WatchEvent&)>& pred, int n,
                           absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto count = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int c = 0;
    for (const Timed& t : events_) c += pred(t.event) ? 1 : 0;
    return c;
  };
  auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count() >= n || done_; };
  mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  return count() >= n;
}

std::vector<v1::WatchEvent> Watcher::events() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::WatchEvent> out;
  out.reserve(events_.size());
  for (const Timed& t : events_) out.push_back(t.event);
  return out;
}

std::vector<Watcher::Timed> Watcher::timed_events() {
  absl::MutexLock lock(&mu_);
  return events_;
}

std::string Watcher::text() {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const Timed& t : events_) out += t.event.DebugString();
  return out;
}

std::optional<grpc::Status> Watcher::status() {
  absl::MutexLock lock(&mu_);
  if (!done_) return std::nullopt;
  return status_;
}

bool IsProgress(const v1::WatchEvent& e, v1::Stage stage) {
  return e.has_progress() && e.progress().stage() == stage;
}

}  // namespace autosync::testing
