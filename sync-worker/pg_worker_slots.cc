// The worker_slots SQL (migration 0005) and the CapacityReporter thread.
#include <pqxx/pqxx>

#include "common/log.h"
#include "common/pg_pool.h"
#include "sync-worker/capacity_reporter.h"

namespace autosync::worker {

absl::Status PublishWorkerSlots(common::PgPool& pool, const SlotReport& report) {
  return pool.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO worker_slots (worker_id, slots, in_flight) VALUES ($1, $2, $3) "
        "ON CONFLICT (worker_id) DO UPDATE SET slots = excluded.slots, "
        "in_flight = excluded.in_flight, seen_at = now()",
        report.worker_id, report.slots, report.in_flight);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status RemoveWorkerSlots(common::PgPool& pool, const std::string& worker_id) {
  return pool.Run([&](pqxx::connection_base& c) {
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM worker_slots WHERE worker_id = $1", worker_id);
    tx.commit();
    return absl::OkStatus();
  });
}

CapacityReporter::CapacityReporter(common::PgPool& pool, std::string worker_id, int slots,
                                   std::function<int()> in_flight, absl::Duration every)
    : pool_(pool),
      worker_id_(std::move(worker_id)),
      slots_(slots),
      in_flight_(std::move(in_flight)),
      every_(every) {}

CapacityReporter::~CapacityReporter() { Stop(); }

void CapacityReporter::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void CapacityReporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (absl::Status s = RemoveWorkerSlots(pool_, worker_id_); !s.ok()) {
    common::LogWarn("cannot remove this worker's slots; they stop counting in 10 s",
                    {{"worker", worker_id_}, {"error", s.message()}});
  }
}

void CapacityReporter::Loop() {
  bool failing = false;
  while (true) {
    const absl::Status s = PublishWorkerSlots(pool_, {worker_id_, slots_, in_flight_()});
    if (!s.ok() && !failing) {
      common::LogWarn("cannot publish this worker's slots; schedulers stop dispatching to it",
                      {{"worker", worker_id_}, {"error", s.message()}});
    } else if (s.ok() && failing) {
      common::LogInfo("worker slots published again", {{"worker", worker_id_}});
    }
    failing = !s.ok();
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), every_)) return;
  }
}

}  // namespace autosync::worker
