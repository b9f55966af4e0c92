#include "common/run_stage.h"

namespace autosync::common {

absl::string_view StageName(autosync::v1::Stage stage) {
  switch (stage) {
    case autosync::v1::STAGE_STARTING:
      return "starting";
    case autosync::v1::STAGE_ORDERS:
      return "orders";
    case autosync::v1::STAGE_ADS:
      return "ads";
    case autosync::v1::STAGE_LTV:
      return "ltv";
    case autosync::v1::STAGE_COMPLETED:
      return "completed";
    case autosync::v1::STAGE_FAILED:
      return "failed";
    case autosync::v1::STAGE_SKIPPED:
      return "skipped";
    case autosync::v1::STAGE_QUEUED:
      return "queued";
    default:
      return "starting";
  }
}

autosync::v1::Stage StageFromName(absl::string_view name) {
  if (name == "orders") return autosync::v1::STAGE_ORDERS;
  if (name == "ads") return autosync::v1::STAGE_ADS;
  if (name == "ltv") return autosync::v1::STAGE_LTV;
  if (name == "completed") return autosync::v1::STAGE_COMPLETED;
  if (name == "failed") return autosync::v1::STAGE_FAILED;
  if (name == "skipped") return autosync::v1::STAGE_SKIPPED;
  if (name == "starting") return autosync::v1::STAGE_STARTING;
  if (name == "queued") return autosync::v1::STAGE_QUEUED;
  return autosync::v1::STAGE_UNSPECIFIED;
}

absl::string_view TriggerName(autosync::v1::Trigger trigger) {
  switch (trigger) {
    case autosync::v1::TRIGGER_CRON:
      return "cron";
    case autosync::v1::TRIGGER_MANUAL:
      return "manual";
    default:
      return "api";
  }
}

autosync::v1::Trigger TriggerFromName(absl::string_view name) {
  if (name == "cron") return autosync::v1::TRIGGER_CRON;
  if (name == "manual") return autosync::v1::TRIGGER_MANUAL;
  if (name == "api") return autosync::v1::TRIGGER_API;
  return autosync::v1::TRIGGER_UNSPECIFIED;
}

}  // namespace autosync::common
