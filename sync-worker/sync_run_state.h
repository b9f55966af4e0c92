// SyncPipeline::RunState: the state of the run in progress, shared by the pipeline's stages
// (sync_pipeline.cc runs them; sync_orders.cc, sync_orders_bulk.cc and sync_ads.cc are the
// stages). Internal to the pipeline.
//
// Thread-safety: a RunState belongs to the run's thread (a stage's helper threads never touch it).
// Lifetime: one per SyncPipeline::Run call, on its stack; `emit` outlives it.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "sync-worker/sync_pipeline.h"

namespace autosync::worker {

// The state of the run in progress.
struct SyncPipeline::RunState {
  using Stage = autosync::v1::Stage;
  using SyncProgress = autosync::v1::SyncProgress;

  autosync::v1::RunSyncRequest request;
  bool orders = true;  // the data types this run syncs
  bool ads = true;
  // A backfill: orders created within this range are re-read; the cursor stays.
  std::optional<OrdersClient::CreatedRange> backfill;
  StoreConfig store;
  Credentials credentials;
  std::unique_ptr<HttpTransport> transport;
  autosync::v1::StageCounts counts;
  const EmitFn* emit = nullptr;
  absl::Time started;
  // This run re-reads the orders / ad days of the late-change sweep, or reads everything (a
  // first or forced sync): either is recorded as a sweep at the end of the stage.
  bool orders_sweep = false;
  bool ads_sweep = false;
  // Progress never goes back on the wire: a stage's phases (an async report's preparation, then
  // its pages) each measure their own share, and a dashboard's bar must only move forward.
  int last_progress = 0;

  void Emit(Stage stage, int progress, std::string message, std::string error = "",
            bool retryable = false) {
    SyncProgress p;
    p.set_store_id(request.store_id());
    p.set_run_id(request.run_id());
    p.set_stage(stage);
    last_progress = std::max(last_progress, std::clamp(progress, 0, 100));
    p.set_progress(last_progress);
    p.set_message(std::move(message));
    p.set_error(std::move(error));
    p.set_retryable(retryable);
    p.set_trigger(request.trigger());
    if (stage == autosync::v1::STAGE_STARTING) {
      if (orders) p.add_data_types("orders");
      if (ads) p.add_data_types("ads");
    }
    *p.mutable_counts() = counts;
    *p.mutable_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
    (*emit)(p);
  }
};

}  // namespace autosync::worker
