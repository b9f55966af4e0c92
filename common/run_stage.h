// Names of run stages and triggers as stored in sync_runs and sent to browsers ("orders",
// "cron"), and their proto enums: one mapping for every service. Pure functions, thread-safe.
// An unknown stage is named "starting", an unknown trigger "api"; unknown names map to
// STAGE_UNSPECIFIED / TRIGGER_UNSPECIFIED.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "autosync/v1/sync_worker.pb.h"

namespace autosync::common {

absl::string_view StageName(autosync::v1::Stage stage);
autosync::v1::Stage StageFromName(absl::string_view name);
absl::string_view TriggerName(autosync::v1::Trigger trigger);
autosync::v1::Trigger TriggerFromName(absl::string_view name);

}  // namespace autosync::common
