#include "tests/integration/security/security_support.h"

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "ws-gateway/jwt.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

void Stop(std::unique_ptr<ChildProcess>& p) {
  if (p == nullptr) return;
  p->Signal(SIGTERM);
  if (!p->Wait(absl::Seconds(10)).ok()) p->Signal(SIGKILL);
  (void)p->Wait(absl::Seconds(5));
}

}  // namespace

absl::StatusOr<HttpReply> HttpCall(const std::string& method, const std::string& url,
                                   const Headers& headers, const std::string& body,
                                   absl::Duration timeout) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpReply reply;
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(method, " ", url, ": ", curl_easy_strerror(code)));
  }
  return reply;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  static int counter = 0;
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/", name, "-", getpid(), "-", ++counter);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

std::string SignedToken(const std::string& secret, const std::string& stores_json,
                        int64_t exp_offset_seconds, const std::string& sub) {
  return gateway::SignJwtHs256(
      R"({"alg":"HS256","typ":"JWT"})",
      absl::StrCat(R"({"sub":")", sub, R"(","stores":)", stores_json, R"(,"exp":)",
                   absl::ToUnixSeconds(absl::Now()) + exp_offset_seconds, "}"),
      secret);
}

absl::StatusOr<std::unique_ptr<System>> System::Start(SystemOptions options) {
  auto system = std::unique_ptr<System>(new System());
  system->database_url_ = options.database_url.empty() ? FreshDatabaseUrl() : options.database_url;
  if (system->database_url_.empty()) return absl::InternalError("no database");
  std::vector<std::string> sim_args = options.sim_args;
  sim_args.push_back("--leak_per_second=0");
  auto sim = StoreSim::Start(sim_args);
  if (!sim.ok()) return sim.status();
  system->sim_ = std::move(*sim);

  // The scheduler migrates the database; the worker needs the tables, so it starts after.
  const bool tls = options.tls.scheduler_credentials != nullptr;
  const auto grpc_args = [&](const std::vector<std::string>& tls_args) {
    return tls ? tls_args : std::vector<std::string>{"--insecure_grpc"};
  };
  const auto scheduler_credentials =
      tls ? options.tls.scheduler_credentials : grpc::InsecureChannelCredentials();
  const int worker_port = FreePort();
  system->worker_target_ = absl::StrCat("127.0.0.1:", worker_port);
  const int scheduler_port = FreePort();
  system->scheduler_metrics_port_ = FreePort();
  system->scheduler_target_ = absl::StrCat("127.0.0.1:", scheduler_port);
  std::vector<std::string> args = {
      "--database_url=" + system->database_url_,
      absl::StrCat("--listen=", system->scheduler_target_),
      absl::StrCat("--metrics_listen=127.0.0.1:", system->scheduler_metrics_port_),
      "--replica_id=sec",
      "--worker_target=" + system->worker_target_,
      "--run_stale_seconds=5",
      "--schedule_refresh_seconds=2"};
  args.insert(args.end(), options.service_args.begin(), options.service_args.end());
  for (std::string& a : grpc_args(options.tls.scheduler_args)) args.push_back(std::move(a));
  auto scheduler = ChildProcess::Start(BinaryPath("scheduler-service"), {.args = args});
  if (!scheduler.ok()) return scheduler.status();
  system->scheduler_ = std::move(*scheduler);
  if (absl::Status s =
          WaitForServing(system->scheduler_target_, scheduler_credentials, absl::Seconds(30));
      !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("scheduler did not come up: ", s.message(), "\n", system->AllOutput()));
  }
  system->stub_ =
      v1::Scheduler::NewStub(grpc::CreateChannel(system->scheduler_target_, scheduler_credentials));

  system->worker_metrics_port_ = FreePort();
  args = {"--database_url=" + system->database_url_,
          absl::StrCat("--listen=", system->worker_target_),
          absl::StrCat("--metrics_listen=127.0.0.1:", system->worker_metrics_port_),
          "--max_concurrent_syncs=4", "--ads_max_throttle_wait_seconds=1"};
  args.insert(args.end(), options.service_args.begin(), options.service_args.end());
  for (std::string& a : grpc_args(options.tls.worker_args)) args.push_back(std::move(a));
  auto worker =
      ChildProcess::Start(BinaryPath("sync-worker"), {.args = args, .env = options.worker_env});
  if (!worker.ok()) return worker.status();
  system->worker_ = std::move(*worker);
  if (absl::Status s =
          WaitForServing(system->worker_target_,
                         tls ? options.tls.worker_credentials : grpc::InsecureChannelCredentials(),
                         absl::Seconds(30));
      !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("worker did not come up: ", s.message(), "\n", system->AllOutput()));
  }

  system->gateway_port_ = FreePort();
  system->gateway_metrics_port_ = FreePort();
  args = {absl::StrCat("--listen=127.0.0.1:", system->gateway_port_),
          absl::StrCat("--metrics_listen=127.0.0.1:", system->gateway_metrics_port_),
          "--scheduler_target=" + system->scheduler_target_,
          "--upstream_timeout_ms=5000",
          "--store_triggers_per_minute=600",
          "--client_triggers_per_minute=600"};
  if (!options.jwt_secret.empty()) {
    args.push_back("--jwt_secret_file=" + WriteTempFile("jwt-secret", options.jwt_secret + "\n"));
  }
  args.insert(args.end(), options.service_args.begin(), options.service_args.end());
  args.insert(args.end(), options.gateway_args.begin(), options.gateway_args.end());
  for (std::string& a : grpc_args(options.tls.gateway_args)) args.push_back(std::move(a));
  auto gateway = ChildProcess::Start(BinaryPath("ws-gateway"), {.args = args});
  if (!gateway.ok()) return gateway.status();
  system->gateway_ = std::move(*gateway);
  auto health = WaitForHttp(system->GatewayUrl("/health"), absl::Seconds(30));
  if (!health.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "gateway did not come up: ", health.status().message(), "\n", system->AllOutput()));
  }
  return system;
}

System::~System() {
  Stop(gateway_);
  Stop(worker_);
  Stop(scheduler_);
  // Under the asan preset the services report sanitizer findings on their own stderr, which
  // no test would otherwise read.
  std::string output = AllOutput();
  if (sim_ != nullptr) absl::StrAppend(&output, "--- store-sim ---\n", sim_->process().Output());
  for (const char* finding : {"runtime error:", "AddressSanitizer", "LeakSanitizer"}) {
    EXPECT_FALSE(absl::StrContains(output, finding)) << output;
  }
}

std::string System::GatewayUrl(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", gateway_port_, path);
}

std::vector<std::string> System::MetricsUrls() const {
  return {absl::StrCat("http://127.0.0.1:", scheduler_metrics_port_, "/metrics"),
          absl::StrCat("http://127.0.0.1:", worker_metrics_port_, "/metrics"),
          absl::StrCat("http://127.0.0.1:", gateway_metrics_port_, "/metrics")};
}

std::string System::AllOutput() const {
  std::string out;
  for (const auto& [name, p] :
       std::vector<std::pair<const char*, const ChildProcess*>>{{"scheduler", scheduler_.get()},
                                                                {"worker", worker_.get()},
                                                                {"gateway", gateway_.get()}}) {
    if (p != nullptr) absl::StrAppend(&out, "--- ", name, " ---\n", p->Output());
  }
  return out;
}

absl::Status System::RegisterStore(const std::string& store, const std::string& credentials_ref) {
  v1::UpsertStoreRequest req;
  v1::Store* s = req.mutable_store();
  s->set_store_id(store);
  s->set_display_name("Store " + store);
  s->set_schedule("0 0 1 1 *");  // effectively never: runs are triggered by the tests
  s->set_timezone("UTC");
  s->set_enabled(true);
  s->set_orders_api_base(sim_->orders_base(store));
  s->set_ads_api_base(sim_->base_url());
  s->set_ad_account_id(store);
  s->set_credentials_ref(credentials_ref);
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::UpsertStoreResponse resp;
  const grpc::Status status = stub_->UpsertStore(&ctx, req, &resp);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Run> System::WaitForRun(const std::string& store, const std::string& run_id,
                                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    v1::ListRunsRequest req;
    req.set_store_id(store);
    req.set_page_size(50);
    v1::ListRunsResponse resp;
    const grpc::Status status = stub_->ListRuns(&ctx, req, &resp);
    if (status.ok()) {
      for (const v1::Run& run : resp.runs()) {
        if (run.run_id() == run_id && run.status() != "queued" && run.status() != "running") {
          return run;
        }
      }
    }
    // Polling a finished-run list: bounded by the deadline, short sleeps between reads.
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("run ", run_id, " of ", store, " not finished"));
}

absl::StatusOr<v1::Run> System::TriggerAndWait(const std::string& store, absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(10)));
  v1::TriggerSyncRequest req;
  req.set_store_id(store);
  req.set_trigger(v1::TRIGGER_MANUAL);
  v1::TriggerSyncResponse resp;
  const grpc::Status status = stub_->TriggerSync(&ctx, req, &resp);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return WaitForRun(store, resp.run_id(), timeout);
}

}  // namespace autosync::testing
