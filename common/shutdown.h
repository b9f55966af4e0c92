// Graceful shutdown on SIGTERM / SIGINT: the signals are blocked in every thread and received
// synchronously by the one thread that waits for them.
#pragma once

namespace autosync::common {

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread it starts after.
// Call first thing in main, before any library starts threads.
void BlockShutdownSignals();

// Waits until SIGTERM or SIGINT arrives and returns its number.
int WaitForShutdownSignal();

}  // namespace autosync::common
