// Store notification webhooks, the pure parts: the body, the signature (against a vector
// computed outside this code), what an attempt's answer means, the staleness rule, resolving the
// key's reference; then the Notifier's rules against a fake store and a scripted webhook.
#include "scheduler-service/notifier.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Notification RunFailed() {
  Notification n;
  n.condition = NotifyCondition::kRunFailed;
  n.store_id = "acme";
  n.run_id = "r-1";
  n.error = "boom";
  n.time = absl::FromUnixSeconds(1767323045);  // 2026-01-02T03:04:05Z
  return n;
}

TEST(NotifierTest, RunFailedBodyCarriesTheRunAndNullWhenNeverSynced) {
  EXPECT_EQ(NotificationBody(RunFailed(), std::nullopt),
            R"({"event":"run_failed","store_id":"acme","run_id":"r-1","error":"boom",)"
            R"("last_success":null,"time":"2026-01-02T03:04:05Z"})");
}

TEST(NotifierTest, DataStaleBodyCarriesTheLastSuccessAndTheThreshold) {
  Notification n;
  n.condition = NotifyCondition::kDataStale;
  n.store_id = "acme";
  n.staleness_seconds = 900;
  n.time = absl::FromUnixSeconds(1767323045);
  EXPECT_EQ(NotificationBody(n, absl::FromUnixSeconds(1767316800)),
            R"({"event":"data_stale","store_id":"acme","last_success":"2026-01-02T01:20:00Z",)"
            R"("staleness_seconds":900,"time":"2026-01-02T03:04:05Z"})");
}

TEST(NotifierTest, BodyEscapesTheError) {
  Notification n = RunFailed();
  n.error = "page \"2\"\n\\ failed\x01";
  EXPECT_THAT(NotificationBody(n, std::nullopt),
              HasSubstr(R"("error":"page \"2\"\n\\ failed\u0001")"));
}

// The expected value was computed independently, with both
//   python3 -c 'import hmac,hashlib; print(hmac.new(b"s3cret-key",
//     b"1767323045." + BODY, hashlib.sha256).hexdigest())'
// and
//   printf '%s' "1767323045.$BODY" | openssl dgst -sha256 -hmac 's3cret-key'
// where BODY is the run_failed body of RunFailedBodyCarriesTheRunAndNullWhenNeverSynced.
TEST(NotifierTest, SignatureIsHmacSha256OfTimestampDotBody) {
  const std::string body = NotificationBody(RunFailed(), std::nullopt);
  EXPECT_EQ(SignNotification("s3cret-key", 1767323045, body),
            "sha256=74a123b1f7e4625cb39318c1c87dcb73fb66ac88d007e0f352973bd80d80495c");
  // Another timestamp or key signs differently.
  EXPECT_NE(SignNotification("s3cret-key", 1767323046, body),
            SignNotification("s3cret-key", 1767323045, body));
  EXPECT_NE(SignNotification("other-key", 1767323045, body),
            SignNotification("s3cret-key", 1767323045, body));
}

TEST(NotifierTest, TwoXxIsDeliveredServerTroubleRetriedOtherRefusalsFail) {
  EXPECT_EQ(ClassifyAttempt(200), AttemptResult::kDelivered);
  EXPECT_EQ(ClassifyAttempt(204), AttemptResult::kDelivered);
  EXPECT_EQ(ClassifyAttempt(500), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(503), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(408), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(429), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(400), AttemptResult::kFailed);
  EXPECT_EQ(ClassifyAttempt(401), AttemptResult::kFailed);
  EXPECT_EQ(ClassifyAttempt(404), AttemptResult::kFailed);
  EXPECT_EQ(ClassifyAttempt(301), AttemptResult::kFailed);  // redirects are not followed
  EXPECT_EQ(ClassifyAttempt(absl::DeadlineExceededError("timeout")), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(absl::UnavailableError("refused")), AttemptResult::kRetry);
  EXPECT_EQ(ClassifyAttempt(absl::CancelledError("stopping")), AttemptResult::kFailed);
  EXPECT_EQ(AttemptLabel(absl::DeadlineExceededError("t")), "timeout");
  EXPECT_EQ(AttemptLabel(absl::UnavailableError("r")), "error");
  EXPECT_EQ(AttemptLabel(502), "5xx");
  EXPECT_EQ(AttemptLabel(201), "2xx");
}

TEST(NotifierTest, StaleIsOlderThanTwiceTheThresholdCountingANeverSyncedStoreFromCreation) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const double unix_now = 1'800'000'000;
  EXPECT_FALSE(IsDataStale(unix_now - 1800, absl::InfinitePast(), 900, now));  // exactly 2x
  EXPECT_TRUE(IsDataStale(unix_now - 1801, absl::InfinitePast(), 900, now));
  EXPECT_FALSE(IsDataStale(unix_now - 1000, absl::InfinitePast(), 900, now));
  // Never synced: from its creation.
  EXPECT_FALSE(IsDataStale(0, now - absl::Seconds(60), 900, now));
  EXPECT_TRUE(IsDataStale(0, now - absl::Seconds(1801), 900, now));
  EXPECT_FALSE(IsDataStale(0, now, 0, now));  // no threshold, no rule
}

TEST(NotifierTest, SecretRefsResolveFromTheEnvironmentOrAFileAndErrorsNeverShowTheKey) {
  ::setenv("AUTOSYNC_NOTIFIER_TEST_KEY", "env-key", 1);
  absl::StatusOr<std::string> env = ResolveSecretRef("env:AUTOSYNC_NOTIFIER_TEST_KEY");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(*env, "env-key");
  EXPECT_FALSE(ResolveSecretRef("env:AUTOSYNC_NOTIFIER_TEST_UNSET").ok());

  const std::string path = ::testing::TempDir() + "notifier_key";
  { std::ofstream(path) << "file-key\n"; }
  absl::StatusOr<std::string> file = ResolveSecretRef("file:" + path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(*file, "file-key");  // the trailing newline is not part of the key
  absl::StatusOr<std::string> missing = ResolveSecretRef("file:/nonexistent/key");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("notify_secret_ref"));
  absl::StatusOr<std::string> raw = ResolveSecretRef("the-key-itself");
  ASSERT_FALSE(raw.ok());
  EXPECT_THAT(raw.status().message(), Not(HasSubstr("the-key-itself")));
}

// ---- The Notifier against fakes ----

class FakeStore final : public NotificationStore {
 public:
  absl::StatusOr<std::optional<NotifyTarget>> LoadNotifyTarget(absl::string_view id) override {
    if (id == "gone") return std::nullopt;
    NotifyTarget t;
    if (id != "quiet") {
      t.webhook_url = "https://hooks.example.com/h";
      t.secret_ref = "env:AUTOSYNC_NOTIFIER_FAKE_KEY";
    }
    return t;
  }
  absl::StatusOr<NotifyClaim> ClaimNotification(absl::string_view id, absl::string_view) override {
    absl::MutexLock lock(&mu);
    ++claims;
    return NotifyClaim{.won = id != "claimed-elsewhere", .next_after = absl::Hours(1)};
  }
  absl::Status RecordNotificationOutcome(absl::string_view, absl::string_view,
                                         absl::string_view outcome) override {
    absl::MutexLock lock(&mu);
    outcomes.emplace_back(outcome);
    return absl::OkStatus();
  }
  absl::Mutex mu;
  int claims ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> outcomes ABSL_GUARDED_BY(mu);
};

// Answers each POST with the next scripted answer (the last one repeats) and keeps what it got.
class ScriptedPoster final : public WebhookPoster {
 public:
  explicit ScriptedPoster(std::vector<absl::StatusOr<int>> answers)
      : answers_(std::move(answers)) {}
  absl::StatusOr<int> Post(const std::string&,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, absl::Duration,
                           const std::atomic<bool>&) override {
    absl::MutexLock lock(&mu_);
    posts_.push_back({headers, body});
    return answers_[std::min(posts_.size(), answers_.size()) - 1];
  }
  struct Sent {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  std::vector<Sent> posts() {
    absl::MutexLock lock(&mu_);
    return posts_;
  }

 private:
  const std::vector<absl::StatusOr<int>> answers_;
  absl::Mutex mu_;
  std::vector<Sent> posts_ ABSL_GUARDED_BY(mu_);
};

class NotifierRulesTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("AUTOSYNC_NOTIFIER_FAKE_KEY", "fake-key", 1); }

  // A started notifier whose webhook answers `answers`; 3 attempts, millisecond backoff.
  void Start(std::vector<absl::StatusOr<int>> answers, size_t queue_limit = 100,
             bool start = true) {
    auto poster = std::make_unique<ScriptedPoster>(std::move(answers));
    poster_ = poster.get();
    notifier_ =
        std::make_unique<Notifier>(Notifier::Options{.timeout = absl::Seconds(1),
                                                     .attempts = 3,
                                                     .queue_limit = queue_limit,
                                                     .threads = 1,
                                                     .backoff_initial = absl::Milliseconds(1),
                                                     .backoff_max = absl::Milliseconds(4)},
                                   store_, std::move(poster), metrics_, clock_);
    if (start) notifier_->Start();
  }
  double Count(absl::string_view outcome) {
    return metrics_.notifications
        .Add({{"condition", "run_failed"}, {"outcome", std::string(outcome)}})
        .Value();
  }
  // Waits (bounded) until `outcome` was counted `n` times.
  bool WaitForCount(absl::string_view outcome, double n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (Count(outcome) < n) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }
  Notification For(const std::string& store) {
    Notification n = RunFailed();
    n.store_id = store;
    return n;
  }

  SchedulerRegistry registry_;
  SchedulerMetrics metrics_{registry_};
  RealClock clock_;
  FakeStore store_;
  ScriptedPoster* poster_ = nullptr;
  std::unique_ptr<Notifier> notifier_;
};

TEST_F(NotifierRulesTest, ServerErrorsAreRetriedUpToTheAttemptsThenFailed) {
  Start({500});
  notifier_->Enqueue(For("shop"));
  ASSERT_TRUE(WaitForCount("failed", 1));
  EXPECT_EQ(poster_->posts().size(), 3u);
  absl::MutexLock lock(&store_.mu);
  EXPECT_EQ(store_.outcomes, std::vector<std::string>{"failed"});
}

TEST_F(NotifierRulesTest, ARefusalIsNotRetried) {
  Start({400});
  notifier_->Enqueue(For("shop"));
  ASSERT_TRUE(WaitForCount("failed", 1));
  EXPECT_EQ(poster_->posts().size(), 1u);
}

TEST_F(NotifierRulesTest, ThrottledAndTimedOutAreRetriedUntilDelivered) {
  Start({429, absl::DeadlineExceededError("slow"), 204});
  notifier_->Enqueue(For("shop"));
  ASSERT_TRUE(WaitForCount("delivered", 1));
  const std::vector<ScriptedPoster::Sent> posts = poster_->posts();
  ASSERT_EQ(posts.size(), 3u);
  // Each attempt carries the signature of its own timestamp over the same body.
  for (const auto& post : posts) {
    std::map<std::string, std::string> h(post.headers.begin(), post.headers.end());
    EXPECT_EQ(h["Content-Type"], "application/json");
    EXPECT_EQ(h["X-Autosync-Event"], "run_failed");
    int64_t ts = 0;
    ASSERT_TRUE(absl::SimpleAtoi(h["X-Autosync-Timestamp"], &ts));
    EXPECT_EQ(h["X-Autosync-Signature"], SignNotification("fake-key", ts, post.body));
    EXPECT_EQ(post.body, NotificationBody(For("shop"), std::nullopt));
  }
}

TEST_F(NotifierRulesTest, AClaimHeldElsewhereSuppressesAndTheHourIsRememberedHere) {
  Start({200});
  notifier_->Enqueue(For("claimed-elsewhere"));
  ASSERT_TRUE(WaitForCount("suppressed", 1));
  notifier_->Enqueue(For("claimed-elsewhere"));
  ASSERT_TRUE(WaitForCount("suppressed", 2));
  EXPECT_TRUE(poster_->posts().empty());
  absl::MutexLock lock(&store_.mu);
  EXPECT_EQ(store_.claims, 1);  // the second was suppressed without asking the database
}

TEST_F(NotifierRulesTest, AStoreWithoutAWebhookOrGoneSendsNothing) {
  Start({200});
  notifier_->Enqueue(For("quiet"));
  notifier_->Enqueue(For("gone"));
  notifier_->Enqueue(For("shop"));  // one thread, in order: once this is counted, so were they
  ASSERT_TRUE(WaitForCount("delivered", 1));
  EXPECT_EQ(poster_->posts().size(), 1u);
  absl::MutexLock lock(&store_.mu);
  EXPECT_EQ(store_.claims, 1);
}

TEST_F(NotifierRulesTest, AFullQueueDropsAndCounts) {
  Start({200}, /*queue_limit=*/2, /*start=*/false);
  for (int i = 0; i < 3; ++i) notifier_->Enqueue(For(absl::StrCat("shop", i)));
  EXPECT_EQ(Count("dropped"), 1);
  notifier_->Start();
  ASSERT_TRUE(WaitForCount("delivered", 2));
}

}  // namespace
}  // namespace autosync::scheduler
