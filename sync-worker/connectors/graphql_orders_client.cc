#include "sync-worker/connectors/graphql_orders_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace autosync::worker {
namespace {

constexpr int kMaxFirst = 250;

}  // namespace

GraphqlOrdersClient::GraphqlOrdersClient(OrdersClientConfig config, HttpTransport& transport,
                                         Sleeper& sleeper, BackoffPolicy backoff,
                                         OrdersClientOptions options,
                                         std::function<absl::Time()> now)
    : http_(std::move(config), transport, sleeper, backoff, options),
      options_(options),
      now_(std::move(now)) {}

std::string GraphqlEndpoint(const OrdersClientConfig& config) {
  std::string base = config.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return absl::StrCat(base, "/admin/api/", config.api_version, "/graphql.json");
}

absl::StatusOr<OrdersPage> GraphqlOrdersClient::FirstPage(absl::Time updated_at_min, int limit,
                                                          std::optional<CreatedRange> created) {
  request_ = GraphqlOrdersRequest{};
  request_.updated_min = updated_at_min;
  request_.first = std::clamp(limit, 1, kMaxFirst);
  if (created.has_value()) {
    request_.created_min = created->min;
    request_.created_max = created->max;
  }
  pages_fetched_ = 0;
  return Query(
      absl::StrCat("first page (updated_at >= ",
                   absl::FormatTime(absl::RFC3339_sec, updated_at_min, absl::UTCTimeZone()), ")"));
}

absl::StatusOr<OrdersPage> GraphqlOrdersClient::NextPage(absl::string_view cursor) {
  request_.after = std::string(cursor);
  return Query(absl::StrCat("page ", pages_fetched_ + 1, " (after ", cursor.substr(0, 40), ")"));
}

absl::StatusOr<OrdersPage> GraphqlOrdersClient::Query(const std::string& label) {
  OrdersPage page;
  int throttles = 0;
  while (true) {
    // Wait for the bucket to hold this query's cost, by the last answer's figures.
    if (last_cost_.has_value() && last_cost_->restore_rate > 0) {
      const double needed = std::max(last_cost_->requested, 2.0 + request_.first);
      const double restored =
          absl::ToDoubleSeconds(now_() - last_cost_at_) * last_cost_->restore_rate;
      const double available =
          std::min(last_cost_->maximum_available, last_cost_->currently_available + restored);
      if (available < needed) {
        http_.CountPacingWait();
        const absl::Duration wait =
            std::min(absl::Seconds((needed - available) / last_cost_->restore_rate),
                     options_.max_retry_after);
        if (!http_.Wait(wait)) {
          return http_.Error(absl::StatusCode::kCancelled,
                             "orders sync cancelled while waiting for the GraphQL cost bucket");
        }
      }
    }
    HttpRequest request;
    request.url = Url();
    request.headers = {{"Content-Type", "application/json"}};
    request.post_body = GraphqlOrdersBody(request_);
    absl::StatusOr<HttpResponse> response = http_.Exchange(std::move(request), label, &page);
    if (!response.ok()) return response.status();
    RecordScreen screen;
    screen.now = now_();
    screen.options = options_.rules;
    screen.page = label;
    std::vector<QuarantinedRecord> quarantined;
    screen.quarantined = &quarantined;
    absl::StatusOr<GraphqlOrdersAnswer> answer = ParseGraphqlOrders(response->body, &screen);
    if (!answer.ok()) {
      return http_.Error(absl::StatusCode::kDataLoss,
                         absl::StrCat("orders GraphQL API returned an unreadable ", label, ": ",
                                      answer.status().message()));
    }
    if (answer->cost.has_value()) {
      last_cost_ = answer->cost;
      last_cost_at_ = now_();
    }
    if (answer->throttled) {
      http_.CountThrottled();
      if (++throttles > options_.max_throttle_waits) {
        return http_.Error(
            absl::StatusCode::kUnavailable,
            absl::StrCat("orders GraphQL API throttled ", label, " ", throttles - 1,
                         " times in a row; another app may be using this shop's query budget"));
      }
      if (!last_cost_.has_value() || last_cost_->restore_rate <= 0) {
        // No figures to wait by: the REST default.
        if (!http_.Wait(options_.default_retry_after)) {
          return http_.Error(absl::StatusCode::kCancelled, "orders sync cancelled while throttled");
        }
      }
      continue;  // the wait above is taken at the top of the loop
    }
    if (!answer->errors.empty()) {
      return http_.Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("orders GraphQL API refused ", label, ": ",
                                      absl::StrJoin(answer->errors, "; "),
                                      " (check the token's read_orders scope and the store's API "
                                      "version)"));
    }
    page.orders = std::move(answer->orders);
    page.quarantined = std::move(quarantined);
    if (answer->has_next_page) page.next = std::move(answer->end_cursor);
    ++pages_fetched_;
    return page;
  }
}

}  // namespace autosync::worker
