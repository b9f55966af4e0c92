#include "tests/integration/gateway/ws_test_client.h"

#include <sys/socket.h>
#include <sys/time.h>

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
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)),
                   ec);
  }
  if (ec) return absl::UnavailableError(absl::StrCat("connect: ", ec.message()));
  const std::vector<std::pair<std::string, std::string>> headers = options.headers;
  impl->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  websocket::response_type response;
  impl->ws.handshake(response, absl::StrCat("127.0.0.1:", port), target, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("handshake: ", ec.message(), " (HTTP ",
                                               response.result_int(), " ", response.body(), ")"));
  }
  return std::unique_ptr<WsTestClient>(new WsTestClient(std::move(impl)));
}

absl::Status WsTestClient::SendText(const std::string& text) {
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text), ec);
  if (ec) return absl::UnavailableError(ec.message());
  return absl::OkStatus();
}

absl::Status WsTestClient::SendBinary(const std::string& bytes) {
  beast::error_code ec;
  impl_->ws.binary(true);
  impl_->ws.write(asio::buffer(bytes), ec);
  if (ec) return absl::UnavailableError(ec.message());
  return absl::OkStatus();
}

absl::StatusOr<std::string> WsTestClient::Read(absl::Duration timeout) {
  const int64_t us = absl::ToInt64Microseconds(timeout);
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  setsockopt(impl_->ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  beast::error_code ec;
  impl_->buffer.consume(impl_->buffer.size());
  impl_->ws.read(impl_->buffer, ec);
  if (ec == websocket::error::closed || (ec && impl_->ws.reason().code != 0)) {
    return absl::UnavailableError(absl::StrCat("closed ", impl_->ws.reason().code, ": ",
                                               std::string(impl_->ws.reason().reason.c_str())));
  }
  if (ec == asio::error::would_block || ec == asio::error::try_again ||
      ec == asio::error::timed_out) {
    return absl::DeadlineExceededError("no message in time");
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
