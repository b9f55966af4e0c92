// Reading a whole file into memory, with errors that name the file. Thread-safe (no state);
// blocks on the file system.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace autosync::common {

// The bytes of the file at `path`, unchanged. INVALID_ARGUMENT "is empty" for an empty path,
// NOT_FOUND "cannot read <path>" when it cannot be opened, DATA_LOSS when reading fails midway.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace autosync::common
