// Per-store notification webhooks (README, "Notifications"): when a run of a store fails for
// good or its data goes stale, the scheduler POSTs a signed JSON event to the store's
// notify_webhook_url. The pure parts (body, signature, what an attempt's answer means, the
// staleness rule, resolving the key's reference) are unit-tested alone; Notifier delivers, on
// its own threads, behind a bounded queue, so a webhook that hangs or fails never holds up a run.
//
// Rules: at most one notification per store and condition an hour, across replicas (claimed in
// PostgreSQL before the first attempt: a condition that keeps recurring is suppressed for the
// hour whatever the first one's outcome); each attempt times out after --notify_timeout_seconds;
// up to --notify_attempts attempts with full-jitter exponential backoff; 2xx is delivered, 4xx
// other than 408/429 fails at once, 5xx / 408 / 429 / timeouts / connection errors are retried.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler-service/clock.h"
#include "scheduler-service/metrics.h"
#include "sync-worker/connectors/backoff.h"

namespace autosync::scheduler {

enum class NotifyCondition {
  kRunFailed,  // a run was recorded failed and no retry or follow-up run was queued
  kDataStale,  // the last success is older than twice the store's staleness threshold
};
// "run_failed", "data_stale" (the event name, the metric label and store_notifications.condition).
absl::string_view ConditionName(NotifyCondition condition);

// What a caller hands the notifier. The store's webhook, key and last success are read when it
// is sent.
struct Notification {
  NotifyCondition condition = NotifyCondition::kRunFailed;
  std::string store_id;
  std::string run_id;             // run_failed
  std::string error;              // run_failed: the run's error
  int64_t staleness_seconds = 0;  // data_stale: the store's staleness threshold
  absl::Time time;                // when the condition was seen
};

// The JSON body: {"event","store_id","run_id","error" (run_failed),"last_success" (RFC 3339 UTC
// or null),"staleness_seconds" (data_stale),"time"}.
std::string NotificationBody(const Notification& n, std::optional<absl::Time> last_success);

// "sha256=" + lowercase hex HMAC-SHA256(key, timestamp + "." + body): the X-Autosync-Signature
// header. `timestamp` is the X-Autosync-Timestamp header (unix seconds).
std::string SignNotification(absl::string_view key, int64_t timestamp, absl::string_view body);

// What one attempt's answer means: an HTTP status, or the error of a request that got none
// (DEADLINE_EXCEEDED: timed out; anything else: no connection, reset, TLS, ...).
enum class AttemptResult { kDelivered, kRetry, kFailed };
AttemptResult ClassifyAttempt(const absl::StatusOr<int>& answer);
// The attempts metric's `result` label: "2xx", "3xx", "4xx", "5xx", "timeout" or "error".
absl::string_view AttemptLabel(const absl::StatusOr<int>& answer);

// The key a reference names: env:NAME (this process's environment) or file:/path (read now, a
// trailing newline dropped). Errors name the reference's kind and never the key.
absl::StatusOr<std::string> ResolveSecretRef(absl::string_view ref);

// The rule of the AutosyncStoreDataStale alert: the last success (unix seconds, 0 = never) is
// older than twice the threshold. A store that never synced counts from its creation instead of
// from 1970, so a store registered a moment ago is not reported before its first sync could run
// (the alert's `for: 10m` does the same for it).
bool IsDataStale(double last_success_unix, absl::Time created_at, int64_t staleness_seconds,
                 absl::Time now);

// The seam to the webhook: one POST. Thread-safe (each call has its own connection).
class WebhookPoster {
 public:
  virtual ~WebhookPoster() = default;
  // The HTTP status, or DEADLINE_EXCEEDED / UNAVAILABLE / CANCELLED (`cancel` became true).
  virtual absl::StatusOr<int> Post(const std::string& url,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body, absl::Duration timeout,
                                   const std::atomic<bool>& cancel) = 0;
};

// libcurl; TLS verified; no redirects followed (the body is signed for this URL only).
std::unique_ptr<WebhookPoster> MakeCurlPoster();

// Where a store's webhook is and the once-an-hour claim (PgRepository: pg_notifications.cc).
struct NotifyTarget {
  std::string webhook_url;  // empty: the store has no notifications
  std::string secret_ref;
  std::optional<absl::Time> last_success;
};
struct NotifyClaim {
  bool won = false;
  // When the next notification of this store and condition may be sent (as a duration from now).
  absl::Duration next_after;
};
class NotificationStore {
 public:
  virtual ~NotificationStore() = default;
  // nullopt: the store does not exist (any more).
  virtual absl::StatusOr<std::optional<NotifyTarget>> LoadNotifyTarget(
      absl::string_view store_id) = 0;
  // Takes the (store, condition) row unless a notification was sent in the last hour; atomic
  // across replicas.
  virtual absl::StatusOr<NotifyClaim> ClaimNotification(absl::string_view store_id,
                                                        absl::string_view condition) = 0;
  // "delivered" or "failed".
  virtual absl::Status RecordNotificationOutcome(absl::string_view store_id,
                                                 absl::string_view condition,
                                                 absl::string_view outcome) = 0;
};

// Thread-safe. Enqueue never blocks on I/O. Stop() before destruction (the destructor does).
class Notifier final {
 public:
  struct Options {
    absl::Duration timeout = absl::Seconds(10);  // per attempt
    int attempts = 4;
    size_t queue_limit = 1000;  // beyond: dropped (counted)
    int threads = 2;
    absl::Duration backoff_initial = absl::Seconds(1);
    absl::Duration backoff_max = absl::Seconds(60);
  };
  // `store`, `metrics`, `clock` must outlive the notifier.
  Notifier(Options options, NotificationStore& store, std::unique_ptr<WebhookPoster> poster,
           SchedulerMetrics& metrics, const Clock& clock);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Start();
  // Ends the attempts in flight (a send in progress is cancelled) and joins the threads; what is
  // still queued is dropped. Idempotent.
  void Stop();
  // Queues a notification; a full queue (or a stopped notifier) drops it, counted as `dropped`.
  void Enqueue(Notification n);

 private:
  void Loop();
  void Deliver(const Notification& n);
  // Waits `d` unless stopping; false when stopping.
  bool SleepUnlessStopping(absl::Duration d);
  void Count(NotifyCondition c, absl::string_view outcome);

  const Options options_;
  NotificationStore& store_;
  const std::unique_ptr<WebhookPoster> poster_;
  SchedulerMetrics& metrics_;
  const Clock& clock_;
  const worker::BackoffPolicy backoff_;
  std::atomic<bool> cancel_{false};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Notification> queue_ ABSL_GUARDED_BY(mu_);
  // (store, condition) -> until when this replica knows a notification was claimed: recurring
  // conditions are suppressed without asking the database each time.
  absl::flat_hash_map<std::pair<std::string, int>, absl::Time> quiet_until_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace autosync::scheduler
