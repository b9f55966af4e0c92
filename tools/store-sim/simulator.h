// store-sim's request handling: one Simulator holds every store's data, rate-limit buckets and
// fault switches, and turns a Request into a Response with no sockets involved (the Beast server
// in server.h is a thin shell around Handle()).
//
// Addressing on one loopback server (default http://127.0.0.1:8090):
//   Shopify orders  GET /shops/{store}/admin/api/{YYYY-MM}/orders.json   (and orders/count.json;
//                   deleted orders only in events.json?filter=Order&verb=destroy)
//                   so a store's orders_api_base is http://127.0.0.1:8090/shops/{store};
//                   header X-Shopify-Access-Token must equal --access_token.
//   Shopify GraphQL POST /shops/{store}/admin/api/{YYYY-MM}/graphql.json — the orders
//                   connection over the same orders (graphql_orders.h), same token; throttled
//                   by a calculated-cost bucket per store (--graphql_bucket_size,
//                   --graphql_restore_rate) instead of the REST leaky bucket. Bulk operations
//                   on the same endpoint (graphql_bulk.h): bulkOperationRunQuery over the orders
//                   connection, node(id:) polls, currentBulkOperation, bulkOperationCancel;
//                   the file is rendered on a background thread, at least --bulk_min_ms.
//   Bulk files      GET /_bulk/{store}/{n}.jsonl?expires=…&sig=… — no token: the signed URL
//                   a completed operation's poll hands out (valid --bulk_url_ttl_seconds).
//   Meta insights   GET /{vNN.0}/act_{store}/insights — the store id stands in for the ad account
//                   id (real ones are digits; connectors treat it as opaque); token in the
//                   access_token query parameter or "Authorization: Bearer". Async report
//                   runs (meta_insights.h): POST the same route → {"report_run_id"}, then
//                   GET /{vNN.0}/{report_run_id} (progress over --ads_async_ms) and
//                   GET /{vNN.0}/{report_run_id}/insights (the same pages).
//   Admin           GET /_sim/health, GET /_sim/stores, GET /_sim/stores/{store}/summary,
//                   GET|POST|DELETE /_sim/faults, POST /_sim/stores/{store}/tick.
// Versions: Shopify answers carry X-Shopify-API-Version (and X-Shopify-API-Deprecated-Reason
// when the path's version is older than --shopify_oldest_version, which then serves it); Meta
// answers carry x-fb-api-version (at least --meta_oldest_version).
// Timestamps print at each store's UTC offset (default +00:00, or "id:count:-05:00" in --stores).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tools/store-sim/ads_data.h"
#include "tools/store-sim/faults.h"
#include "tools/store-sim/graphql_bulk.h"
#include "tools/store-sim/http_types.h"
#include "tools/store-sim/meta_insights.h"
#include "tools/store-sim/store_data.h"

namespace autosync::storesim {

// Wall-clock seam for rate limiting and usage headers (tests inject a fake).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

struct SimConfig {
  uint64_t seed = 42;
  absl::Time end;  // history ends here; the live-mode sim clock starts here
  std::vector<StoreSpec> stores;
  std::string access_token = "sim-token";
  int64_t bucket_size = 40;
  double leak_per_second = 2.0;        // 0 = unlimited
  int64_t graphql_bucket_size = 2000;  // GraphQL cost points per store (maximumAvailable)
  double graphql_restore_rate = 100;   // points per second; 0 = unlimited
  int64_t live_interval_ms = 2000;     // also the sim-clock advance per live step (min 1 s)
  double live_delete_probability = 0;  // per store and step: delete one cancelled/test order
  // false: like an app without read_all_orders, only orders created in the last 60 days exist.
  bool read_all_orders = true;
  // Shopify bulk operations (graphql_bulk.h): the shortest time from run to COMPLETED (0: as
  // soon as the file is rendered) and how long a download URL stays valid.
  int64_t bulk_min_ms = 1000;
  int64_t bulk_url_ttl_seconds = 604800;
  // Meta async report runs (meta_insights.h) take this long from "Job Not Started" to
  // "Job Completed"; 0 completes them at once.
  int64_t ads_async_ms = 2000;
  // The oldest API versions served: a request for an older one is answered as this version
  // (X-Shopify-API-Version / x-fb-api-version say so; Shopify adds
  // X-Shopify-API-Deprecated-Reason).
  std::string shopify_oldest_version = "2025-10";
  std::string meta_oldest_version = "v22.0";
  FaultSettings faults;
};

// Thread-safe: Handle() and Tick*() serialize on one mutex (a test tool; pages are cheap).
// Bulk operation files are rendered on one background thread of the Simulator's own, started
// with the first bulk operation and joined by the destructor.
class Simulator final {
 public:
  // Generates every store's data (the slow part: ~1 s per million orders).
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(const SimConfig& config,
                                                           const Clock* clock);

  Response Handle(const Request& request);

  // One live-mode step for one store / every store.
  absl::Status Tick(const std::string& store_id);
  void TickAll();

  // Read access for tests and tools (take no lock: use only while no requests are in flight).
  const StoreData* FindStore(const std::string& id) const;
  int64_t step_seconds() const;

  struct StoreState;  // defined in simulator_internal.h

  ~Simulator();

 private:
  Simulator(const SimConfig& config, const Clock* clock);

  Response HandleLocked(const Request& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Response HandleAdmin(const Request& request, const ParsedTarget& target)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // /shops/{store}/admin/api/{version}/…; `parts` are the path's segments.
  Response HandleShopify(const Request& request, const ParsedTarget& target,
                         const std::vector<std::string>& parts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enum class OrdersRoute { kList, kCount, kEvents };
  Response HandleOrders(const Request& request, const ParsedTarget& target, StoreState& store,
                        const std::string& version, OrdersRoute route)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Response HandleGraphql(const Request& request, StoreState& store)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Response OrderEvents(const Request& request, const ParsedTarget& target, const StoreData& data,
                       const std::string& version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // /{version}/act_{account}/insights (GET sync, POST async) and /{version}/{report_run_id}
  // [/insights]; `parts` are the path's segments.
  Response HandleMeta(const Request& request, const ParsedTarget& target,
                      const std::vector<std::string>& parts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StoreState* Find(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a bulk operation's file for the bulk thread (starting it the first time).
  void StartBulkJob(std::shared_ptr<BulkJob> job) ABSL_LOCKS_EXCLUDED(jobs_mu_);
  void BulkThread() ABSL_LOCKS_EXCLUDED(jobs_mu_);
  bool BulkWorkReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(jobs_mu_) {
    return stopping_ || !jobs_.empty();
  }

  const SimConfig config_;
  const Clock* const clock_;
  const uint64_t cursor_secret_;
  absl::Mutex mu_;
  // The store list itself is fixed after Create(); the stores' contents change under mu_.
  std::vector<std::unique_ptr<StoreState>> stores_;
  Faults faults_ ABSL_GUARDED_BY(mu_);
  BulkOperations bulk_ ABSL_GUARDED_BY(mu_);
  ReportRuns reports_ ABSL_GUARDED_BY(mu_);

  // The bulk thread's queue. Taken after mu_ when both are held, never before it.
  absl::Mutex jobs_mu_;
  std::deque<std::shared_ptr<BulkJob>> jobs_ ABSL_GUARDED_BY(jobs_mu_);
  std::shared_ptr<BulkJob> running_job_ ABSL_GUARDED_BY(jobs_mu_);
  bool stopping_ ABSL_GUARDED_BY(jobs_mu_) = false;
  std::thread bulk_thread_ ABSL_GUARDED_BY(jobs_mu_);
};

}  // namespace autosync::storesim
