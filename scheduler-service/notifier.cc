#include "scheduler-service/notifier.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/curl_init.h"
#include "common/log.h"

namespace autosync::scheduler {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

void AppendString(std::string& out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(&out, ",\"", name, "\":\"");
  common::AppendJsonEscaped(out, value);
  out += '"';
}

// Seen conditions whose claim is older than this are forgotten (the map stays small).
constexpr size_t kQuietSweepAt = 10000;

// libcurl: aborts the transfer once `cancel` is set (the notifier is stopping).
int OnProgress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}
size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

class CurlPoster final : public WebhookPoster {
 public:
  absl::StatusOr<int> Post(const std::string& url,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& body, absl::Duration timeout,
                           const std::atomic<bool>& cancel) override {
    if (absl::Status init = common::EnsureCurlGlobalInit(); !init.ok()) return init;
    // A handle per POST: notifications are rare, and the notifier's threads share nothing.
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
    if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
    curl_slist* list = nullptr;
    for (const auto& [name, value] : headers) {
      list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
    }
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    const long timeout_ms =
        static_cast<long>(std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 1, 3'600'000));
    CURL* h = easy.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "autosync-scheduler");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&cancel));
    const CURLcode result = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (result == CURLE_ABORTED_BY_CALLBACK) return absl::CancelledError("the notifier stopped");
    if (result == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
    }
    if (result != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(result));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return static_cast<int>(status);
  }
};

}  // namespace

absl::string_view ConditionName(NotifyCondition condition) {
  return condition == NotifyCondition::kRunFailed ? "run_failed" : "data_stale";
}

std::string NotificationBody(const Notification& n, std::optional<absl::Time> last_success) {
  std::string out = absl::StrCat("{\"event\":\"", ConditionName(n.condition), "\"");
  AppendString(out, "store_id", n.store_id);
  if (n.condition == NotifyCondition::kRunFailed) {
    AppendString(out, "run_id", n.run_id);
    AppendString(out, "error", n.error);
  }
  if (last_success.has_value()) {
    AppendString(out, "last_success", Rfc3339(*last_success));
  } else {
    out += ",\"last_success\":null";
  }
  if (n.condition == NotifyCondition::kDataStale) {
    absl::StrAppend(&out, ",\"staleness_seconds\":", n.staleness_seconds);
  }
  AppendString(out, "time", Rfc3339(n.time));
  out += '}';
  return out;
}

std::string SignNotification(absl::string_view key, int64_t timestamp, absl::string_view body) {
  const std::string message = absl::StrCat(timestamp, ".", body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
  return absl::StrCat(
      "sha256=", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(mac), mac_size)));
}

AttemptResult ClassifyAttempt(const absl::StatusOr<int>& answer) {
  if (!answer.ok()) {
    return answer.status().code() == absl::StatusCode::kCancelled ? AttemptResult::kFailed
                                                                  : AttemptResult::kRetry;
  }
  const int status = *answer;
  if (status >= 200 && status <= 299) return AttemptResult::kDelivered;
  if (status == 408 || status == 429 || status >= 500) return AttemptResult::kRetry;
  // 4xx: the receiver refuses this request (a bad URL, a signature it does not accept); the
  // same request again would be refused again. 1xx/3xx: not an answer we can act on.
  return AttemptResult::kFailed;
}

absl::string_view AttemptLabel(const absl::StatusOr<int>& answer) {
  if (!answer.ok()) {
    return answer.status().code() == absl::StatusCode::kDeadlineExceeded ? "timeout" : "error";
  }
  const int s = *answer;
  if (s >= 200 && s <= 299) return "2xx";
  if (s >= 300 && s <= 399) return "3xx";
  if (s >= 400 && s <= 499) return "4xx";
  if (s >= 500 && s <= 599) return "5xx";
  return "error";
}

absl::StatusOr<std::string> ResolveSecretRef(absl::string_view ref) {
  absl::string_view rest = ref;
  std::string key;
  if (absl::ConsumePrefix(&rest, "env:")) {
    const char* value = std::getenv(std::string(rest).c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("notify_secret_ref: the environment variable ", rest, " is not set"));
    }
    key = value;
  } else if (absl::ConsumePrefix(&rest, "file:")) {
    std::ifstream file{std::string(rest), std::ios::binary};
    if (!file) {
      return absl::FailedPreconditionError(
          absl::StrCat("notify_secret_ref: cannot read the file ", rest));
    }
    std::ostringstream text;
    text << file.rdbuf();
    key = text.str();
    // A file written by `echo` or a Kubernetes Secret ends with a newline that is not the key.
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  } else {
    return absl::FailedPreconditionError("notify_secret_ref: must be env:NAME or file:/path");
  }
  if (key.empty()) return absl::FailedPreconditionError("notify_secret_ref: the key is empty");
  return key;
}

bool IsDataStale(double last_success_unix, absl::Time created_at, int64_t staleness_seconds,
                 absl::Time now) {
  if (staleness_seconds <= 0) return false;
  const absl::Time since = last_success_unix > 0
                               ? absl::FromUnixSeconds(0) + absl::Seconds(last_success_unix)
                               : created_at;
  return now - since > absl::Seconds(2 * staleness_seconds);
}

std::unique_ptr<WebhookPoster> MakeCurlPoster() { return std::make_unique<CurlPoster>(); }

Notifier::Notifier(Options options, NotificationStore& store, std::unique_ptr<WebhookPoster> poster,
                   SchedulerMetrics& metrics, const Clock& clock)
    : options_(options),
      store_(store),
      poster_(std::move(poster)),
      metrics_(metrics),
      clock_(clock),
      backoff_{.initial = options.backoff_initial,
               .max = options.backoff_max,
               .multiplier = 2.0,
               .max_attempts = options.attempts} {}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(); });
}

void Notifier::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cancel_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Notifier::Count(NotifyCondition c, absl::string_view outcome) {
  metrics_.notifications
      .Add({{"condition", std::string(ConditionName(c))}, {"outcome", std::string(outcome)}})
      .Increment();
}

void Notifier::Enqueue(Notification n) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && queue_.size() < options_.queue_limit) {
      queue_.push_back(std::move(n));
      return;
    }
  }
  common::LogWarn("notification dropped: the queue is full or the scheduler is stopping",
                  {{"store", n.store_id}, {"condition", ConditionName(n.condition)}});
  Count(n.condition, "dropped");
}

bool Notifier::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stop), d);
}

void Notifier::Loop() {
  while (true) {
    Notification n;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      n = std::move(queue_.front());
      queue_.pop_front();
    }
    Deliver(n);
  }
}

void Notifier::Deliver(const Notification& n) {
  const absl::string_view condition = ConditionName(n.condition);
  const auto key = std::make_pair(n.store_id, static_cast<int>(n.condition));
  {
    // Claimed within the hour (here, or seen claimed by another replica): no database round trip.
    absl::MutexLock lock(&mu_);
    auto it = quiet_until_.find(key);
    if (it != quiet_until_.end() && clock_.Now() < it->second) {
      Count(n.condition, "suppressed");
      return;
    }
  }
  absl::StatusOr<std::optional<NotifyTarget>> target = store_.LoadNotifyTarget(n.store_id);
  if (!target.ok()) {
    common::LogWarn(
        "notification not sent: cannot read the store",
        {{"store", n.store_id}, {"condition", condition}, {"error", target.status().message()}});
    Count(n.condition, "failed");
    return;
  }
  // Deleted meanwhile, or no webhook: nothing to send, nothing to count.
  if (!target->has_value() || (*target)->webhook_url.empty()) return;
  absl::StatusOr<NotifyClaim> claim = store_.ClaimNotification(n.store_id, condition);
  if (!claim.ok()) {
    common::LogWarn(
        "notification not sent: cannot claim it",
        {{"store", n.store_id}, {"condition", condition}, {"error", claim.status().message()}});
    Count(n.condition, "failed");
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    if (quiet_until_.size() >= kQuietSweepAt) {
      absl::erase_if(quiet_until_, [now](const auto& e) { return e.second <= now; });
    }
    quiet_until_[key] = now + claim->next_after;
  }
  if (!claim->won) {
    Count(n.condition, "suppressed");
    return;
  }
  const NotifyTarget& to = **target;
  const std::string body = NotificationBody(n, to.last_success);
  bool delivered = false;
  std::string last_problem;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    if (attempt > 1) {
      absl::BitGen gen;
      if (!SleepUnlessStopping(backoff_.Delay(attempt - 1, gen))) break;
    }
    // Resolved at every attempt: a rotated key file is used at once.
    absl::StatusOr<std::string> secret = ResolveSecretRef(to.secret_ref);
    if (!secret.ok()) {
      last_problem = std::string(secret.status().message());
      break;
    }
    const int64_t timestamp = absl::ToUnixSeconds(clock_.Now());
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"},
        {"X-Autosync-Event", std::string(condition)},
        {"X-Autosync-Timestamp", absl::StrCat(timestamp)},
        {"X-Autosync-Signature", SignNotification(*secret, timestamp, body)}};
    const absl::StatusOr<int> answer =
        poster_->Post(to.webhook_url, headers, body, options_.timeout, cancel_);
    metrics_.notification_attempts
        .Add({{"condition", std::string(condition)}, {"result", std::string(AttemptLabel(answer))}})
        .Increment();
    const AttemptResult result = ClassifyAttempt(answer);
    if (result == AttemptResult::kDelivered) {
      delivered = true;
      break;
    }
    last_problem =
        answer.ok() ? absl::StrCat("HTTP ", *answer) : std::string(answer.status().message());
    if (result == AttemptResult::kFailed) break;
  }
  const absl::string_view outcome = delivered ? "delivered" : "failed";
  // Recorded, then counted: whoever sees the count finds the row up to date.
  if (absl::Status s = store_.RecordNotificationOutcome(n.store_id, condition, outcome); !s.ok()) {
    common::LogDebug("cannot record a notification's outcome",
                     {{"store", n.store_id}, {"error", s.message()}});
  }
  Count(n.condition, outcome);
  if (delivered) {
    common::LogInfo("notification delivered",
                    {{"store", n.store_id}, {"condition", condition}, {"run", n.run_id}});
  } else {
    common::LogWarn("notification failed",
                    {{"store", n.store_id}, {"condition", condition}, {"error", last_problem}});
  }
}

}  // namespace autosync::scheduler
