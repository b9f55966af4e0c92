// Store notification webhooks end to end (issue 17): a real scheduler-service and sync-worker on
// a throw-away PostgreSQL, and a real HTTP receiver on 127.0.0.1 in this test. Runs fail for
// good because the worker has no such credentials variable (not retryable, so no retry run
// follows). Every wait is bounded by a deadline.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "autosync/v1/scheduler.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/grpc_probe.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/process.h"

namespace autosync::testing {
namespace {

namespace v1 = autosync::v1;
using ::testing::HasSubstr;

constexpr char kKey[] = "test-hook-key";

// A webhook receiver: accepts on 127.0.0.1, reads each request, and answers `status`, or never
// answers (`hang`: the connection is held open until the receiver is destroyed).
class Receiver {
 public:
  struct Request {
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
  };

  Receiver(int status, bool hang) : status_(status), hang_(hang) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Accept(); });
  }
  ~Receiver() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    absl::MutexLock lock(&mu_);
    for (int c : held_) ::close(c);
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/hook"); }

  std::vector<Request> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  // Waits until at least `n` requests arrived.
  bool WaitForRequests(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  // Connections accepted and never answered, still open.
  size_t held() {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }

 private:
  void Accept() {
    while (true) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;  // closed
      std::optional<Request> r = Read(c);
      absl::MutexLock lock(&mu_);
      if (r.has_value()) requests_.push_back(*std::move(r));
      if (hang_) {
        held_.push_back(c);
        continue;
      }
      const std::string answer = absl::StrCat("HTTP/1.1 ", status_,
                                              " X\r\nContent-Length: 0\r\n"
                                              "Connection: close\r\n\r\n");
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
    }
  }

  static std::optional<Request> Read(int c) {
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t length = 0;
    while (true) {
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          for (absl::string_view line : absl::StrSplit(data.substr(0, header_end), "\r\n")) {
            if (absl::StartsWithIgnoreCase(line, "content-length:")) {
              (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &length);
            }
          }
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
      const ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) return std::nullopt;
      data.append(buf, static_cast<size_t>(n));
    }
    Request r;
    bool first = true;
    for (absl::string_view line : absl::StrSplit(data.substr(0, header_end), "\r\n")) {
      if (first) {
        first = false;
        continue;
      }
      const size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      r.headers[absl::AsciiStrToLower(line.substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
    r.body = data.substr(header_end + 4, length);
    return r;
  }

  const int status_;
  const bool hang_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Request> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<int> held_ ABSL_GUARDED_BY(mu_);
};

// HMAC-SHA256 computed here, with OpenSSL directly (the signer's unit test checks it against a
// vector computed by python3 and openssl dgst).
std::string ExpectedSignature(const std::string& timestamp, const std::string& body) {
  const std::string message = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), kKey, static_cast<int>(sizeof(kKey) - 1),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &size);
  return "sha256=" + absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(mac), size));
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_url_ = FreshDatabaseUrl();
    ASSERT_FALSE(db_url_.empty());
    key_path_ = ::testing::TempDir() + "notify_test_key";
    std::ofstream(key_path_) << kKey << "\n";
  }

  // The scheduler first (it migrates), then a worker with slots.
  void Start(std::vector<std::string> extra) {
    worker_port_ = FreePort();
    metrics_port_ = FreePort();
    const int port = FreePort();
    std::vector<std::string> args = {"--database_url=" + db_url_,
                                     "--insecure_grpc",
                                     absl::StrCat("--listen=127.0.0.1:", port),
                                     absl::StrCat("--metrics_listen=127.0.0.1:", metrics_port_),
                                     "--replica_id=a",
                                     absl::StrCat("--worker_target=127.0.0.1:", worker_port_),
                                     "--run_stale_seconds=3",
                                     "--schedule_refresh_seconds=1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto scheduler = ChildProcess::Start(BinaryPath("scheduler-service"), {.args = args});
    ASSERT_TRUE(scheduler.ok()) << scheduler.status();
    scheduler_ = std::move(*scheduler);
    const std::string target = absl::StrCat("127.0.0.1:", port);
    ASSERT_TRUE(WaitForServing(target, absl::Seconds(20)).ok()) << scheduler_->Output();
    stub_ = v1::Scheduler::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    auto worker =
        ChildProcess::Start(BinaryPath("sync-worker"),
                            {.args = {"--database_url=" + db_url_, "--insecure_grpc",
                                      absl::StrCat("--listen=127.0.0.1:", worker_port_),
                                      "--metrics_listen=127.0.0.1:0", "--max_concurrent_syncs=4"},
                             .unset_env = {"NO_SUCH_TOKEN"}});
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = std::move(*worker);
    ASSERT_TRUE(WaitForServing(absl::StrCat("127.0.0.1:", worker_port_), absl::Seconds(20)).ok())
        << worker_->Output();
  }

  // A store whose runs fail for good: the worker has no NO_SUCH_TOKEN variable.
  v1::Store FailingStore(const std::string& id, const std::string& webhook) {
    v1::Store s;
    s.set_store_id(id);
    s.set_schedule("0 0 1 1 *");  // never fires during the test
    s.set_timezone("UTC");
    s.set_enabled(true);
    s.set_orders_api_base("http://127.0.0.1:1");
    s.set_ads_api_base("http://127.0.0.1:1");
    s.set_ad_account_id(id);
    s.set_credentials_ref("env:NO_SUCH_TOKEN");
    s.set_notify_webhook_url(webhook);
    s.set_notify_secret_ref("file:" + key_path_);
    return s;
  }

  grpc::Status Upsert(const v1::Store& store) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::UpsertStoreRequest req;
    *req.mutable_store() = store;
    v1::UpsertStoreResponse resp;
    return stub_->UpsertStore(&ctx, req, &resp);
  }

  // Triggers a run and waits until it is recorded failed; returns its id ("" on timeout).
  std::string TriggerAndWaitFailed(const std::string& id) {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(10)));
    v1::TriggerSyncRequest req;
    req.set_store_id(id);
    req.set_trigger(v1::TRIGGER_MANUAL);
    v1::TriggerSyncResponse resp;
    if (!stub_->TriggerSync(&ctx, req, &resp).ok() || !resp.started()) {
      ADD_FAILURE() << "trigger of " << id << " did not start a run";
      return "";
    }
    const bool failed =
        WaitUntil([&] { return RunStatus(resp.run_id()) == "failed"; }, absl::Seconds(60));
    if (!failed) {
      ADD_FAILURE() << "run " << resp.run_id()
                    << " not recorded failed: " << RunStatus(resp.run_id()) << "\n"
                    << scheduler_->Output();
      return "";
    }
    return resp.run_id();
  }

  std::string RunStatus(const std::string& run_id) {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec_params("SELECT status FROM sync_runs WHERE run_id = $1", run_id);
    return r.empty() ? "" : r[0][0].as<std::string>();
  }
  std::string Text(const std::string& sql) {
    pqxx::connection conn(db_url_);
    pqxx::read_transaction tx(conn);
    const pqxx::result r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }

  double Metric(const std::string& series) {
    absl::StatusOr<MetricValues> m = ScrapeMetrics(metrics_port_);
    return m.ok() ? SeriesValue(*m, series) : -1;
  }
  static std::string Notifications(const std::string& condition, const std::string& outcome) {
    return absl::StrCat("autosync_scheduler_notifications_total{condition=\"", condition,
                        "\",outcome=\"", outcome, "\"}");
  }

  static bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return true;
  }

  std::string db_url_;
  std::string key_path_;
  int worker_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<ChildProcess> scheduler_;
  std::unique_ptr<ChildProcess> worker_;
  std::unique_ptr<v1::Scheduler::Stub> stub_;
};

TEST_F(NotifyTest, RunFailedIsSentOnceAnHourSignedAndTheRestSuppressed) {
  Receiver receiver(200, /*hang=*/false);
  Start({});
  ASSERT_TRUE(Upsert(FailingStore("shop", receiver.url())).ok());
  const std::string first = TriggerAndWaitFailed("shop");
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(receiver.WaitForRequests(1, absl::Seconds(30))) << scheduler_->Output();
  // Two more runs fail within the hour: counted suppressed, never sent.
  ASSERT_FALSE(TriggerAndWaitFailed("shop").empty());
  ASSERT_FALSE(TriggerAndWaitFailed("shop").empty());
  ASSERT_TRUE(WaitUntil([&] { return Metric(Notifications("run_failed", "suppressed")) >= 2; },
                        absl::Seconds(30)))
      << scheduler_->Output();
  EXPECT_EQ(Metric(Notifications("run_failed", "delivered")), 1);
  EXPECT_EQ(Metric("autosync_scheduler_notification_attempts_total{condition=\"run_failed\","
                   "result=\"2xx\"}"),
            1);
  const std::vector<Receiver::Request> got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  const Receiver::Request& r = got[0];
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("x-autosync-event"), "run_failed");
  int64_t ts = 0;
  ASSERT_TRUE(absl::SimpleAtoi(r.headers.at("x-autosync-timestamp"), &ts));
  EXPECT_NEAR(static_cast<double>(ts), absl::ToUnixSeconds(absl::Now()), 120);
  EXPECT_EQ(r.headers.at("x-autosync-signature"),
            ExpectedSignature(r.headers.at("x-autosync-timestamp"), r.body));
  EXPECT_THAT(r.body, HasSubstr(R"("event":"run_failed","store_id":"shop")"));
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat(R"("run_id":")", first, "\"")));
  EXPECT_THAT(r.body, HasSubstr("NO_SUCH_TOKEN"));  // the run's error
  EXPECT_THAT(r.body, HasSubstr(R"("last_success":null)"));
  // The claim row says what happened to the one that was sent; the key never left the process.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Text(
                   "SELECT last_outcome FROM store_notifications WHERE store_id = 'shop' AND "
                   "condition = 'run_failed'") == "delivered";
      },
      absl::Seconds(10)));
  EXPECT_THAT(scheduler_->Output(), ::testing::Not(HasSubstr(kKey)));
}

TEST_F(NotifyTest, A500IsRetriedUpToTheAttemptsAndEndsFailed) {
  Receiver receiver(500, /*hang=*/false);
  Start({"--notify_attempts=3"});
  ASSERT_TRUE(Upsert(FailingStore("shop", receiver.url())).ok());
  ASSERT_FALSE(TriggerAndWaitFailed("shop").empty());
  // Backoff between attempts: full jitter under 1 s, then 2 s.
  ASSERT_TRUE(WaitUntil([&] { return Metric(Notifications("run_failed", "failed")) == 1; },
                        absl::Seconds(60)))
      << scheduler_->Output();
  // The outcome is counted after the last attempt: these are final.
  EXPECT_EQ(receiver.requests().size(), 3u);
  EXPECT_EQ(Metric("autosync_scheduler_notification_attempts_total{condition=\"run_failed\","
                   "result=\"5xx\"}"),
            3);
  EXPECT_EQ(Metric(Notifications("run_failed", "delivered")), 0);
  EXPECT_EQ(Text("SELECT last_outcome FROM store_notifications WHERE store_id = 'shop'"), "failed");
  // Every attempt is signed afresh with its own timestamp.
  for (const Receiver::Request& r : receiver.requests()) {
    EXPECT_EQ(r.headers.at("x-autosync-signature"),
              ExpectedSignature(r.headers.at("x-autosync-timestamp"), r.body));
  }
}

TEST_F(NotifyTest, AReceiverThatNeverAnswersHoldsUpNoRun) {
  Receiver receiver(200, /*hang=*/true);
  Start({"--notify_timeout_seconds=300"});
  ASSERT_TRUE(Upsert(FailingStore("shop", receiver.url())).ok());
  ASSERT_FALSE(TriggerAndWaitFailed("shop").empty());
  // The notification's POST arrives and is never answered...
  ASSERT_TRUE(receiver.WaitForRequests(1, absl::Seconds(30))) << scheduler_->Output();
  ASSERT_EQ(receiver.held(), 1u);
  // ...and the next run still runs and is recorded failed while that connection is held.
  ASSERT_FALSE(TriggerAndWaitFailed("shop").empty());
  EXPECT_EQ(receiver.held(), 1u);
  EXPECT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(Metric(Notifications("run_failed", "delivered")), 0);
  // A stopping scheduler cancels the POST in flight instead of waiting out its 300 s.
  scheduler_->Signal(SIGTERM);
  absl::StatusOr<int> code = scheduler_->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << scheduler_->Output();
  EXPECT_EQ(*code, 0);
}

TEST_F(NotifyTest, DataStaleIsSentForAnEnabledStoreThatNeverSynced) {
  Receiver receiver(204, /*hang=*/false);
  Start({});
  // Paused: never reported, whatever its data.
  v1::Store paused = FailingStore("paused", receiver.url());
  paused.set_enabled(false);
  paused.set_staleness_seconds(1);
  ASSERT_TRUE(Upsert(paused).ok());
  // Enabled, stale 2 s after its creation (twice its 1 s threshold), never synced.
  v1::Store stale = FailingStore("stale", receiver.url());
  stale.set_staleness_seconds(1);
  ASSERT_TRUE(Upsert(stale).ok());
  ASSERT_TRUE(WaitUntil([&] { return Metric(Notifications("data_stale", "delivered")) == 1; },
                        absl::Seconds(30)))
      << scheduler_->Output();
  const std::vector<Receiver::Request> got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers.at("x-autosync-event"), "data_stale");
  EXPECT_THAT(got[0].body, HasSubstr(R"("event":"data_stale","store_id":"stale")"));
  EXPECT_THAT(got[0].body, HasSubstr(R"("last_success":null,"staleness_seconds":1,)"));
  EXPECT_EQ(got[0].headers.at("x-autosync-signature"),
            ExpectedSignature(got[0].headers.at("x-autosync-timestamp"), got[0].body));
  // Still stale at every refresh (each second): suppressed for the hour, not sent again.
  ASSERT_TRUE(WaitUntil([&] { return Metric(Notifications("data_stale", "suppressed")) >= 2; },
                        absl::Seconds(30)));
  EXPECT_EQ(receiver.requests().size(), 1u);
}

}  // namespace
}  // namespace autosync::testing
