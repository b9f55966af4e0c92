// Names of run stages and triggers as stored in sync_runs and sent to browsers ("orders",
// "cron"), and their proto enums.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "autosync/v1/sync_worker.pb.h"

namespace autosync::scheduler {

absl::string_view StageName(autosync::v1::Stage stage);
autosync::v1::Stage StageFromName(absl::string_view name);
absl::string_view TriggerName(autosync::v1::Trigger trigger);
autosync::v1::Trigger TriggerFromName(absl::string_view name);

}  // namespace autosync::scheduler
