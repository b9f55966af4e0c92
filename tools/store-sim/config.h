// store-sim's validated start-up configuration, built from its flags (flags.h): the simulator's
// data and fault settings and the server's listen address, threads and live mode. A plain value.
#pragma once

#include "absl/status/statusor.h"
#include "tools/store-sim/server.h"
#include "tools/store-sim/simulator.h"

namespace autosync::storesim {

struct StoreSimConfig {
  SimConfig sim;
  ServerOptions server;
};

// Reads and checks the flags; call after ParseStoreSimFlags. The first bad flag is an
// INVALID_ARGUMENT whose message names it ("--threads must be in [1, 64]"); main prints it after
// "store-sim: " and exits 2. An empty --end is the start of the current UTC day.
absl::StatusOr<StoreSimConfig> StoreSimConfigFromFlags();

}  // namespace autosync::storesim
