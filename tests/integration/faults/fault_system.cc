#include "tests/integration/faults/fault_system.h"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <pqxx/pqxx>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_probe.h"

namespace autosync::testing {

namespace v1 = autosync::v1;

namespace {

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

}  // namespace

uint64_t FaultSeed() {
  uint64_t seed = 0;
  const char* env = std::getenv("AUTOSYNC_FAULT_SEED");
  if (env == nullptr || !absl::SimpleAtoi(env, &seed)) seed = std::random_device{}();
  std::cout << "fault seed: " << seed << " (replay with AUTOSYNC_FAULT_SEED=" << seed << ")"
            << std::endl;
  return seed;
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));  // polled state has no event to wait on
  }
}

// ---- FaultSystem ----

std::string FaultSystem::Process::target() const { return absl::StrCat("127.0.0.1:", port); }

absl::Status FaultSystem::StartSim(std::vector<std::string> args) {
  auto sim = StoreSim::Start(std::move(args));
  if (!sim.ok()) return sim.status();
  sim_ = std::move(*sim);
  return absl::OkStatus();
}

absl::Status FaultSystem::StartProcess(Process& p, const std::string& binary,
                                       const std::map<std::string, std::string>& env) {
  auto child = ChildProcess::Start(BinaryPath(binary), {.args = p.args, .env = env});
  if (!child.ok()) return child.status();
  p.process = std::move(*child);
  if (absl::Status s = WaitForServing(p.target(), absl::Seconds(30)); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat(binary, " did not become SERVING: ", s.message(), "\n", p.process->Output()));
  }
  return absl::OkStatus();
}

std::string FaultSystem::WorkerTarget(size_t count) {
  if (workers_.size() < count) workers_.resize(count);
  std::string target = "ipv4:";
  for (size_t i = 0; i < count; ++i) {
    if (workers_[i].port == 0) workers_[i].port = FreePort();
    absl::StrAppend(&target, i == 0 ? "" : ",", "127.0.0.1:", workers_[i].port);
  }
  return target;
}

absl::Status FaultSystem::StartWorker(size_t i, std::vector<std::string> extra_args) {
  WorkerTarget(i + 1);
  Process& w = workers_[i];
  w.metrics_port = FreePort();
  w.args = {"--database_url=" + db_url_, "--insecure_grpc",
            absl::StrCat("--listen=127.0.0.1:", w.port),
            absl::StrCat("--metrics_listen=127.0.0.1:", w.metrics_port)};
  w.args.insert(w.args.end(), extra_args.begin(), extra_args.end());
  return StartProcess(w, "sync-worker", {{"SIM_TOKEN", "sim-token"}});
}

absl::Status FaultSystem::KillWorker(size_t i) {
  Process& w = workers_.at(i);
  w.process->Signal(SIGKILL);
  absl::StatusOr<int> code = w.process->Wait(absl::Seconds(10));
  return code.status();
}

absl::Status FaultSystem::RestartWorker(size_t i) {
  return StartProcess(workers_.at(i), "sync-worker", {{"SIM_TOKEN", "sim-token"}});
}

absl::Status FaultSystem::StartScheduler(const std::string& name,
                                         std::vector<std::string> extra_args) {
  const std::string worker_target = WorkerTarget(std::max<size_t>(1, workers_.size()));
  Scheduler s;
  s.port = FreePort();
  s.metrics_port = FreePort();
  s.args = {"--database_url=" + db_url_,
            "--insecure_grpc",
            absl::StrCat("--listen=127.0.0.1:", s.port),
            absl::StrCat("--metrics_listen=127.0.0.1:", s.metrics_port),
            "--replica_id=" + name,
            "--worker_target=" + worker_target};
  s.args.insert(s.args.end(), extra_args.begin(), extra_args.end());
  if (absl::Status st = StartProcess(s, "scheduler-service", {}); !st.ok()) return st;
  s.stub =
      v1::Scheduler::NewStub(grpc::CreateChannel(s.target(), grpc::InsecureChannelCredentials()));
  schedulers_.push_back(std::move(s));
  return absl::OkStatus();
}

v1::Store FaultSystem::StoreFor(const std::string& id, const std::string& schedule, bool with_ads) {
  v1::Store s;
  s.set_store_id(id);
  s.set_display_name("Store " + id);
  s.set_schedule(schedule);
  s.set_timezone("UTC");
  s.set_enabled(true);
  s.set_orders_api_base(sim_->orders_base(id));
  if (with_ads) {
    s.set_ads_api_base(sim_->base_url());
    s.set_ad_account_id(id);
  }
  s.set_credentials_ref("env:SIM_TOKEN");
  return s;
}

grpc::Status FaultSystem::Upsert(const v1::Store& store, size_t replica) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::UpsertStoreRequest req;
  *req.mutable_store() = store;
  v1::UpsertStoreResponse resp;
  return stub(replica).UpsertStore(&ctx, req, &resp);
}

grpc::Status FaultSystem::Trigger(const std::string& store, v1::TriggerSyncResponse* out,
                                  size_t replica, bool force) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::TriggerSyncRequest req;
  req.set_store_id(store);
  req.set_trigger(v1::TRIGGER_MANUAL);
  req.set_force(force);
  return stub(replica).TriggerSync(&ctx, req, out);
}

grpc::Status FaultSystem::Status(const std::string& store, v1::SyncStatus* out, size_t replica) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::GetSyncStatusRequest req;
  req.set_store_id(store);
  v1::GetSyncStatusResponse resp;
  grpc::Status s = stub(replica).GetSyncStatus(&ctx, req, &resp);
  if (s.ok() && out != nullptr) *out = resp.status();
  return s;
}

absl::StatusOr<int64_t> FaultSystem::Scalar(const std::string& sql) {
  try {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return absl::NotFoundError("no value: " + sql);
    return r[0][0].as<int64_t>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

absl::StatusOr<std::string> FaultSystem::Text(const std::string& sql) {
  try {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return absl::NotFoundError("no value: " + sql);
    return r[0][0].as<std::string>();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

absl::Status FaultSystem::Exec(const std::string& sql) {
  try {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

int64_t FaultSystem::ScalarOrDie(const std::string& sql) {
  absl::StatusOr<int64_t> v = Scalar(sql);
  if (!v.ok()) {
    ADD_FAILURE() << v.status();
    return -1;
  }
  return *v;
}

std::string FaultSystem::CompareWithSource(const std::string& store) {
  absl::StatusOr<SimSummary> source = sim_->Summary(store);
  absl::StatusOr<SimSummary> stored = DatabaseSummary(db_url_, store);
  if (!source.ok() || !stored.ok()) {
    return absl::StrCat("summaries: ", source.status().ToString(), " / ",
                        stored.status().ToString());
  }
  if (source->count == stored->count && source->checksum == stored->checksum) return "";
  return absl::StrCat("source ", source->count, " orders (", source->checksum, "), database ",
                      stored->count, " orders (", stored->checksum, ")");
}

}  // namespace autosync::testing
