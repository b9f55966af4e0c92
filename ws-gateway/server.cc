#include "ws-gateway/server.h"

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "common/listener.h"
#include "ws-gateway/http_session.h"
#include "ws-gateway/ws_connection.h"

namespace autosync::gateway {
namespace {

namespace asio = net::asio;
namespace beast = net::beast;
using tcp = asio::ip::tcp;
using net::DrainQueue;
using net::HttpSession;
using net::Live;

// The kernel's send buffer per client socket. Left to autotuning, a client that stops reading
// can park up to tcp_wmem's maximum (4 MiB by default) in the kernel before our own queue limit
// (--send_queue_max) even starts counting: 10k such clients would pin gigabytes, and a slow
// consumer would be noticed late. Events are small, so 256 KiB costs no throughput.
constexpr int kSocketSendBufferBytes = 256 * 1024;

}  // namespace

// One io_context per io thread, each run by that thread alone: a connection lives on one
// context for its whole life, so its handlers never run concurrently and need no strand (no
// strand object per connection, no strand queue per handler), and the threads share no
// scheduler queue or lock.
struct GatewayServer::Impl {
  Impl(int thread_count, ServerDeps d) : contexts(MakeContexts(thread_count)), deps(d) {
    for (auto& context : contexts) live.drains.push_back(std::make_unique<DrainQueue>(*context));
  }
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int count) {
    std::vector<std::unique_ptr<asio::io_context>> made;
    for (int i = 0; i < std::max(count, 1); ++i)
      made.push_back(std::make_unique<asio::io_context>(1));
    return made;
  }
  // Declared first so it is destroyed last: handlers still queued in the contexts refer to it.
  Live live;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  tcp::acceptor acceptor{*contexts.front()};
  std::vector<std::thread> threads;
  ServerDeps deps;
  size_t next_context = 0;  // round robin of accepted connections (acceptor's thread only)
  bool stopped = false;

  asio::io_context& main() { return *contexts.front(); }

  void Accept() {
    asio::io_context& target = *contexts[next_context++ % contexts.size()];
    acceptor.async_accept(target, [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        s.set_option(asio::socket_base::send_buffer_size(kSocketSendBufferBytes), ignored);
        std::make_shared<HttpSession>(std::move(s), deps, live)->Start();
      }
      if (acceptor.is_open()) Accept();
    });
  }
};

GatewayServer::GatewayServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(const common::HostPort& listen,
                                                                    int threads, ServerDeps deps) {
  auto impl = std::make_unique<Impl>(threads, deps);
  if (absl::Status s = common::OpenListener(impl->acceptor, listen.host, listen.port); !s.ok()) {
    return s;
  }
  impl->Accept();
  Impl* raw = impl.get();
  for (int i = 0; i < threads; ++i) {
    asio::io_context* context = raw->contexts[static_cast<size_t>(i)].get();
    raw->threads.emplace_back([context] {
      // A context starts with no work of its own (the acceptor lives on the first): keep run()
      // from returning until Shutdown stops it.
      auto keep = asio::make_work_guard(*context);
      context->run();
    });
  }
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(impl)));
}

uint16_t GatewayServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->main(), [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->deps.eio.CloseAll("server shutting down");
  if (impl_->deps.raw_eio != nullptr) impl_->deps.raw_eio->CloseAll("server shutting down");
  std::vector<std::shared_ptr<WsSink>> sockets;
  {
    absl::MutexLock lock(&impl_->live.mu);
    for (auto& [id, weak] : impl_->live.sockets) {
      if (auto s = weak.lock()) sockets.push_back(std::move(s));
    }
  }
  for (auto& s : sockets) s->Close(kCloseGoingAway, "server shutting down");
  sockets.clear();
  // Sessions in flight get up to `grace` to finish; idle keep-alive ones are cut at the end.
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(grace);
  asio::steady_timer timer(impl_->main());
  std::function<void()> check = [&] {
    if (impl_->live.count.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      for (auto& context : impl_->contexts) context->stop();
      return;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([&](beast::error_code) { check(); });
  };
  asio::post(impl_->main(), check);
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace autosync::gateway
