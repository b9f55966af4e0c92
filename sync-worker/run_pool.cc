#include "sync-worker/run_pool.h"

namespace autosync::worker {

RunPool::RunPool(int threads) : size_(threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

RunPool::~RunPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool RunPool::TrySubmit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || busy_ + static_cast<int>(queue_.size()) >= size_) return false;
  queue_.push_back(std::move(task));
  return true;
}

int RunPool::busy() const {
  absl::MutexLock lock(&mu_);
  return busy_ + static_cast<int>(queue_.size());
}

void RunPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping with nothing left to do
      task = std::move(queue_.front());
      queue_.erase(queue_.begin());
      ++busy_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --busy_;
  }
}

}  // namespace autosync::worker
