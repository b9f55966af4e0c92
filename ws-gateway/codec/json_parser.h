// The codec's per-thread simdjson parser, shared by its parsers (internal to ws-gateway/codec/).
// One parser per thread keeps its buffers between calls, so steady-state parsing does not
// allocate. Thread-safety: each thread has its own. Lifetime: a parsed document lives until the
// thread's next parse, so a caller must be done with one before parsing (or calling a codec
// function that parses) again.
#pragma once

#include <cstddef>

#include "simdjson.h"

namespace autosync::gateway::json_internal {

// Deep nesting in a client frame is never legitimate; a low cap keeps parsing cheap.
inline constexpr size_t kMaxJsonDepth = 64;

simdjson::dom::parser& ThreadParser();

}  // namespace autosync::gateway::json_internal
