#include "tests/integration/gateway/ws_test_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/websocket.hpp"

namespace autosync::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct WsTestClient::Impl {
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buffer;

  // Runs one asynchronous operation started by `start` (which is handed the completion handler)
  // for at most `timeout`. Blocking socket calls cannot time out (asio waits in poll() without a
  // limit, whatever SO_RCVTIMEO says), so every step of this client runs this way. On timeout the
  // socket is closed, the cancelled operation is drained, and the client is unusable afterwards.
  template <typename Start>
  beast::error_code RunFor(absl::Duration timeout, Start start) {
    bool done = false;
    beast::error_code result;
    start([&done, &result](beast::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    ioc.restart();
    ioc.run_for(absl::ToChronoMilliseconds(timeout));
    if (done) return result;
    beast::error_code ignored;
    ws.next_layer().close(ignored);
    ioc.restart();
    ioc.run();  // the cancelled operation completes (it refers to this frame's `done`)
    return asio::error::timed_out;
  }
};

WsTestClient::WsTestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsTestClient::~WsTestClient() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
}

absl::StatusOr<std::unique_ptr<WsTestClient>> WsTestClient::Connect(int port,
                                                                    const std::string& target,
                                                                    const Options& options) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  tcp::socket& socket = impl->ws.next_layer();
  socket.open(tcp::v4(), ec);
  if (!ec && options.receive_buffer_bytes > 0) {
    socket.set_option(asio::socket_base::receive_buffer_size(options.receive_buffer_bytes), ec);
  }
  if (!ec) {
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    ec = impl->RunFor(options.timeout,
                      [&](auto handler) { socket.async_connect(endpoint, std::move(handler)); });
  }
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  const std::vector<std::pair<std::string, std::string>> headers = options.headers;
  impl->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  websocket::response_type response;
  const std::string host = absl::StrCat("127.0.0.1:", port);
  ec = impl->RunFor(options.timeout, [&](auto handler) {
    impl->ws.async_handshake(response, host, target, std::move(handler));
  });
  if (ec) {
    return absl::UnavailableError(absl::StrCat("handshake: ", ec.message(), " (HTTP ",
                                               response.result_int(), " ", response.body(), ")"));
  }
  return std::unique_ptr<WsTestClient>(new WsTestClient(std::move(impl)));
}

absl::Status WsTestClient::Send(const std::string& bytes, bool text) {
  impl_->ws.text(text);
  const beast::error_code ec = impl_->RunFor(absl::Seconds(10), [&](auto handler) {
    impl_->ws.async_write(asio::buffer(bytes), std::move(handler));
  });
  if (ec) return absl::UnavailableError(absl::StrCat("write: ", ec.message()));
  return absl::OkStatus();
}

absl::Status WsTestClient::SendText(const std::string& text) { return Send(text, true); }
absl::Status WsTestClient::SendBinary(const std::string& bytes) { return Send(bytes, false); }

absl::StatusOr<std::string> WsTestClient::Read(absl::Duration timeout) {
  impl_->buffer.consume(impl_->buffer.size());
  const beast::error_code ec = impl_->RunFor(
      timeout, [&](auto handler) { impl_->ws.async_read(impl_->buffer, std::move(handler)); });
  if (ec == asio::error::timed_out) return absl::DeadlineExceededError("no message in time");
  if (ec == websocket::error::closed || (ec && impl_->ws.reason().code != 0)) {
    return absl::UnavailableError(absl::StrCat("closed ", impl_->ws.reason().code, ": ",
                                               std::string(impl_->ws.reason().reason.c_str())));
  }
  if (ec) return absl::UnavailableError(ec.message());
  return beast::buffers_to_string(impl_->buffer.data());
}

absl::StatusOr<std::string> WsTestClient::ReadUntil(const std::string& needle,
                                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("timed out: " + needle);
    absl::StatusOr<std::string> message = Read(left);
    if (!message.ok()) return message.status();
    if (message->find(needle) != std::string::npos) return message;
  }
}

}  // namespace autosync::testing
