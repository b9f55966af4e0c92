// A fixed set of threads running queued tasks: where services do blocking work (PostgreSQL,
// worker streams, upstream gRPC calls) so that gRPC reactions and io threads never block. The
// one pool of the scheduler (bounded queues), the worker (runs refused unless a thread is free)
// and the gateway (blocking route handlers).
//
// Thread-safety: every method may be called from any thread, including from a task. Tasks start
// in submission order on whichever thread is free.
// Lifetime: Stop() (or the destructor) refuses new tasks, lets every queued task run, then joins
// the threads; tasks must not outlive what they capture, so stop the pool before destroying
// what its tasks use. Never call Stop() or destroy the pool from one of its own tasks.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace autosync::common {

class ThreadPool final {
 public:
  // `threads` threads; `max_queued` bounds the tasks waiting for a thread in Submit (0 =
  // unbounded).
  explicit ThreadPool(int threads, size_t max_queued = 0);
  ~ThreadPool();  // Stop()
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `task`. False (and `task` dropped) when `max_queued` tasks already wait or the pool
  // is stopping.
  bool Submit(std::function<void()> task);
  // Queues `task` only if a thread can start it now: false when every thread is running or
  // already promised a task, or the pool is stopping. For work that is better refused (and
  // retried elsewhere) than queued.
  bool TrySubmit(std::function<void()> task);
  // Refuses new tasks, lets the queued ones finish, joins the threads. Idempotent.
  void Stop();

  // Tasks waiting for a thread.
  size_t queued() const;
  // Tasks running or waiting.
  int busy() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const int size_;
  const size_t max_queued_;
  std::vector<std::thread> threads_;
  absl::Mutex join_mu_;  // serialises Stop()'s joins
};

}  // namespace autosync::common
