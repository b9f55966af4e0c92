// Delayed callbacks for the gateway's Beast-free parts (hub backoff and reports, Engine.IO
// heartbeats): an interface so unit tests drive time by hand, and a one-thread implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autosync::gateway {

class Timers {
 public:
  virtual ~Timers() = default;
  // Runs `fn` once after `delay` (on some other thread). Thread-safe.
  virtual void After(absl::Duration delay, std::function<void()> fn) = 0;
  // The clock the delays run on, for deadlines that are checked when a request arrives rather
  // than waited for (a late timer thread must not keep a dead session alive).
  virtual absl::Time Now() = 0;
};

// Runs callbacks on one thread of its own, in deadline order. The destructor drops the callbacks
// that have not run and joins the thread.
class ThreadTimers final : public Timers {
 public:
  ThreadTimers();
  ~ThreadTimers() override;
  void After(absl::Duration delay, std::function<void()> fn) override;
  absl::Time Now() override { return absl::Now(); }

 private:
  void Run();
  absl::Mutex mu_;
  std::multimap<absl::Time, std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// For tests: callbacks run when Advance() moves the fake clock past their deadline.
class ManualTimers final : public Timers {
 public:
  void After(absl::Duration delay, std::function<void()> fn) override;
  absl::Time Now() override;  // the Unix epoch plus the time advanced so far
  // Runs (on the calling thread) every callback due within `by`, in deadline order.
  void Advance(absl::Duration by);
  size_t pending();

 private:
  absl::Mutex mu_;
  absl::Duration now_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Duration, std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autosync::gateway
