// Store notification webhooks, the pure parts: the body, the signature (against a vector
// computed outside this code), what an attempt's answer means, the staleness rule, resolving the
// key's reference.
#include "scheduler-service/notifier.h"

#include <cstdlib>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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
  {
    std::ofstream(path) << "file-key\n";
  }
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

}  // namespace
}  // namespace autosync::scheduler
