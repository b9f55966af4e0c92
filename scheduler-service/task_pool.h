// A fixed set of threads running queued tasks: where the scheduler does its blocking work
// (PostgreSQL, worker streams) so that gRPC reactions never block.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace autosync::scheduler {

// Thread-safe. Tasks run in submission order on whichever thread is free.
class TaskPool final {
 public:
  // `max_queued` bounds the tasks waiting for a thread (0 = unbounded).
  TaskPool(int threads, size_t max_queued);
  // Stop(): runs what is queued, then joins.
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // False when the queue is full or the pool is stopping.
  bool Submit(std::function<void()> task);
  // Refuses new tasks, lets the queued ones finish, joins the threads. Idempotent.
  void Stop();
  size_t queued() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;
  std::vector<std::thread> threads_;
  absl::Mutex join_mu_;
};

}  // namespace autosync::scheduler
