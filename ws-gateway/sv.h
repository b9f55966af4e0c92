// Debian's Abseil has its own absl::string_view, while the codec uses std::string_view: these
// convert between the two without copying.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace autosync::gateway {

inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace autosync::gateway
