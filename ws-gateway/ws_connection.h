// The gateway's WebSocket connections after the upgrade (internal to the server): the frame
// layer of its own on a Beast-accepted socket, the per-io_context drain queue that moves
// broadcast frames onto the io threads, and the table of live connections Shutdown closes.
//
// Thread-safety: WsConnection::Send and Close may be called from any thread (they only queue
// work for the connection's io thread); everything else runs on that thread. DrainQueue::Add is
// thread-safe. Lifetime: a WsConnection is owned by the handlers it has pending (shared_ptr) and
// held weakly by its session, the drain queue and Live; Live and the drain queues belong to the
// GatewayServer and outlive every connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "ws-gateway/client_context.h"
#include "ws-gateway/codec/ws_frame.h"

namespace autosync::gateway::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class WsConnection;

// The WebSockets of one io_context that have frames in their inbox and no drain yet. A broadcast
// posts one handler per io_context, which drains them all, instead of one per connection:
// asio::post from a thread that is not the context's own costs about 600 instructions (an
// aligned allocation, the any_executor dispatch, the scheduler's lock and queue) and about 300
// more to run, which in paced fan-out (one frame per connection per event) was half of the
// gateway's user-space work per delivered message. Holds weak references: a connection that
// ends meanwhile is skipped, and none is kept alive past its io_context.
class DrainQueue {
 public:
  explicit DrainQueue(asio::io_context& io) : io_(io) {}
  asio::execution_context& context() { return io_; }
  // Any thread.
  void Add(std::weak_ptr<WsConnection> connection) {
    bool post = false;
    {
      absl::MutexLock lock(&mu_);
      ready_.push_back(std::move(connection));
      post = !posted_;
      posted_ = true;
    }
    if (post) asio::post(io_, [this] { Run(); });
  }

 private:
  void Run();  // on the io thread; below WsConnection

  asio::io_context& io_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<WsConnection>> ready_ ABSL_GUARDED_BY(mu_);
  bool posted_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<WsConnection>> running_;  // io thread only; trades buffers with ready_
};

// Live sessions and WebSockets, so Shutdown can close and wait for them; and the drain queue of
// each io_context.
struct Live {
  std::atomic<int> count{0};
  absl::Mutex mu;
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<WsSink>> sockets ABSL_GUARDED_BY(mu);
  // Filled before the io threads start, then read only.
  std::vector<std::unique_ptr<DrainQueue>> drains;
  DrainQueue* DrainsFor(asio::execution_context& context) {
    for (auto& d : drains) {
      if (&d->context() == &context) return d.get();
    }
    return nullptr;
  }
};

// One WebSocket after the upgrade. Beast answers the handshake; from then on the connection
// speaks RFC 6455 itself (ws_frame.h), because Beast's stream writes one frame per operation
// (one system call each) and its automatic pongs and close frames would interleave with ours.
// Here every frame queued while the socket is busy goes out in one gather write (sendmsg of
// header + shared payload pairs: server frames are unmasked, so a broadcast's payload bytes are
// the same for every client and never copied). Nothing is read into a per-connection buffer:
// the connection waits for readability and reads into one buffer per io thread. All state
// below is touched on the connection's io thread only, except the inbox.
class WsConnection final : public WsSink, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(tcp::socket&& socket, std::shared_ptr<WsHandler> handler, ClientContext& clients,
               Framing framing, Live& live)
      : socket_(std::move(socket)),
        handler_(std::move(handler)),
        clients_(clients),
        framing_(framing),
        live_(live),
        reader_(clients.limits.max_payload),
        drains_(live.DrainsFor(asio::query(socket_.get_executor(), asio::execution::context))) {
    ++live_.count;
    if (framing_ == Framing::kPlainWs) clients_.metrics.connections(framing_).Increment();
  }
  ~WsConnection() override;
  void Run(http::request<http::string_body> req);
  void Send(std::shared_ptr<const std::string> frame, bool binary) override;
  void Close(uint16_t code, std::string reason) override;

 private:
  friend class DrainQueue;
  struct Inbound {
    std::shared_ptr<const std::string> frame;
    bool binary;
  };
  // One frame waiting to be written: its header, here, and its payload, shared.
  struct Outgoing {
    std::shared_ptr<const std::string> payload;
    uint8_t header[wsframe::kMaxHeaderSize];
    uint8_t header_size;
    bool close;
    size_t size() const { return header_size + payload->size(); }
  };
  // Frames per sendmsg: 2 iovecs each, well under IOV_MAX.
  static constexpr size_t kFramesPerWrite = 256;
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  // Reads per readiness event before yielding to other connections.
  static constexpr int kReadsPerWakeup = 8;

  void OnAccept(beast::error_code ec);
  void WaitReadable();
  void OnReadable(beast::error_code ec);

  // A whole message or control frame from the client. False stops reading.
  bool OnFrame(wsframe::Opcode opcode, absl::string_view payload);
  void Drain();

  size_t queued() const { return queue_.size() - head_; }

  void Enqueue(std::shared_ptr<const std::string> payload, wsframe::Opcode opcode, bool close);

  // Writes what is queued until the socket would block (then waits for it to drain).
  void Flush();

  // Drops the `n` bytes just written from the front of the queue.
  void Consume(size_t n);

  // Sends a close frame after the frame being written (dropping the rest) and waits, bounded,
  // for the client's answer.
  void StartClose(uint16_t code, absl::string_view reason);
  void AfterCloseSent();
  void Finish();

  // The fields a broadcast touches, for every recipient and cache-cold at 10k clients, come
  // first and together, next to the object's start (and the control block that sessions'
  // weak_ptrs lock): Send's inbox, then what Drain and Flush read and write.
  absl::Mutex inbox_mu_;
  bool drain_scheduled_ ABSL_GUARDED_BY(inbox_mu_) = false;
  std::vector<Inbound> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  std::vector<Outgoing> queue_;  // [head_, end) waits; the front may be partly written
  size_t head_ = 0;
  size_t written_of_head_ = 0;
  bool opened_ = false;
  bool waiting_writable_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool discarding_ = false;  // after a protocol error: input is read and dropped
  bool finished_ = false;
  tcp::socket socket_;
  std::shared_ptr<WsHandler> handler_;
  ClientContext& clients_;
  const Framing framing_;
  Live& live_;
  uint64_t id_ = 0;
  wsframe::Reader reader_;
  DrainQueue* const drains_;  // this connection's io_context's (null only if it has none)
  std::unique_ptr<asio::steady_timer> close_timer_;  // only while closing
};

}  // namespace autosync::gateway::net
