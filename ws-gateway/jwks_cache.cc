#include "ws-gateway/jwks_cache.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/curl_init.h"
#include "common/log.h"

namespace autosync::gateway {
namespace {

// libcurl: aborts the transfer once `cancel` is set (the cache is stopping).
int OnProgress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

// Appends to the body; a body beyond kMaxJwksBytes ends the transfer (CURLE_WRITE_ERROR).
size_t OnBody(char* data, size_t size, size_t count, void* body) {
  auto* out = static_cast<std::string*>(body);
  if (out->size() + size * count > kMaxJwksBytes) return 0;
  out->append(data, size * count);
  return size * count;
}

class CurlJwksFetcher final : public JwksFetcher {
 public:
  absl::StatusOr<std::string> Fetch(const std::string& url, absl::Duration timeout,
                                    const std::atomic<bool>& cancel) override {
    if (absl::Status init = common::EnsureCurlGlobalInit(); !init.ok()) return init;
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), &curl_easy_cleanup);
    if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
    const long timeout_ms =
        static_cast<long>(std::clamp<int64_t>(absl::ToInt64Milliseconds(timeout), 1, 600'000));
    std::string body;
    CURL* h = easy.get();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxJwksBytes));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "autosync-ws-gateway");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(&cancel));
    const CURLcode result = curl_easy_perform(h);
    if (result == CURLE_ABORTED_BY_CALLBACK) return absl::CancelledError("stopping");
    if (result == CURLE_OPERATION_TIMEDOUT) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
    }
    if (result == CURLE_WRITE_ERROR || result == CURLE_FILESIZE_EXCEEDED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("answer larger than ", kMaxJwksBytes, " bytes"));
    }
    if (result != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(result));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) return absl::UnavailableError(absl::StrCat("HTTP status ", status));
    return body;
  }
};

}  // namespace

std::unique_ptr<JwksFetcher> MakeCurlJwksFetcher() { return std::make_unique<CurlJwksFetcher>(); }

JwksCache::JwksCache(JwksCacheOptions options, std::unique_ptr<JwksFetcher> fetcher,
                     prometheus::Registry& registry)
    : options_(std::move(options)),
      fetcher_(std::move(fetcher)),
      ok_(prometheus::BuildCounter()
              .Name("autosync_gateway_jwks_refresh_total")
              .Help("JWKS fetches by outcome: ok (keys replaced), fetch_error (no answer, a "
                    "timeout, a non-200 status, too big), invalid (not a JWKS, or no usable key)")
              .Register(registry)
              .Add({{"outcome", "ok"}})),
      fetch_error_(prometheus::BuildCounter()
                       .Name("autosync_gateway_jwks_refresh_total")
                       .Register(registry)
                       .Add({{"outcome", "fetch_error"}})),
      invalid_(prometheus::BuildCounter()
                   .Name("autosync_gateway_jwks_refresh_total")
                   .Register(registry)
                   .Add({{"outcome", "invalid"}})),
      keys_loaded_(prometheus::BuildGauge()
                       .Name("autosync_gateway_jwks_keys")
                       .Help("Usable keys in the cached JWKS (0 before the first good fetch)")
                       .Register(registry)
                       .Add({})) {}

JwksCache::~JwksCache() { Stop(); }

void JwksCache::Start() {
  thread_ = std::thread([this] { Run(); });
}

void JwksCache::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  cancel_.store(true);
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::shared_ptr<const JsonWebKeySet>> JwksCache::Keys() const {
  absl::ReaderMutexLock lock(&mu_);
  if (keys_ == nullptr) {
    return absl::UnavailableError(last_error_.empty()
                                      ? std::string("the first JWKS fetch has not finished")
                                      : absl::StrCat("no JWKS fetched yet: ", last_error_));
  }
  return keys_;
}

void JwksCache::RequestRefresh() const {
  absl::MutexLock lock(&mu_);
  if (refresh_wanted_) return;
  refresh_wanted_ = true;
  wake_.Signal();
}

std::string JwksCache::LastRefreshError() const {
  absl::ReaderMutexLock lock(&mu_);
  return last_error_;
}

int64_t JwksCache::refreshes() const {
  absl::ReaderMutexLock lock(&mu_);
  return refreshes_;
}

void JwksCache::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time due =
        last_attempt_ + (last_ok_ ? options_.refresh_interval : options_.min_refresh_interval);
    if (refresh_wanted_) due = std::min(due, last_attempt_ + options_.min_refresh_interval);
    if (absl::Now() < due) {
      wake_.WaitWithDeadline(&mu_, due);
      continue;
    }
    last_attempt_ = absl::Now();
    refresh_wanted_ = false;
    mu_.Unlock();
    Refresh();
    mu_.Lock();
  }
}

void JwksCache::Refresh() {
  absl::StatusOr<std::string> body = fetcher_->Fetch(options_.url, options_.timeout, cancel_);
  absl::StatusOr<JsonWebKeySet> set = body.ok() ? JsonWebKeySet::Parse(*body) : body.status();
  if (set.ok() && set->keys().empty()) {
    set = absl::InvalidArgumentError(
        set->skipped().empty()
            ? std::string("JWKS holds no key")
            : absl::StrCat("JWKS holds no usable key: ", absl::StrJoin(set->skipped(), "; ")));
  }
  absl::MutexLock lock(&mu_);
  ++refreshes_;
  if (!set.ok()) {
    (body.ok() ? invalid_ : fetch_error_).Increment();
    last_ok_ = false;
    last_error_ = std::string(set.status().message());
    common::LogWarn("JWKS refresh failed, keeping the previous keys",
                    {{"url", options_.url},
                     {"error", last_error_},
                     {"keys", absl::StrCat(keys_ == nullptr ? 0 : keys_->keys().size())}});
    return;
  }
  ok_.Increment();
  for (const std::string& reason : set->skipped()) {
    common::LogWarn("JWKS key skipped", {{"url", options_.url}, {"reason", reason}});
  }
  std::vector<std::string> kids;
  for (const JsonWebKey& key : set->keys()) kids.push_back(key.kid);
  keys_loaded_.Set(static_cast<double>(set->keys().size()));
  keys_ = std::make_shared<const JsonWebKeySet>(*std::move(set));
  last_ok_ = true;
  last_error_.clear();
  common::LogInfo("JWKS loaded", {{"url", options_.url},
                                  {"keys", absl::StrCat(kids.size())},
                                  {"kids", absl::StrJoin(kids, ",")}});
}

}  // namespace autosync::gateway
