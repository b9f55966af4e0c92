// Test support: a running store-sim binary on a free loopback port, and what tests ask it
// (its own summary of a store's orders, fault switches, live-mode steps).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/process.h"

namespace autosync::testing {

struct SimSummary {
  int64_t count = 0;
  std::string checksum;
};

class StoreSim final {
 public:
  // Starts store-sim with `args` (e.g. "--stores=shop:3000") plus --listen on a free port and a
  // fixed --end, and waits for /_sim/health.
  static absl::StatusOr<std::unique_ptr<StoreSim>> Start(std::vector<std::string> args);

  std::string base_url() const;                             // http://127.0.0.1:<port>
  std::string orders_base(const std::string& store) const;  // …/shops/<store>
  absl::StatusOr<SimSummary> Summary(const std::string& store) const;
  absl::Status SetFaults(const std::string& json) const;  // POST /_sim/faults
  absl::Status ClearFaults() const;
  absl::Status Tick(const std::string& store) const;  // one live-mode step
  ChildProcess& process() { return *process_; }

 private:
  StoreSim(std::unique_ptr<ChildProcess> process, int port)
      : process_(std::move(process)), port_(port) {}
  std::unique_ptr<ChildProcess> process_;
  int port_;
};

// The same summary computed from PostgreSQL's `orders` rows of a store: FNV-1a 64 over
// "<order_id>:<updated_at unix seconds>:<current_total_price>\n", ordered by order_id.
absl::StatusOr<SimSummary> DatabaseSummary(const std::string& database_url,
                                           const std::string& store);

}  // namespace autosync::testing
