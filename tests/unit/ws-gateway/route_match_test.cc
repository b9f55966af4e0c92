// Route matching, query/header helpers and rate limits.
#include "ws-gateway/route_match.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ws-gateway/rate_limit.h"
#include "ws-gateway/routes.h"

namespace autosync::gateway {
namespace {

using ::testing::HasSubstr;

TEST(RouteMatchTest, MatchesEveryRouteWithItsStoreId) {
  RouteMatch m = MatchRoute("GET", "/api/sync/status/buycosari");
  EXPECT_EQ(m.id, RouteId::kSyncStatus);
  EXPECT_EQ(m.store_id, "buycosari");
  EXPECT_TRUE(m.allowed_methods.empty());
  EXPECT_EQ(m.label, "/api/sync/status/:storeId");

  m = MatchRoute("POST", "/api/test/trigger-sync/shop-1");
  EXPECT_EQ(m.id, RouteId::kTriggerSync);
  EXPECT_EQ(m.store_id, "shop-1");

  EXPECT_EQ(MatchRoute("GET", "/api/stores").id, RouteId::kStores);
  m = MatchRoute("GET", "/api/stores/a/ltv");
  EXPECT_EQ(m.id, RouteId::kStoreLtv);
  EXPECT_EQ(m.store_id, "a");
  EXPECT_EQ(MatchRoute("GET", "/api/stores/a/runs").id, RouteId::kStoreRuns);
  m = MatchRoute("GET", "/api/stores/a/quarantine");
  EXPECT_EQ(m.id, RouteId::kStoreQuarantine);
  EXPECT_EQ(m.store_id, "a");
  EXPECT_EQ(m.label, "/api/stores/:storeId/quarantine");
  EXPECT_EQ(MatchRoute("HEAD", "/health").id, RouteId::kHealth);
  EXPECT_EQ(MatchRoute("GET", "/metrics").id, RouteId::kMetrics);
  EXPECT_EQ(MatchRoute("GET", "/").id, RouteId::kStatic);
  EXPECT_EQ(MatchRoute("GET", "/app.js").id, RouteId::kStatic);
}

TEST(RouteMatchTest, WrongMethodNamesTheAllowedOnes) {
  RouteMatch m = MatchRoute("GET", "/api/test/trigger-sync/x");
  EXPECT_EQ(m.id, RouteId::kTriggerSync);
  EXPECT_EQ(m.allowed_methods, "POST");
  EXPECT_EQ(MatchRoute("POST", "/api/sync/status/x").allowed_methods, "GET, HEAD");
  EXPECT_EQ(MatchRoute("DELETE", "/health").allowed_methods, "GET, HEAD");
  // Preflight matches like the route it asks about.
  EXPECT_TRUE(MatchRoute("OPTIONS", "/api/test/trigger-sync/x").allowed_methods.empty());
}

TEST(RouteMatchTest, UnknownAndMalformedPathsAreNotFound) {
  EXPECT_EQ(MatchRoute("GET", "/api/sync/status/").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/api/sync/status/a/b").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/api/stores//ltv").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/api/nope").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/api").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("POST", "/index.html").id, RouteId::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "").id, RouteId::kNotFound);
}

TEST(RouteMatchTest, RawStoreIdIsPassedThroughForValidation) {
  // The matcher does not judge ids: the router validates them (400), so bad ones are visible.
  EXPECT_EQ(MatchRoute("GET", "/api/sync/status/BAD%20id").store_id, "BAD%20id");
}

TEST(QueryTest, ParamsArePercentDecoded) {
  EXPECT_EQ(QueryParam("a=1&token=x%2Ey+z", "token"), "x.y z");
  EXPECT_EQ(QueryParam("a=1", "token"), std::nullopt);
  EXPECT_EQ(QueryParam("token=%zz", "token"), std::nullopt);
  EXPECT_EQ(QueryParam("token=%4", "token"), std::nullopt);
  EXPECT_EQ(QueryParam("token", "token"), "");
  EXPECT_EQ(PathOf("/a/b?c=d"), "/a/b");
  EXPECT_EQ(QueryOf("/a/b?c=d"), "c=d");
}

TEST(QueryTest, BearerTokens) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer "), std::nullopt);
}

TEST(HttpStatusTest, UpstreamCodesMapToHttp) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::UnauthenticatedError("")), 401);
  EXPECT_EQ(HttpStatusFor(absl::PermissionDeniedError("")), 403);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("")), 409);
  EXPECT_EQ(HttpStatusFor(absl::AbortedError("")), 409);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("")), 429);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::DeadlineExceededError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("")), 502);
}

TEST(RateLimiterTest, BurstThenRefill) {
  RateLimiter limiter(2, absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("a", t0));
  EXPECT_FALSE(limiter.Allow("a", t0));
  EXPECT_TRUE(limiter.Allow("b", t0));  // keys are independent
  EXPECT_FALSE(limiter.Allow("a", t0 + absl::Seconds(9)));
  EXPECT_TRUE(limiter.Allow("a", t0 + absl::Seconds(10)));
}

TEST(RateLimiterTest, TriggerLimiterNamesTheLimit) {
  TriggerLimiter limiter(1, absl::Minutes(1), 5, absl::Minutes(1));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Check("s", "c1", t0).ok());
  absl::Status s = limiter.Check("s", "c2", t0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("store s"));
  TriggerLimiter per_client(100, absl::Minutes(1), 1, absl::Minutes(1));
  EXPECT_TRUE(per_client.Check("s1", "c", t0).ok());
  EXPECT_THAT(std::string(per_client.Check("s2", "c", t0).message()), HasSubstr("client"));
}

}  // namespace
}  // namespace autosync::gateway
