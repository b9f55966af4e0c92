// Test doubles for the connectors: a scripted HttpTransport that records every request, and a
// Sleeper that records the delays it was asked to wait instead of waiting.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/http_transport.h"
#include "sync-worker/connectors/sleeper.h"

namespace autosync::worker::testing {

class FakeTransport final : public HttpTransport {
 public:
  // Queues an answer; answers are handed out in order.
  FakeTransport& Then(absl::StatusOr<HttpResponse> answer) {
    answers_.push_back(std::move(answer));
    return *this;
  }
  FakeTransport& Then(int status, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Then(HttpResponse{status, std::move(headers), std::move(body)});
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    requests_.push_back(request);
    if (answers_.empty()) return absl::InternalError("FakeTransport: no scripted answer left");
    absl::StatusOr<HttpResponse> answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }

  const std::vector<HttpRequest>& requests() const { return requests_; }
  size_t remaining() const { return answers_.size(); }

 private:
  std::deque<absl::StatusOr<HttpResponse>> answers_;
  std::vector<HttpRequest> requests_;
};

class FakeSleeper final : public Sleeper {
 public:
  // SleepFor call number `n` (1-based) and every later one report cancellation.
  void CancelAtSleep(int n) { cancel_at_ = n; }

  bool SleepFor(absl::Duration duration) override {
    delays_.push_back(duration);
    return cancel_at_ == 0 || static_cast<int>(delays_.size()) < cancel_at_;
  }

  const std::vector<absl::Duration>& delays() const { return delays_; }

 private:
  std::vector<absl::Duration> delays_;
  int cancel_at_ = 0;
};

}  // namespace autosync::worker::testing
