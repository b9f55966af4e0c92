#include "ws-gateway/blocking_pool.h"

#include "boost/asio/post.hpp"
#include "boost/asio/thread_pool.hpp"

namespace autosync::gateway {

struct BlockingPool::Impl {
  explicit Impl(int threads) : pool(static_cast<size_t>(threads)) {}
  boost::asio::thread_pool pool;
};

BlockingPool::BlockingPool(int threads) : impl_(std::make_unique<Impl>(threads)) {}
BlockingPool::~BlockingPool() { Join(); }

void BlockingPool::Post(std::function<void()> work) {
  boost::asio::post(impl_->pool, std::move(work));
}

void BlockingPool::Join() { impl_->pool.join(); }

}  // namespace autosync::gateway
