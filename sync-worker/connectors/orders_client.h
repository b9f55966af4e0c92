// Pages through a Shopify-style Admin REST orders endpoint by `updated_at`, with retries,
// Retry-After handling and proactive pacing against the leaky-bucket rate limit.
// Works against the real host (https://{shop}.myshopify.com) and store-sim
// (http://127.0.0.1:8090/shops/{store}): the base URL is only a prefix.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sync-worker/connectors/backoff.h"
#include "sync-worker/connectors/connector_stats.h"
#include "sync-worker/connectors/http_transport.h"
#include "sync-worker/connectors/orders_page.h"
#include "sync-worker/connectors/record_rules.h"
#include "sync-worker/connectors/sleeper.h"

namespace autosync::worker {

struct OrdersClientConfig {
  std::string base_url;      // "https://shop.myshopify.com" or "http://127.0.0.1:8090/shops/s1"
  std::string api_version;   // "2024-01"
  std::string access_token;  // sent only as X-Shopify-Access-Token, never logged
};

struct OrdersClientOptions {
  absl::Duration request_timeout = absl::Seconds(30);
  // 429s tolerated for one page before giving up with UNAVAILABLE. Generous: waiting out the
  // bucket is normal operation, not a failure, so it does not use up BackoffPolicy::max_attempts.
  int max_throttle_waits = 60;
  absl::Duration default_retry_after = absl::Seconds(2);  // a 429 without a usable Retry-After
  absl::Duration max_retry_after = absl::Seconds(60);     // caps a silly Retry-After
  // Pacing: when a response shows the bucket at or above this share of its size, wait one leak
  // interval before the next request (see OrdersClient).
  int pacing_threshold_pct = 90;
  // The business rules each order must meet (record_rules.h); one that breaks one is listed in
  // OrdersPage::quarantined instead of `orders`.
  RuleOptions rules = {};
};

struct OrdersPage {
  std::vector<Order> orders;
  // What NextPage takes for the page after this one (REST: the Link header's rel="next" URL;
  // GraphQL: the connection's endCursor); nullopt on the last page.
  std::optional<std::string> next;
  int call_limit_used = 0;  // X-Shopify-Shop-Api-Call-Limit "used/max" (0/0 if absent)
  int call_limit_max = 0;
  int attempts = 0;  // HTTP requests this page took (1 when nothing went wrong)
  // Orders that parsed but broke a business rule (record_rules.h); not in `orders`.
  std::vector<QuarantinedRecord> quarantined;
};

// Orders created within [min, max] (both inclusive), for a backfill.
// A page of order deletion events (OrdersClient::FirstDeletionsPage).
struct DeletionsPage {
  std::vector<OrderDeletion> deletions;
  std::optional<std::string> next;  // the Link header's rel="next" URL
  int attempts = 0;
};

struct CreatedRange {
  absl::Time min;
  absl::Time max;
};

// What the sync pipeline reads orders through: the REST Admin API (OrdersClient) or the GraphQL
// Admin API (GraphqlOrdersClient, graphql_orders_client.h). Pages come in updated_at order.
// Not thread-safe: one source per run; NextPage may run on another thread than FirstPage, never
// at the same time.
class OrdersSource {
 public:
  virtual ~OrdersSource() = default;
  virtual absl::StatusOr<OrdersPage> FirstPage(absl::Time updated_at_min, int limit,
                                               std::optional<CreatedRange> created) = 0;
  // `next`: the previous page's OrdersPage::next.
  virtual absl::StatusOr<OrdersPage> NextPage(absl::string_view next) = 0;
  virtual const ConnectorStats& stats() const = 0;
};

// Contract:
// - FirstPage asks for `status=any` (the default would hide closed and cancelled orders),
//   `order=updated_at asc` and `updated_at_min` (inclusive) so a stored cursor resumes exactly;
//   NextPage follows the Link header's rel="next" URL verbatim (its page_info carries the filters).
// - 5xx answers and transport errors are retried with BackoffPolicy (full jitter; a 5xx's own
//   Retry-After wins when present) up to max_attempts tries in all, then UNAVAILABLE (or the
//   transport's DEADLINE_EXCEEDED).
// - 429 waits Retry-After (fractional seconds) and tries again, up to max_throttle_waits times.
// - 401/403 → PERMISSION_DENIED, 402 → FAILED_PRECONDITION, 404 → NOT_FOUND, other 4xx →
//   FAILED_PRECONDITION: each with a message saying what a person should check; never retried.
// - A 2xx body that does not parse → DATA_LOSS naming the page and the field.
// - The Sleeper returning false (run cancelled) → CANCELLED.
// - Pacing: Shopify's bucket leaks max/20 requests per second (40 → 2/s, Plus 400 → 20/s). When a
//   response shows used ≥ pacing_threshold_pct% of max, the next request first waits one leak
//   interval (20 s / max: 0.5 s for 40), so a long sync settles at the leak rate instead of
//   running into 429s.
// - A next-page URL on a different scheme/host/port than base_url is refused (FAILED_PRECONDITION)
//   so the token is never sent elsewhere; a relative URL ("/admin/…") is resolved against it.
// - No message ever contains the access token.
// - An answer carrying X-Shopify-API-Deprecated-Reason, or an X-Shopify-API-Version other than
//   the one asked for (Shopify serves the oldest supported one instead), is counted in stats()
//   with what it said.
// Not thread-safe: one client per run, used from one thread. The transport and sleeper must
// outlive it.
class OrdersClient final : public OrdersSource {
 public:
  OrdersClient(OrdersClientConfig config, HttpTransport& transport, Sleeper& sleeper,
               BackoffPolicy backoff = {}, OrdersClientOptions options = {});

  using CreatedRange = autosync::worker::CreatedRange;

  absl::StatusOr<OrdersPage> FirstPage(absl::Time updated_at_min, int limit = 250,
                                       std::optional<CreatedRange> created = std::nullopt) override;
  absl::StatusOr<OrdersPage> NextPage(absl::string_view next_url) override;

  // Orders deleted at the source since `created_at_min`: GET events.json?filter=Order&
  // verb=destroy&created_at_min=…&limit=250, then the Link header's pages (NextDeletionsPage).
  // Errors as for orders pages. A GraphQL store's token reads them too (REST and GraphQL are
  // one Admin API with one token; the read_orders scope covers order events).
  absl::StatusOr<DeletionsPage> FirstDeletionsPage(absl::Time created_at_min);
  absl::StatusOr<DeletionsPage> NextDeletionsPage(absl::string_view next_url);

  // The URL FirstPage requests (limit clamped to 1..250).
  std::string FirstPageUrl(absl::Time updated_at_min, int limit = 250,
                           std::optional<CreatedRange> created = std::nullopt) const;

  const ConnectorStats& stats() const override { return stats_; }

  // The HTTP exchange under the contract above, for this client's pages and for the GraphQL
  // client's POSTs to the same shop (graphql_orders_client.h): the access token and Accept are
  // added, transport errors, 5xx and 429 are retried, other statuses become the errors above.
  // Returns the 2xx answer; counts attempts and the call limit into `page`.
  absl::StatusOr<HttpResponse> Exchange(HttpRequest request, const std::string& page_label,
                                        OrdersPage* page);
  // A wait counted in stats() (false: the run was cancelled).
  bool Wait(absl::Duration duration);
  // Counts a throttled answer the caller waits out itself (GraphQL's THROTTLED).
  void CountThrottled() { ++stats_.throttled; }
  // Counts a wait the caller took before a request because its bucket was nearly empty.
  void CountPacingWait() { ++stats_.pacing_waits; }
  // `message` with the access token redacted.
  absl::Status Error(absl::StatusCode code, absl::string_view message) const;
  const OrdersClientConfig& config() const { return config_; }

 private:
  absl::StatusOr<OrdersPage> Fetch(const std::string& url, const std::string& page_label);
  absl::StatusOr<DeletionsPage> FetchDeletions(const std::string& url, const std::string& label);
  // The answer's Link rel="next" URL (nullopt on the last page); DATA_LOSS naming `label` when
  // the header does not parse.
  absl::StatusOr<std::optional<std::string>> NextLink(const HttpResponse& response,
                                                      const std::string& label) const;
  // Counts an answer that says the asked API version is deprecated or no longer served.
  void NoteDeprecation(const HttpResponse& response);

  OrdersClientConfig config_;
  absl::Status config_status_;
  std::string origin_;  // scheme://authority of base_url
  HttpTransport& transport_;
  Sleeper& sleeper_;
  BackoffPolicy backoff_;
  OrdersClientOptions options_;
  absl::BitGen bitgen_;
  ConnectorStats stats_;
  absl::Duration pace_before_next_ = absl::ZeroDuration();
  int pages_fetched_ = 0;
};

}  // namespace autosync::worker
