#include "ws-gateway/timers.h"

#include "absl/time/clock.h"

namespace autosync::gateway {

ThreadTimers::ThreadTimers() : thread_([this] { Run(); }) {}

ThreadTimers::~ThreadTimers() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void ThreadTimers::After(absl::Duration delay, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  queue_.emplace(absl::Now() + delay, std::move(fn));
}

void ThreadTimers::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (queue_.empty()) {
      // Wakes when something is queued or stop is asked.
      mu_.Await(absl::Condition(
          +[](ThreadTimers* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stop_ || !self->queue_.empty();
          },
          this));
      continue;
    }
    const absl::Time due = queue_.begin()->first;
    const absl::Time now = absl::Now();
    if (due > now) {
      // Re-checks on any queue change (a sooner deadline) or stop.
      const size_t size = queue_.size();
      struct Args {
        ThreadTimers* self;
        size_t size;
        absl::Time due;
      } args{this, size, due};
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  return a->self->stop_ || a->self->queue_.size() != a->size ||
                                         a->self->queue_.begin()->first != a->due;
                                },
                                &args),
                            due);
      continue;
    }
    std::function<void()> fn = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
}

void ManualTimers::After(absl::Duration delay, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  queue_.emplace(now_ + delay, std::move(fn));
}

void ManualTimers::Advance(absl::Duration by) {
  absl::Duration target;
  {
    absl::MutexLock lock(&mu_);
    target = now_ + by;
  }
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty() || queue_.begin()->first > target) {
        now_ = target;
        return;
      }
      now_ = queue_.begin()->first;
      fn = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
    }
    fn();
  }
}

absl::Time ManualTimers::Now() {
  absl::MutexLock lock(&mu_);
  return absl::UnixEpoch() + now_;
}

size_t ManualTimers::pending() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace autosync::gateway
