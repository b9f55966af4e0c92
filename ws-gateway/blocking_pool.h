// A small thread pool for blocking work (upstream gRPC calls of route handlers and WebSocket
// triggers), so io threads never block. Thread-safe.
#pragma once

#include <functional>
#include <memory>

namespace autosync::gateway {

class BlockingPool final {
 public:
  explicit BlockingPool(int threads);
  ~BlockingPool();  // waits for queued work
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void Post(std::function<void()> work);
  // Waits for queued work to finish and stops the threads; Post afterwards drops the work.
  void Join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::gateway
