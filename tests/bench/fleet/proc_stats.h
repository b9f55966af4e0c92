// What the fleet benchmark reads of the processes it started, from /proc: CPU seconds, resident
// memory, and the processes of a throw-away PostgreSQL cluster (its postmaster and backends), so
// that the CPU of a boundary can be split between worker, scheduler, PostgreSQL and store-sim on
// a machine other work shares.
#pragma once

#include <sys/types.h>

namespace autosync::bench {

// User + system CPU seconds of `pid` so far; with `reaped_children`, also those of the children
// it has waited for (a PostgreSQL backend that exited is counted in its postmaster's). 0 when the
// process is gone.
double CpuSeconds(pid_t pid, bool reaped_children = false);

// VmRSS of `pid` in MiB; 0 when the process is gone.
double RssMib(pid_t pid);

// The postmaster serving `port` (its command line holds "-p <port>"), or -1.
pid_t FindPostmaster(int port);

// CPU seconds of a cluster so far: the postmaster, the backends it reaped, and those running now.
double ClusterCpuSeconds(pid_t postmaster);

}  // namespace autosync::bench
