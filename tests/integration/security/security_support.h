// Security tests' support: a whole running system (PostgreSQL database, store-sim, scheduler,
// sync-worker, ws-gateway with a JWT secret) as real processes, HTTP calls with arbitrary
// headers and methods, and HS256 tokens signed with a test secret.
#pragma once

#include <grpcpp/security/credentials.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "tests/support/process.h"
#include "tests/support/store_sim.h"

namespace autosync::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  long status = 0;
  std::string body;
  std::string headers;  // the raw response header block
};

// One HTTP request (any method, any headers) over loopback with a deadline.
absl::StatusOr<HttpReply> HttpCall(const std::string& method, const std::string& url,
                                   const Headers& headers = {}, const std::string& body = "",
                                   absl::Duration timeout = absl::Seconds(10));

// Writes `content` to a fresh file under the test temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& content);

// An HS256 token: {"sub":sub,"stores":<stores_json>,"exp":now+exp_offset} signed with `secret`.
std::string SignedToken(const std::string& secret, const std::string& stores_json,
                        int64_t exp_offset_seconds = 3600, const std::string& sub = "tester");

struct SystemOptions {
  // store-sim arguments, e.g. {"--stores=storea:200,storeb:200"}.
  std::vector<std::string> sim_args = {};
  // Database URL the scheduler and the worker use (FreshDatabaseUrl() when empty).
  std::string database_url = {};
  // Environment of the worker (store API tokens referenced by credentials_ref).
  std::map<std::string, std::string> worker_env = {{"SIM_TOKEN", "sim-token"}};
  // Extra arguments for every service (e.g. "--log_format=json").
  std::vector<std::string> service_args = {};
  // Empty: the gateway runs in dev mode.
  std::string jwt_secret = {};
  std::vector<std::string> gateway_args = {};
  // mTLS between the services (tests/integration/security/mtls_test.cc): each service's own
  // --tls_* arguments, and the credentials this test process reaches the scheduler and the
  // worker with. Unset (null credentials): every service runs with --insecure_grpc.
  struct Tls {
    std::vector<std::string> scheduler_args = {};
    std::vector<std::string> worker_args = {};
    std::vector<std::string> gateway_args = {};
    std::shared_ptr<grpc::ChannelCredentials> scheduler_credentials = nullptr;
    std::shared_ptr<grpc::ChannelCredentials> worker_credentials = nullptr;
  };
  Tls tls = {};
};

// The running system. Every process is stopped (SIGTERM, then SIGKILL) on destruction.
class System final {
 public:
  static absl::StatusOr<std::unique_ptr<System>> Start(SystemOptions options);
  ~System();

  const std::string& database_url() const { return database_url_; }
  StoreSim& sim() { return *sim_; }
  autosync::v1::Scheduler::Stub& scheduler() { return *stub_; }
  const std::string& scheduler_target() const { return scheduler_target_; }
  const std::string& worker_target() const { return worker_target_; }
  int gateway_port() const { return gateway_port_; }
  std::string GatewayUrl(const std::string& path) const;
  // /metrics of the scheduler, the worker and the gateway.
  std::vector<std::string> MetricsUrls() const;
  // Every process's output so far (each prefixed with its name).
  std::string AllOutput() const;
  ChildProcess& gateway() { return *gateway_; }

  // Registers `store` (UpsertStore) with store-sim's API bases and `credentials_ref`.
  absl::Status RegisterStore(const std::string& store,
                             const std::string& credentials_ref = "env:SIM_TOKEN");
  // TriggerSync through the scheduler and waits until the run is no longer running; returns
  // the final run (from ListRuns).
  absl::StatusOr<autosync::v1::Run> TriggerAndWait(const std::string& store,
                                                   absl::Duration timeout = absl::Seconds(60));
  // Waits until `run_id` of `store` has finished; returns it.
  absl::StatusOr<autosync::v1::Run> WaitForRun(const std::string& store, const std::string& run_id,
                                               absl::Duration timeout = absl::Seconds(60));

 private:
  System() = default;
  std::string database_url_;
  std::unique_ptr<StoreSim> sim_;
  std::unique_ptr<ChildProcess> scheduler_;
  std::unique_ptr<ChildProcess> worker_;
  std::unique_ptr<ChildProcess> gateway_;
  std::unique_ptr<autosync::v1::Scheduler::Stub> stub_;
  std::string scheduler_target_;
  std::string worker_target_;
  int scheduler_metrics_port_ = 0;
  int worker_metrics_port_ = 0;
  int gateway_port_ = 0;
  int gateway_metrics_port_ = 0;
};

}  // namespace autosync::testing
