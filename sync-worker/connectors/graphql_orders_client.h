// Orders through Shopify's GraphQL Admin API (issue 18): `POST <base>/admin/api/<version>/
// graphql.json` with the `orders` connection query of graphql_orders.h, paged by endCursor.
// The HTTP exchange (token header, retries of transport errors, 5xx and 429, the meaning of
// 401/402/403/404) is OrdersClient::Exchange's, so both APIs fail alike.
//
// Throttling is by query cost, not by request: each answer's extensions.cost says how many points
// the bucket holds now (throttleStatus.currentlyAvailable) and how fast it refills (restoreRate).
// Before a query whose requested cost (2 + first, the last answer's requestedQueryCost once
// known) exceeds what the bucket held after the last answer (plus what it restored since), the
// client waits for the difference, so a long sync runs at the restore rate instead of into
// THROTTLED. A THROTTLED answer anyway (another app sharing the shop's bucket) waits the same
// way and asks again, up to OrdersClientOptions::max_throttle_waits times (then UNAVAILABLE).
// Any other GraphQL error fails the page with FAILED_PRECONDITION naming the errors: a query the
// shop refuses (a missing scope, an unknown field on an old API version) is not retried.
// Not thread-safe (as OrdersSource).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "sync-worker/connectors/graphql_orders.h"
#include "sync-worker/connectors/orders_client.h"

namespace autosync::worker {

// The GraphQL endpoint of a shop: "<base>/admin/api/<version>/graphql.json".
std::string GraphqlEndpoint(const OrdersClientConfig& config);

class GraphqlOrdersClient final : public OrdersSource {
 public:
  // `now` reads the clock for the bucket's restore (tests pass a fake).
  GraphqlOrdersClient(OrdersClientConfig config, HttpTransport& transport, Sleeper& sleeper,
                      BackoffPolicy backoff = {}, OrdersClientOptions options = {},
                      std::function<absl::Time()> now = absl::Now);

  absl::StatusOr<OrdersPage> FirstPage(absl::Time updated_at_min, int limit,
                                       std::optional<CreatedRange> created) override;
  absl::StatusOr<OrdersPage> NextPage(absl::string_view cursor) override;
  const ConnectorStats& stats() const override { return http_.stats(); }

  std::string Url() const { return GraphqlEndpoint(http_.config()); }

 private:
  absl::StatusOr<OrdersPage> Query(const std::string& label);

  OrdersClient http_;
  OrdersClientOptions options_;
  std::function<absl::Time()> now_;
  GraphqlOrdersRequest request_;  // the current query; `after` moves page by page
  std::optional<GraphqlCost> last_cost_;
  absl::Time last_cost_at_;
  int pages_fetched_ = 0;
};

}  // namespace autosync::worker
