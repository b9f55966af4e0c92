// Tick groups: the cron claim is made per (group of stores, boundary), not per store, so a
// boundary of 100k fires is a few hundred claim rows (tick_group_claims, migration 0006). A
// store's group is a pure function of its id, the same on every replica and every version.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace autosync::scheduler {

// Changing this changes every store's group: a boundary claimed under one value could be
// claimed again under another, so it is fixed (the claim table's rows name groups of it).
inline constexpr int kTickGroups = 1024;

// FNV-1a (32 bit) of the store id, modulo kTickGroups.
int TickGroupOf(absl::string_view store_id);

}  // namespace autosync::scheduler
