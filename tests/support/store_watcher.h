// A WatchStore stream read on its own thread, keeping every event: what integration and fault
// tests use to see a store's runs the way the gateway does. One copy for every suite.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.grpc.pb.h"

namespace autosync::testing {

// Thread-safe. The stream is cancelled and its thread joined on destruction.
class Watcher {
 public:
  Watcher(autosync::v1::Scheduler::Stub& stub, const std::string& store,
          const std::string& watcher_id = "test");
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Waits until an event satisfies `pred`; returns the first such (nullopt at the deadline or
  // the stream's end).
  std::optional<autosync::v1::WatchEvent> WaitFor(
      const std::function<bool(const autosync::v1::WatchEvent&)>& pred, absl::Duration timeout);
  // Waits until at least `n` events satisfy `pred`.
  bool WaitForCount(const std::function<bool(const autosync::v1::WatchEvent&)>& pred, int n,
                    absl::Duration timeout);
  std::vector<autosync::v1::WatchEvent> events();
  // Every event so far with the moment it was read off the stream (to time runs as a client
  // sees them).
  struct Timed {
    autosync::v1::WatchEvent event;
    absl::Time at;
  };
  std::vector<Timed> timed_events();
  // Every event so far in protobuf text form, one after the other (to search for a string).
  std::string text();
  // The stream's end status, once it ended.
  std::optional<grpc::Status> status();

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<autosync::v1::WatchEvent>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Timed> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

bool IsProgress(const autosync::v1::WatchEvent& e, autosync::v1::Stage stage);

}  // namespace autosync::testing
