// The parts of Simulator (simulator.h) shared by its files: the per-store state and the response
// helpers of the Shopify and Meta handlers. Internal to the simulator: simulator.cc holds the
// dispatch and the admin routes, simulator_shopify.cc the Shopify orders and GraphQL routes,
// simulator_meta.cc the Meta insights routes.
//
// Thread-safety: StoreState is guarded by Simulator::mu_ (every handler runs under it); the
// helpers are pure. Lifetime: a StoreState lives as long as its Simulator.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/store-sim/simulator.h"

namespace autosync::storesim {

struct Simulator::StoreState {
  StoreState(StoreData d, AdsModel a, QueryCostBucket g)
      : data(std::move(d)), ads(std::move(a)), graphql_bucket(g) {}
  StoreData data;
  AdsModel ads;
  // Shopify leaky bucket (REST).
  double bucket_level = 0;
  absl::Time bucket_at = absl::InfinitePast();
  // Shopify calculated-cost bucket (GraphQL).
  QueryCostBucket graphql_bucket;
  // Meta: calls so far (drives restatement) and a decaying usage percentage for the headers.
  uint64_t insights_calls = 0;
  double ads_usage_pct = 0;
  absl::Time ads_usage_at = absl::InfinitePast();
};

inline constexpr absl::string_view kJson = "application/json; charset=utf-8";
inline constexpr int kDefaultOrdersLimit = 50;
inline constexpr int kMaxOrdersLimit = 250;
// Shopify's 401 for a wrong X-Shopify-Access-Token, REST and GraphQL alike.
inline constexpr absl::string_view kInvalidTokenMessage =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

// What a data-page fault does to an answer (orders and insights alike); `garbage` is the
// API-shaped body that is not JSON.
void ApplyPageFault(PageFault fault, absl::string_view garbage, Response& r);

// A response with `status` and a JSON `body`.
Response JsonResponse(int status, std::string body);

// {"errors":"<message>"}, Shopify's error body.
std::string ShopifyError(absl::string_view message);

// {"errors":{"<param>":"<message>"}}, the shape Shopify uses for a bad parameter.
std::string ShopifyParamError(absl::string_view param, absl::string_view message);

// A Shopify API version "YYYY-MM".
bool IsApiVersion(absl::string_view v);

// A Graph API version "vNN.0".
bool IsGraphVersion(absl::string_view v);

// NN of a Graph API version "vNN.0" (IsGraphVersion).
int GraphVersionMajor(absl::string_view v);

// The request's Host header, or the simulator's default address.
std::string HostOf(const Request& req);

}  // namespace autosync::storesim
