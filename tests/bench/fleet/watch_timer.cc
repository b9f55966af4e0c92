#include "tests/bench/fleet/watch_timer.h"

#include "absl/time/clock.h"

namespace autosync::bench {

namespace v1 = autosync::v1;

RunTimer::RunTimer(v1::Scheduler::Stub& stub, std::string store_id)
    : stub_(stub), store_id_(std::move(store_id)) {
  v1::WatchStoreRequest request;
  request.set_store_id(store_id_);
  request.set_watcher_id("fleet_bench");
  reader_ = stub_.WatchStore(&context_, request);
  thread_ = std::thread([this] {
    v1::WatchEvent e;
    while (reader_->Read(&e)) {
      if (!e.has_progress()) continue;
      const absl::Time at = absl::Now();
      absl::MutexLock lock(&mu_);
      events_.push_back({e.progress().run_id(), e.progress().stage(), at});
    }
    (void)reader_->Finish();
    absl::MutexLock lock(&mu_);
    done_ = true;
  });
}

RunTimer::~RunTimer() {
  context_.TryCancel();
  thread_.join();
}

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
  absl::MutexLock lock(&mu_);
  auto ended = [this, &out]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const Received& r : events_) {
      if (r.run_id == out.run_id &&
          (r.stage == v1::STAGE_COMPLETED || r.stage == v1::STAGE_FAILED)) {
        return true;
      }
    }
    return done_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ended), sent + bound);
  for (const Received& r : events_) {
    if (r.run_id != out.run_id) continue;
    const double ms = absl::ToDoubleMilliseconds(r.at - sent);
    if (out.first_ms < 0 && r.stage != v1::STAGE_QUEUED && r.stage != v1::STAGE_UNSPECIFIED) {
      out.first_ms = ms;
    }
    if (r.stage == v1::STAGE_COMPLETED || r.stage == v1::STAGE_FAILED) {
      out.total_ms = ms;
      out.completed = r.stage == v1::STAGE_COMPLETED;
      break;
    }
  }
  if (out.total_ms < 0) out.error = done_ ? "the WatchStore stream ended" : "no end seen in time";
  return out;
}

}  // namespace autosync::bench
