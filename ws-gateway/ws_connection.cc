#include "ws-gateway/ws_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <optional>

#include "absl/strings/str_cat.h"
#include "boost/beast/websocket.hpp"
#include "common/log.h"

namespace autosync::gateway::net {
namespace {

namespace websocket = beast::websocket;

constexpr auto kCloseGrace = std::chrono::seconds(5);

}  // namespace

WsConnection::~WsConnection() {
  if (framing_ == Framing::kPlainWs) clients_.metrics.connections(framing_).Decrement();
  --live_.count;
}

void WsConnection::Run(http::request<http::string_body> req) {
  {
    absl::MutexLock lock(&live_.mu);
    id_ = live_.next_id++;
    live_.sockets[id_] = weak_from_this();
  }
  // Beast validates the upgrade request and writes the 101 (or a 400); the stream only
  // borrows the socket and is freed once the handshake is done.
  auto handshake = std::make_shared<websocket::stream<tcp::socket&>>(socket_);
  handshake->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "autosync-ws-gateway"); }));
  handshake->async_accept(
      req, [self = shared_from_this(), handshake](beast::error_code ec) { self->OnAccept(ec); });
}

void WsConnection::Send(std::shared_ptr<const std::string> frame, bool binary) {
  // Frames wait in an inbox and one drain moves them all onto the io thread: a broadcast burst
  // schedules one drain per connection, not one per frame, and the io_context's DrainQueue
  // runs the drains of all its connections from one posted handler.
  bool schedule = false;
  {
    absl::MutexLock lock(&inbox_mu_);
    inbox_.push_back({std::move(frame), binary});
    schedule = !drain_scheduled_;
    drain_scheduled_ = true;
  }
  if (!schedule) return;
  if (drains_ != nullptr) {
    drains_->Add(weak_from_this());
  } else {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Drain(); });
  }
}

void WsConnection::Close(uint16_t code, std::string reason) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
               self->StartClose(code, reason);
             });
}

void WsConnection::OnAccept(beast::error_code ec) {
  if (ec) return Finish();
  beast::error_code nb_ec;
  socket_.non_blocking(true, nb_ec);
  if (nb_ec) return Finish();
  opened_ = true;
  handler_->OnOpen(weak_from_this());
  WaitReadable();
  Flush();
}

void WsConnection::WaitReadable() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](beast::error_code ec) { self->OnReadable(ec); });
}

void WsConnection::OnReadable(beast::error_code ec) {
  if (ec || finished_) return Finish();
  // One buffer per io thread: idle connections hold no read buffer at all.
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferBytes]);
  for (int i = 0; i < kReadsPerWakeup; ++i) {
    beast::error_code read_ec;
    const size_t n = socket_.read_some(asio::buffer(buffer.get(), kReadBufferBytes), read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) break;
    if (read_ec) return Finish();  // EOF or reset: the peer is gone (or answered our close)
    // After a protocol error the rest is drained unread until the client closes: closing a
    // socket with unread input sends a reset, which could destroy our close frame in flight.
    if (discarding_) continue;
    const std::optional<wsframe::FrameError> error =
        reader_.Feed(buffer.get(), n, [this](wsframe::Opcode opcode, absl::string_view payload) {
          return OnFrame(opcode, payload);
        });
    if (error) {
      if (error->code == kCloseTooBig) clients_.metrics.protocol_errors().Increment();
      discarding_ = true;
      StartClose(error->code, error->reason);  // no-op when our close is already queued
    }
    if (finished_ || peer_closed_) return;
    if (n < kReadBufferBytes) break;  // drained
  }
  if (!finished_) WaitReadable();
}

bool WsConnection::OnFrame(wsframe::Opcode opcode, absl::string_view payload) {
  switch (opcode) {
    case wsframe::kText:
      if (!closing_) handler_->OnText(payload);
      return true;
    case wsframe::kBinary:
      if (!closing_) handler_->OnBinary(payload);
      return true;
    case wsframe::kPing:
      if (!closing_) {
        Enqueue(std::make_shared<const std::string>(payload.data(), payload.size()), wsframe::kPong,
                false);
        Flush();
      }
      return true;
    case wsframe::kPong:
      return true;
    case wsframe::kClose: {
      peer_closed_ = true;
      if (closing_) {
        // The answer to our close: the handshake is complete and the server ends TCP.
        if (close_sent_) Finish();
        return false;
      }
      uint16_t code = 0;
      if (std::optional<wsframe::FrameError> bad = wsframe::ParseClose(payload, &code)) {
        StartClose(bad->code, bad->reason);
      } else {
        // Echo the client's code (none if it sent none) after the frame being written.
        StartClose(code == 1005 ? 0 : code, "");
      }
      return false;
    }
    case wsframe::kContinuation:
      break;
  }
  return true;
}

void WsConnection::Drain() {
  std::vector<Inbound> batch;
  {
    absl::MutexLock lock(&inbox_mu_);
    batch.swap(inbox_);
    drain_scheduled_ = false;
  }
  for (Inbound& in : batch) {
    if (closing_ || finished_) return;
    if (queued() >= clients_.limits.send_queue_max) {
      clients_.metrics.slow_consumer_disconnects().Increment();
      common::LogInfo("disconnecting slow consumer", {{"queued", absl::StrCat(queued())}});
      return StartClose(kClosePolicy,
                        absl::StrCat("slow consumer: more than ", clients_.limits.send_queue_max,
                                     " messages queued"));
    }
    Enqueue(std::move(in.frame), in.binary ? wsframe::kBinary : wsframe::kText, false);
  }
  Flush();
}

void WsConnection::Enqueue(std::shared_ptr<const std::string> payload, wsframe::Opcode opcode,
                           bool close) {
  Outgoing& out = queue_.emplace_back();
  out.header_size =
      static_cast<uint8_t>(wsframe::EncodeHeader(opcode, payload->size(), out.header));
  out.payload = std::move(payload);
  out.close = close;
}

void WsConnection::Flush() {
  if (!opened_ || finished_ || waiting_writable_) return;
  iovec iov[2 * kFramesPerWrite];
  while (head_ < queue_.size()) {
    size_t count = 0;
    size_t skip = written_of_head_;
    for (size_t i = head_; i < queue_.size() && count < 2 * kFramesPerWrite; ++i) {
      const Outgoing& out = queue_[i];
      const size_t header = out.header_size;
      if (skip < header) {
        iov[count++] = {const_cast<uint8_t*>(out.header) + skip, header - skip};
        skip = 0;
      } else {
        skip -= header;
      }
      if (skip < out.payload->size()) {
        iov[count++] = {const_cast<char*>(out.payload->data()) + skip, out.payload->size() - skip};
      }
      skip = 0;
      if (out.close) break;  // nothing goes after a close frame
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        waiting_writable_ = true;
        socket_.async_wait(tcp::socket::wait_write,
                           [self = shared_from_this()](beast::error_code ec) {
                             self->waiting_writable_ = false;
                             if (ec) return self->Finish();
                             self->Flush();
                           });
        return;
      }
      return Finish();  // reset or broken pipe: the peer is gone
    }
    clients_.metrics.bytes_sent(framing_).Increment(static_cast<double>(sent));
    Consume(static_cast<size_t>(sent));
    if (close_sent_) break;
  }
  if (head_ == queue_.size()) {
    queue_.clear();
    head_ = 0;
    // A burst may have grown the queue: give the memory back once it is written.
    if (queue_.capacity() > 4) std::vector<Outgoing>().swap(queue_);
  }
  if (close_sent_) AfterCloseSent();
}

void WsConnection::Consume(size_t n) {
  while (n > 0 && head_ < queue_.size()) {
    Outgoing& out = queue_[head_];
    const size_t left = out.size() - written_of_head_;
    if (n < left) {
      written_of_head_ += n;
      return;
    }
    n -= left;
    if (out.close) close_sent_ = true;
    out.payload.reset();
    written_of_head_ = 0;
    ++head_;
  }
}

void WsConnection::StartClose(uint16_t code, absl::string_view reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  // Keep only a frame already partly on the wire: frames cannot be cut.
  const size_t keep = head_ + (written_of_head_ > 0 ? 1 : 0);
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(keep), queue_.end());
  Enqueue(std::make_shared<const std::string>(code == 0 ? std::string()
                                                        : wsframe::ClosePayload(code, reason)),
          wsframe::kClose, true);
  // A peer that reads nothing never lets the write or the close handshake finish.
  close_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
  close_timer_->expires_after(kCloseGrace);
  close_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->Finish();
  });
  Flush();
}

void WsConnection::AfterCloseSent() {
  if (peer_closed_) return Finish();
  // Our close is out: the client answers with its own, which the read side turns into
  // Finish. Half-close so a client waiting for EOF sees one.
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void WsConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  if (close_timer_) close_timer_->cancel();
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  queue_.clear();
  head_ = 0;
  {
    absl::MutexLock lock(&live_.mu);
    live_.sockets.erase(id_);
  }
  handler_->OnClosed();
}

void DrainQueue::Run() {
  {
    absl::MutexLock lock(&mu_);
    running_.swap(ready_);
    posted_ = false;
  }
  for (std::weak_ptr<WsConnection>& weak : running_) {
    if (std::shared_ptr<WsConnection> connection = weak.lock()) connection->Drain();
  }
  running_.clear();
}

}  // namespace autosync::gateway::net
