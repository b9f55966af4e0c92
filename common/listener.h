// Opening a listening TCP socket on an asio acceptor, the one way the metrics endpoint, the
// gateway and store-sim do it. Call before the acceptor is shared with other threads (it is not
// thread-safe, like the acceptor itself); the acceptor must outlive nothing here: the function
// keeps no reference to it.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "boost/asio/ip/tcp.hpp"

namespace autosync::common {

// Opens `acceptor` on `host`:`port` (an IP address; "localhost" means 127.0.0.1; port 0 picks a
// free port, read it back from acceptor.local_endpoint()), with SO_REUSEADDR and the system's
// maximum backlog, and starts listening. INVALID_ARGUMENT "bad address <host>" when `host` is
// not an IP address; UNAVAILABLE "cannot listen on <host>:<port>: <reason>" when the socket
// cannot be opened, bound (a port in use) or put to listen.
absl::Status OpenListener(boost::asio::ip::tcp::acceptor& acceptor, absl::string_view host,
                          uint16_t port);

}  // namespace autosync::common
