// A fixed pool of threads for blocking sync runs. TrySubmit refuses work beyond the pool's
// size instead of queueing it: a run that cannot start now is answered RESOURCE_EXHAUSTED and
// the scheduler retries on another replica.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace autosync::worker {

class RunPool final {
 public:
  explicit RunPool(int threads);
  // Waits for running tasks to finish, then joins the threads.
  ~RunPool();
  RunPool(const RunPool&) = delete;
  RunPool& operator=(const RunPool&) = delete;

  // Starts `task` on a free thread; false when every thread is busy (or the pool is stopping).
  bool TrySubmit(std::function<void()> task);
  int busy() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::vector<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const int size_;
  std::vector<std::thread> threads_;
};

}  // namespace autosync::worker
