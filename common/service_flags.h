// Flags every autosync binary shares (logging) and the start-up helpers built on them.
#pragma once

#include "absl/strings/string_view.h"
#include "common/config.h"

namespace autosync::common {

// Reads --log_format / --log_level, validates them into `errors`, and initializes logging.
void InitLoggingFromFlags(absl::string_view service, ConfigErrors& errors);

}  // namespace autosync::common
