#include "tools/store-sim/graphql_orders.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tools/store-sim/format.h"

namespace autosync::storesim {
namespace {

void AppendMoneySet(std::string& out, int64_t cents) {
  out += "{\"shopMoney\":{\"amount\":\"";
  AppendMoney(out, cents);
  out += "\",\"currencyCode\":\"USD\"}}";
}

// Shopify prints the bucket's float members with a fraction ("2000.0").
std::string JsonFloat(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.1f", v);
  return absl::StrCat(v);
}

std::string GraphqlErrorJson(absl::string_view message, absl::string_view code) {
  std::string out = "{\"errors\":[{\"message\":";
  AppendJsonString(out, message);
  out += ",\"extensions\":{\"code\":";
  AppendJsonString(out, code);
  out += "}}]}";
  return out;
}

std::string GraphqlErrorJson(const absl::Status& status) {
  return GraphqlErrorJson(status.message(), status.code() == absl::StatusCode::kUnimplemented
                                                ? "UNSUPPORTED_QUERY"
                                                : "BAD_USER_INPUT");
}

std::string CursorScope(absl::string_view store_id) { return absl::StrCat("graphql:", store_id); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Cursors and nodes

std::string EncodeGraphqlCursor(const Order& last, uint64_t secret, absl::string_view store_id) {
  PageCursor c;
  c.query.status = StatusFilter::kAny;
  c.query.sort = SortOrder::kUpdatedAsc;
  c.key = KeyOf(last, SortOrder::kUpdatedAsc);
  return EncodePageInfo(c, secret, CursorScope(store_id));
}

absl::StatusOr<SortKey> DecodeGraphqlCursor(absl::string_view after, uint64_t secret,
                                            absl::string_view store_id) {
  auto c = DecodePageInfo(after, secret, CursorScope(store_id));
  if (!c.ok() || c->backward || c->query.sort != SortOrder::kUpdatedAsc ||
      c->query.status != StatusFilter::kAny) {
    return absl::InvalidArgumentError(
        "after: invalid cursor (use an endCursor of this store's orders connection)");
  }
  return c->key;
}

void AppendGraphqlOrderMembers(std::string& out, const StoreData& data, const Order& stored,
                               bool total_refunded) {
  const Order o = data.Shown(stored);
  // Appends, not StrCat: a bulk operation renders a million of these in about a second.
  auto time = [&](int64_t t) {
    out.push_back('"');
    AppendUtcTime(out, t);
    out.push_back('"');
  };
  out += "\"id\":\"gid://shopify/Order/";
  absl::StrAppend(&out, o.id);
  out += "\",\"name\":";
  AppendJsonString(out, data.OrderName(o));
  out += ",\"email\":";
  const std::string email = o.customer >= 0 ? data.CustomerEmail(o.customer) : data.GuestEmail(o);
  if (email.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, email);
  }
  out += ",\"createdAt\":";
  time(o.created_at);
  out += ",\"updatedAt\":";
  time(o.updated_at);
  out += ",\"processedAt\":";
  time(o.created_at);
  out += ",\"cancelledAt\":";
  if (o.cancelled_at != 0) {
    time(o.cancelled_at);
  } else {
    out += "null";
  }
  out += o.test ? ",\"test\":true" : ",\"test\":false";
  out += ",\"displayFinancialStatus\":";
  absl::string_view status = FinancialStatusName(o.financial_status);
  if (status.empty()) {
    out += "null";
  } else {
    out.push_back('"');
    for (char c : status) out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
    out.push_back('"');
  }
  out += ",\"currencyCode\":\"";
  absl::StrAppend(&out, data.Currency(o));
  out += "\",\"totalPriceSet\":";
  AppendMoneySet(out, o.total_cents());
  out += ",\"subtotalPriceSet\":";
  AppendMoneySet(out, o.subtotal_cents);
  out += ",\"totalTaxSet\":";
  AppendMoneySet(out, o.tax_cents);
  out += ",\"totalDiscountsSet\":";
  AppendMoneySet(out, o.discount_cents);
  out += ",\"currentTotalPriceSet\":";
  AppendMoneySet(out, o.current_total_cents());
  if (total_refunded) {
    out += ",\"totalRefundedSet\":";
    AppendMoneySet(out, o.refunded_cents());
  }
  out += ",\"customer\":";
  if (o.customer >= 0) {
    out += "{\"id\":\"gid://shopify/Customer/";
    absl::StrAppend(&out, StoreData::CustomerId(o.customer));
    out += "\"}";
  } else {
    out += "null";
  }
}

void AppendGraphqlOrderNode(std::string& out, const StoreData& data, const Order& o) {
  out.push_back('{');
  AppendGraphqlOrderMembers(out, data, o, /*total_refunded=*/true);
  out.push_back('}');
}

// ---------------------------------------------------------------------------------------------
// Cost

QueryCostBucket::QueryCostBucket(int64_t maximum, double restore_rate)
    : maximum_(maximum), restore_rate_(restore_rate), available_(static_cast<double>(maximum)) {}

bool QueryCostBucket::TryReserve(int64_t points, absl::Time now) {
  if (restore_rate_ <= 0) return true;
  if (at_ != absl::InfinitePast()) {
    double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - at_));
    available_ = std::min(static_cast<double>(maximum_), available_ + elapsed * restore_rate_);
  }
  at_ = now;
  if (available_ + 1e-9 < static_cast<double>(points)) return false;
  available_ -= static_cast<double>(points);
  return true;
}

void QueryCostBucket::Refund(int64_t points) {
  if (restore_rate_ <= 0) return;
  available_ = std::min(static_cast<double>(maximum_), available_ + static_cast<double>(points));
}

int64_t QueryCostBucket::currently_available() const {
  if (restore_rate_ <= 0) return maximum_;
  return static_cast<int64_t>(std::floor(available_ + 1e-9));
}

void AppendQueryCostJson(std::string& out, int64_t requested, std::optional<int64_t> actual,
                         const QueryCostBucket& bucket) {
  absl::StrAppend(&out, "{\"requestedQueryCost\":", requested,
                  ",\"actualQueryCost\":", actual ? absl::StrCat(*actual) : "null",
                  ",\"throttleStatus\":{\"maximumAvailable\":",
                  JsonFloat(static_cast<double>(bucket.maximum())),
                  ",\"currentlyAvailable\":", bucket.currently_available(),
                  ",\"restoreRate\":", JsonFloat(bucket.restore_rate()), "}}");
}

std::string GraphqlThrottledJson(int64_t requested, const QueryCostBucket& bucket) {
  std::string out =
      "{\"errors\":[{\"message\":\"Throttled\",\"extensions\":{\"code\":\"THROTTLED\","
      "\"documentation\":\"https://shopify.dev/api/usage/rate-limits\"}}],"
      "\"extensions\":{\"cost\":";
  AppendQueryCostJson(out, requested, std::nullopt, bucket);
  out += "}}";
  return out;
}

// ---------------------------------------------------------------------------------------------
// One request

GraphqlAnswer AnswerGraphqlOrders(absl::string_view body, const StoreData& data,
                                  QueryCostBucket& bucket, absl::Time now,
                                  const GraphqlOptions& options) {
  GraphqlAnswer answer;
  auto parsed = ParseGraphqlBody(body);
  if (!parsed.ok()) {
    answer.http_status = 400;
    answer.body = "{\"errors\":";
    AppendJsonString(answer.body, parsed.status().message());
    answer.body += "}";
    return answer;
  }
  const std::string& store_id = data.spec().id;
  auto req = ParseGraphqlOrdersRequest(*parsed, data.spec().utc_offset_minutes);
  if (!req.ok()) {
    answer.body = GraphqlErrorJson(req.status());
    return answer;
  }
  OrdersQuery query = req->query;
  if (!options.read_all_orders) query = WithoutOldOrders(std::move(query), data.now());
  PageCursor cursor;
  if (req->after) {
    auto key = DecodeGraphqlCursor(*req->after, options.cursor_secret, store_id);
    if (!key.ok()) {
      answer.body = GraphqlErrorJson(key.status());
      return answer;
    }
    cursor.query = query;
    cursor.key = *key;
  }

  const int64_t requested = kGraphqlBaseCost + req->first;
  if (requested > bucket.maximum()) {
    answer.body = GraphqlErrorJson(
        absl::StrCat("Query cost is ", requested,
                     ", which exceeds the single query max cost limit (", bucket.maximum(), ")."),
        "MAX_COST_EXCEEDED");
    return answer;
  }
  if (!bucket.TryReserve(requested, now)) {
    answer.body = GraphqlThrottledJson(requested, bucket);
    return answer;
  }

  OrdersPage page = RunOrdersQuery(data, query, req->first, req->after ? &cursor : nullptr);
  const int64_t actual = kGraphqlBaseCost + static_cast<int64_t>(page.positions.size());
  bucket.Refund(requested - actual);

  std::string& out = answer.body;
  out.reserve(page.positions.size() * 900 + 512);
  out += "{\"data\":{";
  AppendJsonString(out, req->response_key);
  absl::StrAppend(&out, ":{\"pageInfo\":{\"hasNextPage\":", page.has_next ? "true" : "false",
                  ",\"endCursor\":");
  if (page.positions.empty()) {
    out += "null";
  } else {
    AppendJsonString(out, EncodeGraphqlCursor(data.orders()[page.positions.back()],
                                              options.cursor_secret, store_id));
  }
  out += "},\"nodes\":[";
  for (size_t i = 0; i < page.positions.size(); ++i) {
    if (i > 0) out += ",";
    AppendGraphqlOrderNode(out, data, data.orders()[page.positions[i]]);
  }
  out += "]}},\"extensions\":{\"cost\":";
  AppendQueryCostJson(out, requested, actual, bucket);
  out += "}}";
  answer.data_page = true;
  return answer;
}

}  // namespace autosync::storesim
