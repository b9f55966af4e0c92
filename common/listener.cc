#include "common/listener.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/ip/address.hpp"
#include "boost/asio/socket_base.hpp"

namespace autosync::common {

absl::Status OpenListener(boost::asio::ip::tcp::acceptor& acceptor, absl::string_view host,
                          uint16_t port) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const std::string name = host == "localhost" ? "127.0.0.1" : std::string(host);
  const asio::ip::address address = asio::ip::make_address(name, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad address ", host));
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    const std::string shown =
        absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : std::string(host);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", shown, ":", port, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace autosync::common
