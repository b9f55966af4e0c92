// store-sim: an HTTP server imitating the Shopify orders APIs (REST, GraphQL and bulk
// operations) and the Meta insights API (sync and async report runs) over a seeded,
// deterministic data set, with fault switches. A test and demo tool;
// loopback only by default. See tools/store-sim/simulator.h for addressing and the --help text
// (flags.cc) for the options. Start-up only: the flags are checked in config.cc.
#include <cstdint>
#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/store-sim/config.h"
#include "tools/store-sim/flags.h"
#include "tools/store-sim/server.h"
#include "tools/store-sim/simulator.h"

namespace {

int Fail(absl::string_view message) {
  std::cerr << "store-sim: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  autosync::storesim::ParseStoreSimFlags(argc, argv);
  absl::StatusOr<autosync::storesim::StoreSimConfig> parsed =
      autosync::storesim::StoreSimConfigFromFlags();
  if (!parsed.ok()) return Fail(parsed.status().message());
  const autosync::storesim::SimConfig& config = parsed->sim;
  const autosync::storesim::ServerOptions& options = parsed->server;

  autosync::storesim::RealClock clock;
  absl::Time t0 = absl::Now();
  auto sim = autosync::storesim::Simulator::Create(config, &clock);
  if (!sim.ok()) return Fail(sim.status().message());
  int64_t total = 0;
  for (const auto& s : config.stores) total += s.order_count;
  std::cerr << "store-sim: generated " << config.stores.size() << " store(s), " << total
            << " orders in " << absl::ToDoubleSeconds(absl::Now() - t0) << " s (seed "
            << config.seed << ", end "
            << absl::FormatTime(absl::RFC3339_sec, config.end, absl::UTCTimeZone()) << ")\n";

  auto server = autosync::storesim::Server::Start(**sim, options);
  if (!server.ok()) return Fail(server.status().message());
  std::cerr << "store-sim: listening on http://" << options.address << ":" << (*server)->port()
            << (options.live ? " (live mode)" : "") << "\n";
  (*server)->Run();
  std::cerr << "store-sim: stopped\n";
  return 0;
}
