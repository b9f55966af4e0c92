// libcurl's process-wide initialisation, done once for every user of libcurl in the process
// (the worker's transport, the scheduler's notifier, the gateway's JWKS fetch). Thread-safe:
// the first call initialises, every call returns that first call's result.
#pragma once

#include "absl/status/status.h"

namespace autosync::common {

// Runs curl_global_init(CURL_GLOBAL_DEFAULT) once. INTERNAL "curl_global_init failed: <why>"
// when it failed (and on every later call).
absl::Status EnsureCurlGlobalInit();

}  // namespace autosync::common
