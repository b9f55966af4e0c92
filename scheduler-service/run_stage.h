// The scheduler's names for run stages and triggers: the ones in common/run_stage.h (the worker
// and the gateway share them), under the scheduler's namespace.
#pragma once

#include "common/run_stage.h"

namespace autosync::scheduler {

using common::StageFromName;
using common::StageName;
using common::TriggerFromName;
using common::TriggerName;

}  // namespace autosync::scheduler
