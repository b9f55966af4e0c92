#include "tests/bench/fleet/watch_timer.h"

#include "absl/time/clock.h"

namespace autosync::bench {

namespace v1 = autosync::v1;

RunTimer::RunTimer(v1::Scheduler::Stub& stub, std::string store_id)
    : stub_(stub), store_id_(std::move(store_id)), watcher_(stub, store_id_, "fleet_bench") {}

ManualRun RunTimer::Trigger(absl::Duration bound) {
  ManualRun out;
  out.store_id = store_id_;
  const absl::Time sent = absl::Now();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(sent + absl::Seconds(30)));
  v1::TriggerSyncRequest request;
  request.set_store_id(store_id_);
  request.set_trigger(v1::TRIGGER_MANUAL);
  v1::TriggerSyncResponse response;
  const grpc::Status status = stub_.TriggerSync(&context, request, &response);
  out.rpc_ms = absl::ToDoubleMilliseconds(absl::Now() - sent);
  if (!status.ok()) {
    out.error = "TriggerSync: " + status.error_message();
    return out;
  }
  out.run_id = response.run_id();
  out.started = response.started();
  // The run may start, even end, before the response arrives: the events are kept, and matched
  // by run id here.
  auto of_run = [&out](const v1::WatchEvent& e) {
    return e.has_progress() && e.progress().run_id() == out.run_id;
  };
  auto ends = [](v1::Stage stage) {
    return stage == v1::STAGE_COMPLETED || stage == v1::STAGE_FAILED;
  };
  watcher_.WaitFor([&](const v1::WatchEvent& e) { return of_run(e) && ends(e.progress().stage()); },
                   sent + bound - absl::Now());
  for (const testing::Watcher::Timed& t : watcher_.timed_events()) {
    if (!of_run(t.event)) continue;
    const v1::Stage stage = t.event.progress().stage();
    const double ms = absl::ToDoubleMilliseconds(t.at - sent);
    if (out.first_ms < 0 && stage != v1::STAGE_QUEUED && stage != v1::STAGE_UNSPECIFIED) {
      out.first_ms = ms;
    }
    if (ends(stage)) {
      out.total_ms = ms;
      out.completed = stage == v1::STAGE_COMPLETED;
      break;
    }
  }
  if (out.total_ms < 0) {
    out.error =
        watcher_.status().has_value() ? "the WatchStore stream ended" : "no end seen in time";
  }
  return out;
}

}  // namespace autosync::bench
