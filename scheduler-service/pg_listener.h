// One LISTEN connection per replica: receives NOTIFYs on a few channels and hands each to a
// callback on its own thread. Reconnects with backoff when the connection breaks, and tells
// the owner (on_reconnect), since notifications sent meanwhile were missed.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autosync::scheduler {

class PgListener final {
 public:
  using Handler = std::function<void(const std::string& channel, const std::string& payload)>;

  // `database_url` is a libpq connection string. Callbacks run on the listener's thread and
  // must not block for long.
  PgListener(std::string database_url, std::vector<std::string> channels, Handler on_notify,
             std::function<void()> on_reconnect);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  void Start();
  void Stop();  // idempotent; joins
  // Waits until the first LISTEN is in place (true) or `timeout` passes.
  bool WaitListening(absl::Duration timeout);

 private:
  void Loop();

  const std::string url_;
  const std::vector<std::string> channels_;
  const Handler on_notify_;
  const std::function<void()> on_reconnect_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool listening_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace autosync::scheduler
