// store-sim's HTTP/1.1 server: Boost.Beast, async, a strand per connection, keep-alive, body
// and header limits, an idle timeout (renewed by every chunk of a response the client takes, so
// it catches a stalled peer, not a slow one); every request goes through Simulator::Handle(). Beast
// stays inside server.cc so this header is cheap to include.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/store-sim/simulator.h"

namespace autosync::storesim {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8090;  // 0 = pick a free port (see Server::port())
  int threads = 2;
  bool live = false;  // run Simulator::TickAll() every live_interval_ms
  int64_t live_interval_ms = 2000;
  // How long a connection may wait for a whole request, and a response being written may go
  // without any bytes taken by the client (so a slow reader of a large file is served to the
  // end, a stalled one is cut off).
  int64_t idle_timeout_seconds = 60;
};

// Parses "host:port" (IPv4, "[v6]:port" or "localhost:port") and refuses a non-loopback address
// unless allow_non_loopback is set: store-sim has no real security.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseListen(const std::string& listen,
                                                             bool allow_non_loopback);

class Server final {
 public:
  // Binds and starts accepting; requests are served once Run() is called.
  static absl::StatusOr<std::unique_ptr<Server>> Start(Simulator& sim,
                                                       const ServerOptions& options);
  ~Server();

  uint16_t port() const;
  // Serves until SIGINT/SIGTERM or Stop(); then stops accepting, closes connections and returns.
  void Run();
  // Thread-safe.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autosync::storesim
