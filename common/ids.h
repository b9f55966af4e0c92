// Identifier rules shared by every service: store ids (also URL path segments and label values)
// and run ids.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace autosync::common {

// ^[a-z0-9][a-z0-9_-]{0,62}$ ; INVALID_ARGUMENT saying what is wrong otherwise. The message
// quotes at most the first 64 bytes of a bad id, escaped, so hostile input cannot flood logs.
absl::Status ValidateStoreId(absl::string_view store_id);

// A new random run id: "run_" + 24 lowercase hex digits.
std::string NewRunId();

// Run ids we accept from callers: 1-64 chars of [A-Za-z0-9_.:-].
absl::Status ValidateRunId(absl::string_view run_id);

}  // namespace autosync::common
