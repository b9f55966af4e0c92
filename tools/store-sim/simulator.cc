#include "tools/store-sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "simdjson.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/graphql_orders.h"
#include "tools/store-sim/orders_query.h"
#include "tools/store-sim/rng.h"

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

namespace {

constexpr absl::string_view kJson = "application/json; charset=utf-8";
constexpr int kDefaultOrdersLimit = 50;
// Shopify's 401 for a wrong X-Shopify-Access-Token, REST and GraphQL alike.
constexpr absl::string_view kInvalidTokenMessage =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

// What a data-page fault does to an answer (orders and insights alike); `garbage` is the
// API-shaped body that is not JSON.
void ApplyPageFault(PageFault fault, absl::string_view garbage, Response& r) {
  switch (fault) {
    case PageFault::kNone:
      break;
    case PageFault::kDrop:
      r.drop_connection = true;
      break;
    case PageFault::kTruncate:
      r.body.resize(r.body.size() / 2);
      break;
    case PageFault::kMalformed:
      r.body = std::string(garbage);
      break;
  }
}
constexpr int kMaxOrdersLimit = 250;
constexpr int kDefaultInsightsLimit = 25;
constexpr int kMaxInsightsLimit = 500;

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.SetHeader("Content-Type", std::string(kJson));
  return r;
}

std::string ShopifyError(absl::string_view message) {
  std::string out = "{\"errors\":";
  AppendJsonString(out, message);
  out += "}";
  return out;
}

// {"errors":{"<param>":"<message>"}}, the shape Shopify uses for a bad parameter.
std::string ShopifyParamError(absl::string_view param, absl::string_view message) {
  std::string out = "{\"errors\":{";
  AppendJsonString(out, param);
  out += ":";
  AppendJsonString(out, message);
  out += "}}";
  return out;
}

bool IsApiVersion(absl::string_view v) {
  // YYYY-MM
  return v.size() == 7 && v[4] == '-' &&
         std::all_of(v.begin(), v.begin() + 4, [](char c) { return c >= '0' && c <= '9'; }) &&
         v[5] >= '0' && v[5] <= '1' && v[6] >= '0' && v[6] <= '9';
}

bool IsGraphVersion(absl::string_view v) {
  // vNN.0
  if (v.size() < 4 || v[0] != 'v' || !absl::EndsWith(v, ".0")) return false;
  absl::string_view digits = v.substr(1, v.size() - 3);
  return !digits.empty() && digits.size() <= 3 &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string HostOf(const Request& req) {
  auto host = req.Header("Host");
  return host && !host->empty() ? *host : "127.0.0.1:8090";
}

std::string OffsetText(int minutes) {
  int a = minutes < 0 ? -minutes : minutes;
  return absl::StrFormat("%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
}

}  // namespace

Simulator::Simulator(const SimConfig& config, const Clock* clock)
    : config_(config),
      clock_(clock),
      cursor_secret_(MixKeys(config.seed, 0xc0ffee)),
      faults_(config.faults),
      bulk_(BulkOptions{absl::Milliseconds(config.bulk_min_ms),
                        absl::Seconds(config.bulk_url_ttl_seconds), cursor_secret_}) {}

Simulator::~Simulator() {
  std::thread thread;
  {
    absl::MutexLock lock(&jobs_mu_);
    stopping_ = true;
    if (running_job_ != nullptr) running_job_->Cancel();
    thread = std::move(bulk_thread_);
  }
  if (thread.joinable()) thread.join();
}

void Simulator::StartBulkJob(std::shared_ptr<BulkJob> job) {
  absl::MutexLock lock(&jobs_mu_);
  jobs_.push_back(std::move(job));
  if (!bulk_thread_.joinable()) bulk_thread_ = std::thread([this] { BulkThread(); });
}

void Simulator::BulkThread() {
  while (true) {
    std::shared_ptr<BulkJob> job;
    {
      absl::MutexLock lock(&jobs_mu_);
      jobs_mu_.Await(absl::Condition(this, &Simulator::BulkWorkReady));
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      running_job_ = job;
    }
    job->Run();  // renders outside every lock; the registry watches its atomics
    absl::MutexLock lock(&jobs_mu_);
    running_job_.reset();
  }
}

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(const SimConfig& config,
                                                             const Clock* clock) {
  if (config.stores.empty()) return absl::InvalidArgumentError("no stores configured");
  if (config.bucket_size < 1) return absl::InvalidArgumentError("--bucket_size must be >= 1");
  if (config.leak_per_second < 0)
    return absl::InvalidArgumentError("--leak_per_second must be >= 0");
  if (config.live_interval_ms < 1)
    return absl::InvalidArgumentError("--live_interval_ms must be >= 1");
  if (config.access_token.empty())
    return absl::InvalidArgumentError("--access_token must not be empty");
  if (config.graphql_bucket_size < 1)
    return absl::InvalidArgumentError("--graphql_bucket_size must be >= 1");
  if (config.graphql_restore_rate < 0)
    return absl::InvalidArgumentError("--graphql_restore_rate must be >= 0");
  if (config.bulk_min_ms < 0) return absl::InvalidArgumentError("--bulk_min_ms must be >= 0");
  if (config.bulk_url_ttl_seconds < 1)
    return absl::InvalidArgumentError("--bulk_url_ttl_seconds must be >= 1");
  std::unique_ptr<Simulator> sim(new Simulator(config, clock));
  const int64_t end = absl::ToUnixSeconds(config.end);
  for (const StoreSpec& spec : config.stores) {
    StoreData data = StoreData::Generate(config.seed, spec, end);
    int64_t first_day =
        FloorDiv(data.window_start() + int64_t{spec.utc_offset_minutes} * 60, 86400);
    AdsModel ads(data.store_seed(), first_day, data.customer_count(), spec.hostile);
    sim->stores_.push_back(std::make_unique<StoreState>(
        std::move(data), std::move(ads),
        QueryCostBucket(config.graphql_bucket_size, config.graphql_restore_rate)));
  }
  return sim;
}

Simulator::StoreState* Simulator::Find(const std::string& id) {
  for (auto& s : stores_) {
    if (s->data.spec().id == id) return s.get();
  }
  return nullptr;
}

const StoreData* Simulator::FindStore(const std::string& id) const {
  for (const auto& s : stores_) {
    if (s->data.spec().id == id) return &s->data;
  }
  return nullptr;
}

int64_t Simulator::step_seconds() const {
  return std::max<int64_t>(1, config_.live_interval_ms / 1000);
}

absl::Status Simulator::Tick(const std::string& store_id) {
  absl::MutexLock lock(&mu_);
  StoreState* s = Find(store_id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("unknown store ", store_id));
  s->data.Step(step_seconds(), config_.live_delete_probability);
  return absl::OkStatus();
}

void Simulator::TickAll() {
  absl::MutexLock lock(&mu_);
  for (auto& s : stores_) s->data.Step(step_seconds(), config_.live_delete_probability);
}

Response Simulator::Handle(const Request& request) {
  absl::MutexLock lock(&mu_);
  return HandleLocked(request);
}

Response Simulator::HandleLocked(const Request& request) {
  auto target = ParseTarget(request.target);
  if (!target.ok()) return JsonResponse(400, ShopifyError("Bad Request: malformed URL"));
  // Signed bulk downloads first: no token, and not an admin or API path.
  if (absl::StartsWith(target->path, "/_bulk/")) {
    if (request.method != "GET") {
      return JsonResponse(405, "{\"error\":\"method not allowed\"}");
    }
    return AnswerBulkDownload(*target, bulk_, faults_, clock_->Now());
  }
  if (absl::StartsWith(target->path, "/_sim/")) return HandleAdmin(request, *target);

  std::vector<std::string> parts = absl::StrSplit(target->path, '/', absl::SkipEmpty());
  // /shops/{store}/admin/api/{YYYY-MM}/orders.json | …/orders/count.json | …/events.json |
  // …/graphql.json
  if (parts.size() >= 6 && parts[0] == "shops" && parts[2] == "admin" && parts[3] == "api") {
    bool list = parts.size() == 6 && parts[5] == "orders.json";
    bool count = parts.size() == 7 && parts[5] == "orders" && parts[6] == "count.json";
    bool events = parts.size() == 6 && parts[5] == "events.json";
    bool graphql = parts.size() == 6 && parts[5] == "graphql.json";
    StoreState* store = Find(parts[1]);
    if (store == nullptr || !IsApiVersion(parts[4]) || (!list && !count && !events && !graphql)) {
      return JsonResponse(404, ShopifyError("Not Found"));
    }
    if (graphql) {
      if (request.method != "POST") return JsonResponse(406, ShopifyError("Not Acceptable"));
      return HandleGraphql(request, *store);
    }
    if (request.method != "GET") return JsonResponse(406, ShopifyError("Not Acceptable"));
    return HandleOrders(request, *target, *store, parts[4],
                        list    ? OrdersRoute::kList
                        : count ? OrdersRoute::kCount
                                : OrdersRoute::kEvents);
  }
  // /{vNN.0}/act_{account}/insights
  if (parts.size() == 3 && parts[2] == "insights" && absl::StartsWith(parts[1], "act_")) {
    return HandleInsights(request, *target, parts[0], parts[1].substr(4));
  }
  return JsonResponse(404, ShopifyError("Not Found"));
}

// ---------------------------------------------------------------------------------------------
// Admin

Response Simulator::HandleAdmin(const Request& request, const ParsedTarget& target) {
  std::vector<std::string> parts = absl::StrSplit(target.path, '/', absl::SkipEmpty());
  const std::string& method = request.method;
  auto method_not_allowed = [] { return JsonResponse(405, "{\"error\":\"method not allowed\"}"); };
  if (parts.size() == 2 && parts[1] == "health") {
    if (method != "GET") return method_not_allowed();
    return JsonResponse(200, absl::StrCat("{\"status\":\"ok\",\"stores\":", stores_.size(), "}"));
  }
  if (parts.size() == 2 && parts[1] == "faults") {
    if (method == "GET") return JsonResponse(200, faults_.ToJson());
    if (method == "DELETE") {
      faults_.Clear();
      return JsonResponse(200, faults_.ToJson());
    }
    if (method == "POST" || method == "PUT") {
      absl::Status st = faults_.ApplyJson(request.body);
      if (!st.ok()) {
        std::string body = "{\"error\":";
        AppendJsonString(body, st.message());
        body += "}";
        return JsonResponse(400, body);
      }
      return JsonResponse(200, faults_.ToJson());
    }
    return method_not_allowed();
  }
  const std::string host = HostOf(request);
  if (parts.size() == 2 && parts[1] == "stores") {
    if (method != "GET") return method_not_allowed();
    std::string body = "{\"stores\":[";
    for (size_t i = 0; i < stores_.size(); ++i) {
      const StoreData& d = stores_[i]->data;
      if (i > 0) body += ",";
      body += "{\"id\":";
      AppendJsonString(body, d.spec().id);
      absl::StrAppend(&body, ",\"orders\":", d.orders().size() - d.events().size(),
                      ",\"deleted_orders\":", d.events().size(),
                      ",\"customers\":", d.customer_count(),
                      ",\"campaigns\":", stores_[i]->ads.campaigns().size(), ",\"utc_offset\":\"",
                      OffsetText(d.spec().utc_offset_minutes), "\",\"now\":\"",
                      FormatShopifyTime(d.now(), d.spec().utc_offset_minutes),
                      "\",\"steps\":", d.steps(), ",\"orders_api_base\":");
      AppendJsonString(body, absl::StrCat("http://", host, "/shops/", d.spec().id));
      body += ",\"ads_account_id\":";
      AppendJsonString(body, absl::StrCat("act_", d.spec().id));
      body += "}";
    }
    body += "]}";
    return JsonResponse(200, body);
  }
  if (parts.size() == 4 && parts[1] == "stores") {
    StoreState* s = Find(parts[2]);
    if (s == nullptr) return JsonResponse(404, "{\"error\":\"unknown store\"}");
    if (parts[3] == "summary") {
      if (method != "GET") return method_not_allowed();
      StoreData::Summary sum = s->data.Summarize();
      return JsonResponse(200, absl::StrCat("{\"count\":", sum.count, ",\"checksum\":\"",
                                            ChecksumHex(sum.checksum), "\"}"));
    }
    if (parts[3] == "tick") {
      if (method != "POST") return method_not_allowed();
      int64_t steps = 1;
      if (auto v = target.Get("steps");
          v && (!absl::SimpleAtoi(*v, &steps) || steps < 1 || steps > 100000)) {
        return JsonResponse(400, "{\"error\":\"steps must be an integer in [1, 100000]\"}");
      }
      StoreData::StepResult total;
      for (int64_t i = 0; i < steps; ++i) {
        StoreData::StepResult r = s->data.Step(step_seconds(), config_.live_delete_probability);
        total.created += r.created;
        total.refunded += r.refunded;
        total.cancelled += r.cancelled;
        total.deleted += r.deleted;
      }
      return JsonResponse(
          200,
          absl::StrCat("{\"step\":", s->data.steps(), ",\"created\":", total.created,
                       ",\"refunded\":", total.refunded, ",\"cancelled\":", total.cancelled,
                       ",\"deleted\":", total.deleted, ",\"now\":\"",
                       FormatShopifyTime(s->data.now(), s->data.spec().utc_offset_minutes), "\"}"));
    }
  }
  return JsonResponse(404, "{\"error\":\"no such admin route\"}");
}

// ---------------------------------------------------------------------------------------------
// Shopify orders

Response Simulator::HandleOrders(const Request& request, const ParsedTarget& target,
                                 StoreState& store, const std::string& version, OrdersRoute route) {
  const bool count_only = route == OrdersRoute::kCount;
  const std::string limit_header_name = "X-Shopify-Shop-Api-Call-Limit";
  auto with_limit = [&](Response r) {
    int64_t shown = config_.leak_per_second > 0
                        ? std::min<int64_t>(config_.bucket_size,
                                            static_cast<int64_t>(std::ceil(store.bucket_level)))
                        : 1;
    r.SetHeader(limit_header_name, absl::StrCat(shown, "/", config_.bucket_size));
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    return r;
  };
  auto too_many = [&] {
    Response r =
        JsonResponse(429, ShopifyError("Exceeded 2 calls per second for api client. Reduce "
                                       "request rates to resume uninterrupted service."));
    r.SetHeader("Retry-After", "2.0");
    r = with_limit(std::move(r));
    r.SetHeader(limit_header_name, absl::StrCat(config_.bucket_size, "/", config_.bucket_size));
    return r;
  };

  auto token = request.Header("X-Shopify-Access-Token");
  if (!token || *token != config_.access_token) {
    return with_limit(JsonResponse(401, ShopifyError(kInvalidTokenMessage)));
  }
  if (faults_.TakeBurst429()) return too_many();
  if (int code = faults_.Next5xx(); code != 0) {
    return with_limit(JsonResponse(
        code, ShopifyError(code == 500 ? "Internal Server Error" : "Service Unavailable")));
  }
  // Leaky bucket: the level drains at leak_per_second; a request that would overflow is refused
  // and does not count.
  if (config_.leak_per_second > 0) {
    absl::Time now = clock_->Now();
    if (store.bucket_at != absl::InfinitePast()) {
      double elapsed = absl::ToDoubleSeconds(now - store.bucket_at);
      store.bucket_level =
          std::max(0.0, store.bucket_level - std::max(0.0, elapsed) * config_.leak_per_second);
    }
    store.bucket_at = now;
    if (store.bucket_level + 1.0 > static_cast<double>(config_.bucket_size) + 1e-9)
      return too_many();
    store.bucket_level += 1.0;
  }

  const StoreData& data = store.data;
  if (route == OrdersRoute::kEvents) return with_limit(OrderEvents(request, target, data, version));
  if (target.Has("page")) {
    return with_limit(
        JsonResponse(400, ShopifyParamError("page",
                                            "page cannot be passed; use cursor-based pagination "
                                            "(the page_info parameter from the Link header).")));
  }
  int limit = kDefaultOrdersLimit;
  if (auto v = target.Get("limit")) {
    if (!absl::SimpleAtoi(*v, &limit) || limit < 1 || limit > kMaxOrdersLimit) {
      return with_limit(JsonResponse(
          400, ShopifyParamError("limit", "limit must be an integer between 1 and 250")));
    }
  }
  std::vector<std::string> fields;
  std::string fields_raw;
  if (auto v = target.Get("fields")) {
    fields_raw = *v;
    fields = absl::StrSplit(*v, ',', absl::SkipWhitespace());
    for (std::string& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
  }

  OrdersQuery query;
  PageCursor cursor;
  bool have_cursor = false;
  if (auto page_info = target.Get("page_info"); page_info && !count_only) {
    for (const QueryParam& p : target.params) {
      if (p.key != "page_info" && p.key != "limit" && p.key != "fields") {
        return with_limit(JsonResponse(
            400, ShopifyParamError("page_info",
                                   absl::StrCat("page_info cannot be combined with '", p.key,
                                                "': only limit and fields may be "
                                                "added to a page_info request"))));
      }
    }
    auto decoded = DecodePageInfo(*page_info, cursor_secret_, data.spec().id);
    if (!decoded.ok()) {
      return with_limit(
          JsonResponse(400, ShopifyParamError("page_info", decoded.status().message())));
    }
    cursor = *std::move(decoded);
    query = cursor.query;
    have_cursor = true;
  } else {
    std::vector<ParsedParam> params;
    for (const QueryParam& p : target.params) params.push_back({p.key, p.value});
    auto parsed = ParseOrdersQuery(params, data.spec().utc_offset_minutes);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      std::string param(msg.substr(0, msg.find(':')));
      return with_limit(JsonResponse(400, ShopifyParamError(param, msg)));
    }
    query = *std::move(parsed);
  }

  if (!config_.read_all_orders) query = WithoutOldOrders(std::move(query), data.now());
  if (count_only) {
    return with_limit(
        JsonResponse(200, absl::StrCat("{\"count\":", CountOrders(data, query), "}")));
  }

  OrdersPage page = RunOrdersQuery(data, query, limit, have_cursor ? &cursor : nullptr);
  std::string body = "{\"orders\":[";
  body.reserve(page.positions.size() * 700 + 32);
  for (size_t i = 0; i < page.positions.size(); ++i) {
    if (i > 0) body += ",";
    AppendOrderJson(body, data, data.orders()[page.positions[i]], fields);
  }
  body += "]}";
  Response r = with_limit(JsonResponse(200, std::move(body)));

  // Link header, built on the request's own base URL (Shopify echoes limit and fields).
  if (!page.positions.empty() && (page.has_next || page.has_previous)) {
    std::string base = absl::StrCat("http://", HostOf(request), "/shops/", data.spec().id,
                                    "/admin/api/", version, "/orders.json?limit=", limit);
    if (!fields_raw.empty()) absl::StrAppend(&base, "&fields=", UrlEncode(fields_raw));
    std::vector<std::string> links;
    if (page.has_previous) {
      PageCursor prev{query, /*backward=*/true,
                      KeyOf(data.orders()[page.positions.front()], query.sort)};
      links.push_back(absl::StrCat(
          "<", base, "&page_info=", EncodePageInfo(prev, cursor_secret_, data.spec().id),
          ">; rel=\"previous\""));
    }
    if (page.has_next) {
      PageCursor next{query, /*backward=*/false,
                      KeyOf(data.orders()[page.positions.back()], query.sort)};
      links.push_back(absl::StrCat(
          "<", base, "&page_info=", EncodePageInfo(next, cursor_secret_, data.spec().id),
          ">; rel=\"next\""));
    }
    r.SetHeader("Link", absl::StrJoin(links, ", "));
  }

  ApplyPageFault(faults_.NextPage(), "{\"orders\":[{\"id\":,\"name\":\"#\x01\"}]]garbage", r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Shopify GraphQL orders (graphql_orders.h holds the API; here: auth, faults, the clock)

Response Simulator::HandleGraphql(const Request& request, StoreState& store) {
  auto with_latency = [&](Response r) {
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    return r;
  };
  auto token = request.Header("X-Shopify-Access-Token");
  if (!token || *token != config_.access_token) {
    return with_latency(JsonResponse(401, ShopifyError(kInvalidTokenMessage)));
  }
  // The same fault switches as the REST orders route, in the same order.
  if (faults_.TakeBurst429()) {
    Response r = JsonResponse(429, ShopifyError("Too many requests; retry after 2 seconds."));
    r.SetHeader("Retry-After", "2.0");
    return with_latency(std::move(r));
  }
  if (int code = faults_.Next5xx(); code != 0) {
    return with_latency(JsonResponse(
        code, ShopifyError(code == 500 ? "Internal Server Error" : "Service Unavailable")));
  }
  auto body = ParseGraphqlBody(request.body);
  const BulkRequestKind bulk_kind =
      body.ok() ? ClassifyBulkRequest(body->query) : BulkRequestKind::kNone;
  if (bulk_kind != BulkRequestKind::kNone) {
    BulkContext context{store.data,    bulk_,           store.graphql_bucket,
                        faults_,       clock_->Now(),   HostOf(request),
                        config_.read_all_orders,
                        [this](std::shared_ptr<BulkJob> job) { StartBulkJob(std::move(job)); }};
    GraphqlAnswer answer = AnswerBulkRequest(*body, bulk_kind, context);
    return with_latency(JsonResponse(answer.http_status, std::move(answer.body)));
  }
  GraphqlAnswer answer =
      AnswerGraphqlOrders(request.body, store.data, store.graphql_bucket, clock_->Now(),
                          GraphqlOptions{cursor_secret_, config_.read_all_orders});
  Response r = with_latency(JsonResponse(answer.http_status, std::move(answer.body)));
  if (answer.data_page) {
    ApplyPageFault(faults_.NextPage(), "{\"data\":{\"orders\":{\"nodes\":[{\"id\":,}]]}garbage", r);
  }
  return r;
}

Response Simulator::OrderEvents(const Request& request, const ParsedTarget& target,
                                const StoreData& data, const std::string& version) {
  // Only deletions are recorded: filter=Order&verb=destroy (or no filter) lists them; other
  // filters or verbs match nothing. Paging: page_info with rel="next" (ascending id).
  int limit = kDefaultOrdersLimit;
  if (auto v = target.Get("limit")) {
    if (!absl::SimpleAtoi(*v, &limit) || limit < 1 || limit > kMaxOrdersLimit) {
      return JsonResponse(400,
                          ShopifyParamError("limit", "limit must be an integer between 1 and 250"));
    }
  }
  const std::string cursor_scope = absl::StrCat("events:", data.spec().id);
  OrdersQuery query;
  int64_t after_id = INT64_MIN;
  bool matches_nothing = false;
  if (auto page_info = target.Get("page_info")) {
    for (const QueryParam& p : target.params) {
      if (p.key != "page_info" && p.key != "limit" && p.key != "fields") {
        return JsonResponse(
            400, ShopifyParamError(
                     "page_info", absl::StrCat("page_info cannot be combined with '", p.key, "'")));
      }
    }
    auto decoded = DecodePageInfo(*page_info, cursor_secret_, cursor_scope);
    if (!decoded.ok())
      return JsonResponse(400, ShopifyParamError("page_info", decoded.status().message()));
    query = decoded->query;
    after_id = decoded->key.id;
  } else {
    if (target.Has("page")) {
      return JsonResponse(400, ShopifyParamError("page", "page cannot be passed; use page_info"));
    }
    if (auto f = target.Get("filter"); f && !absl::StrContains(*f, "Order")) matches_nothing = true;
    if (auto v = target.Get("verb"); v && *v != "destroy") matches_nothing = true;
    std::vector<ParsedParam> params;
    for (const QueryParam& p : target.params) {
      if (p.key == "created_at_min" || p.key == "created_at_max" || p.key == "since_id") {
        params.push_back({p.key, p.value});
      }
    }
    auto parsed = ParseOrdersQuery(params, data.spec().utc_offset_minutes);
    if (!parsed.ok()) {
      absl::string_view msg = parsed.status().message();
      return JsonResponse(400, ShopifyParamError(msg.substr(0, msg.find(':')), msg));
    }
    query = *std::move(parsed);
  }
  std::vector<const StoreData::DeletionEvent*> page;
  bool more = false;
  if (!matches_nothing) {
    for (const auto& e : data.events()) {
      if (e.id <= after_id || (query.since_id && e.id <= *query.since_id) ||
          (query.created_min && e.created_at < *query.created_min) ||
          (query.created_max && e.created_at > *query.created_max)) {
        continue;
      }
      if (static_cast<int>(page.size()) == limit) {
        more = true;
        break;
      }
      page.push_back(&e);
    }
  }
  const int off = data.spec().utc_offset_minutes;
  std::string body = "{\"events\":[";
  for (size_t i = 0; i < page.size(); ++i) {
    const auto& e = *page[i];
    if (i > 0) body += ",";
    absl::StrAppend(&body, "{\"id\":", e.id, ",\"subject_id\":", e.order_id, ",\"created_at\":\"",
                    FormatShopifyTime(e.created_at, off),
                    "\",\"subject_type\":\"Order\",\"verb\":\"destroy\",\"arguments\":[\"#",
                    e.order_number, "\"],\"body\":null,\"message\":\"Order #", e.order_number,
                    " was deleted.\",\"author\":\"store-sim\",\"description\":\"Order #",
                    e.order_number, " was deleted.\",\"path\":\"/admin/orders/", e.order_id, "\"}");
  }
  body += "]}";
  Response r = JsonResponse(200, std::move(body));
  if (more) {
    PageCursor next{query, /*backward=*/false, SortKey{page.back()->id, page.back()->id}};
    r.SetHeader("Link",
                absl::StrCat("<http://", HostOf(request), "/shops/", data.spec().id, "/admin/api/",
                             version, "/events.json?limit=", limit,
                             "&page_info=", EncodePageInfo(next, cursor_secret_, cursor_scope),
                             ">; rel=\"next\""));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Meta insights

namespace {

std::string MetaError(absl::string_view message, absl::string_view type, int code, int subcode,
                      uint64_t trace) {
  std::string out = "{\"error\":{\"message\":";
  AppendJsonString(out, message);
  out += ",\"type\":";
  AppendJsonString(out, type);
  absl::StrAppend(&out, ",\"code\":", code);
  if (subcode != 0) absl::StrAppend(&out, ",\"error_subcode\":", subcode);
  if (code == 80000 || code == 1 || code == 2) out += ",\"is_transient\":true";
  absl::StrAppend(&out, ",\"fbtrace_id\":\"A", absl::StrFormat("%016X", SplitMix64(trace)), "\"}}");
  return out;
}

std::string EncodeInsightsCursor(uint64_t position, uint64_t fingerprint) {
  std::string raw;
  for (int i = 0; i < 8; ++i) raw.push_back(static_cast<char>((position >> (8 * i)) & 0xff));
  uint64_t tag = MixKeys(fingerprint, position);
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((tag >> (8 * i)) & 0xff));
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<uint64_t> DecodeInsightsCursor(absl::string_view text, uint64_t fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw) || raw.size() != 12) {
    return absl::InvalidArgumentError("bad cursor");
  }
  uint64_t position = 0;
  for (int i = 0; i < 8; ++i)
    position |= uint64_t{static_cast<uint8_t>(raw[static_cast<size_t>(i)])} << (8 * i);
  uint64_t tag = MixKeys(fingerprint, position);
  for (int i = 0; i < 4; ++i) {
    if (static_cast<uint8_t>(raw[static_cast<size_t>(8 + i)]) != ((tag >> (8 * i)) & 0xff)) {
      return absl::InvalidArgumentError("bad cursor");
    }
  }
  return position;
}

const std::vector<std::string>& KnownInsightsFields() {
  static const auto* fields = new std::vector<std::string>{
      "account_id", "account_currency", "campaign_id", "campaign_name", "date_start",   "date_stop",
      "spend",      "impressions",      "clicks",      "actions",       "action_values"};
  return *fields;
}

}  // namespace

Response Simulator::HandleInsights(const Request& request, const ParsedTarget& target,
                                   const std::string& version, const std::string& account) {
  StoreState* store = Find(account);
  const uint64_t trace = MixKeys(cursor_secret_, store != nullptr ? store->insights_calls : 0,
                                 Fnv1a64(request.target));
  const absl::Time now = clock_->Now();
  bool throttled = false;
  auto with_usage = [&](Response r) {
    double pct = 0;
    if (store != nullptr) {
      if (store->ads_usage_at != absl::InfinitePast()) {
        double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - store->ads_usage_at));
        store->ads_usage_pct = std::max(0.0, store->ads_usage_pct - elapsed * (5.0 / 60.0));
      }
      store->ads_usage_at = now;
      pct = store->ads_usage_pct;
    }
    int call_count = throttled ? 100 : static_cast<int>(std::lround(pct));
    r.SetHeader(
        "x-business-use-case-usage",
        absl::StrCat("{\"", account, "\":[{\"type\":\"ads_insights\",\"call_count\":", call_count,
                     ",\"total_cputime\":", call_count / 2, ",\"total_time\":", call_count / 2,
                     ",\"estimated_time_to_regain_access\":", throttled ? 5 : 0, "}]}"));
    r.SetHeader("x-fb-ads-insights-throttle",
                absl::StrCat("{\"app_id_util_pct\":", throttled ? 100 : call_count / 2,
                             ",\"acc_id_util_pct\":", call_count,
                             ",\"ads_api_access_tier\":\"standard_access\"}"));
    r.delay_ms = static_cast<int>(faults_.latency_ms());
    return r;
  };
  auto error = [&](int http, absl::string_view message, absl::string_view type, int code, int sub) {
    return with_usage(JsonResponse(http, MetaError(message, type, code, sub, trace)));
  };

  if (request.method != "GET") {
    return error(400, "Unsupported request method (store-sim serves synchronous GET insights only)",
                 "OAuthException", 100, 0);
  }
  if (!IsGraphVersion(version)) {
    return error(400, absl::StrCat("Unknown path components: /", version), "OAuthException", 2500,
                 0);
  }
  std::optional<std::string> token = target.Get("access_token");
  if (!token) {
    if (auto auth = request.Header("Authorization"); auth && absl::StartsWith(*auth, "Bearer ")) {
      token = auth->substr(7);
    }
  }
  if (!token) {
    return error(400, "An access token is required to request this resource.", "OAuthException",
                 104, 0);
  }
  if (*token != config_.access_token) {
    return error(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException",
                 190, 0);
  }
  if (store == nullptr) {
    return error(400,
                 absl::StrCat("Unsupported get request. Object with ID 'act_", account,
                              "' does not exist, cannot be loaded due to missing permissions, or "
                              "does not support this operation."),
                 "GraphMethodException", 100, 33);
  }
  if (faults_.TakeAdsThrottle()) {
    throttled = true;
    return error(400,
                 "(#80000) There have been too many calls from this ad-account. Wait a bit and try "
                 "again. For more info, please refer to "
                 "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                 "OAuthException", 80000, 2446079);
  }
  if (int code = faults_.Next5xx(); code != 0) {
    return code == 500 ? error(500, "An unknown error occurred", "OAuthException", 1, 99)
                       : error(503, "Service temporarily unavailable", "OAuthException", 2, 0);
  }
  store->ads_usage_pct = std::min(100.0, store->ads_usage_pct + 0.5);

  const int off = store->data.spec().utc_offset_minutes;
  const int64_t today = FloorDiv(store->data.now() + int64_t{off} * 60, 86400);

  // level
  std::string level = target.Get("level").value_or("account");
  if (level != "campaign" && level != "account") {
    return error(400, "(#100) store-sim serves level=campaign or level=account", "OAuthException",
                 100, 0);
  }
  // time_range (default: Meta's last_30d preset, yesterday and the 29 days before)
  int64_t since = today - 30;
  int64_t until = today - 1;
  if (auto tr = target.Get("time_range")) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view s, u;
    if (parser.parse(simdjson::padded_string(*tr)).get(doc) != simdjson::SUCCESS ||
        doc["since"].get(s) != simdjson::SUCCESS || doc["until"].get(u) != simdjson::SUCCESS) {
      return error(400, "(#100) param time_range must be a JSON object with since and until",
                   "OAuthException", 100, 1487534);
    }
    auto ds = ParseDay(absl::string_view(s.data(), s.size()));
    auto du = ParseDay(absl::string_view(u.data(), u.size()));
    if (!ds.ok() || !du.ok()) {
      return error(400, "(#100) time_range: dates must be YYYY-MM-DD", "OAuthException", 100,
                   1487534);
    }
    since = *ds;
    until = *du;
  }
  if (until < since) {
    return error(400, "(#100) time_range: since must be on or before until", "OAuthException", 100,
                 1487534);
  }
  {
    absl::CivilDay t = absl::CivilDay(1970, 1, 1) + today;
    absl::CivilDay limit_day(t.year(), t.month() - 37, t.day());
    if (since < limit_day - absl::CivilDay(1970, 1, 1)) {
      return error(400,
                   "(#3018) The start date of the time range cannot be beyond 37 months from the "
                   "current date",
                   "OAuthException", 100, 1487534);
    }
  }
  // time_increment: 1..90 days or all_days (the default)
  int64_t increment = 0;  // 0 = all_days
  if (auto ti = target.Get("time_increment"); ti && *ti != "all_days") {
    if (!absl::SimpleAtoi(*ti, &increment) || increment < 1 || increment > 90) {
      return error(400, "(#100) time_increment must be an integer 1-90 or all_days",
                   "OAuthException", 100, 0);
    }
  }
  // fields
  std::vector<std::string> fields = {"spend", "impressions"};
  if (auto f = target.Get("fields")) {
    fields = absl::StrSplit(*f, ',', absl::SkipWhitespace());
    for (const std::string& name : fields) {
      const auto& known = KnownInsightsFields();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return error(400, absl::StrCat("(#100) ", name, " is not valid for fields param."),
                     "OAuthException", 100, 0);
      }
    }
  }
  auto want = [&](absl::string_view name) {
    return std::find(fields.begin(), fields.end(), name) != fields.end();
  };
  int limit = kDefaultInsightsLimit;
  if (auto l = target.Get("limit")) {
    if (!absl::SimpleAtoi(*l, &limit) || limit < 1) {
      return error(400, "(#100) limit must be a positive integer", "OAuthException", 100, 0);
    }
    if (limit > kMaxInsightsLimit) {
      return error(500,
                   "Please reduce the amount of data you're asking for, then retry your request",
                   "OAuthException", 1, 0);
    }
  }
  // Fingerprint of the query, so an `after` cursor only works with the query that made it.
  std::string normalized;
  for (const QueryParam& p : target.params) {
    if (p.key == "after" || p.key == "before" || p.key == "access_token" || p.key == "limit")
      continue;
    absl::StrAppend(&normalized, p.key, "=", p.value, "&");
  }
  const uint64_t fingerprint = MixKeys(cursor_secret_, Fnv1a64(normalized), Fnv1a64(account));
  uint64_t offset = 0;
  if (auto after = target.Get("after")) {
    auto pos = DecodeInsightsCursor(*after, fingerprint);
    if (!pos.ok()) {
      return error(400, "(#100) Invalid cursor: 'after' does not belong to this query",
                   "OAuthException", 100, 0);
    }
    offset = *pos + 1;
  }

  // Rows: buckets of `increment` days from `since` (data exists from the first day to today),
  // times campaigns at campaign level.
  const uint64_t call = ++store->insights_calls;
  const int64_t data_from = std::max(since, store->ads.first_day());
  const int64_t data_to = std::min(until, today);
  struct Bucket {
    int64_t start, stop;
  };
  std::vector<Bucket> buckets;
  if (data_from <= data_to) {
    if (increment == 0) {
      buckets.push_back({since, until});
    } else {
      for (int64_t b = since; b <= data_to; b += increment) {
        int64_t stop = std::min(b + increment - 1, until);
        if (stop >= data_from) buckets.push_back({b, stop});
      }
    }
  }
  const size_t per_bucket = level == "campaign" ? store->ads.campaigns().size() : 1;
  const uint64_t total = buckets.size() * per_bucket;

  std::string body = "{\"data\":[";
  uint64_t end_pos = std::min<uint64_t>(total, offset + static_cast<uint64_t>(limit));
  for (uint64_t pos = offset; pos < end_pos; ++pos) {
    const Bucket& b = buckets[pos / per_bucket];
    size_t c = pos % per_bucket;
    DayMetrics m;
    for (int64_t d = std::max(b.start, data_from); d <= std::min(b.stop, data_to); ++d) {
      if (level == "campaign") {
        m += store->ads.Metrics(c, d, today, call);
      } else {
        for (size_t k = 0; k < store->ads.campaigns().size(); ++k)
          m += store->ads.Metrics(k, d, today, call);
      }
    }
    if (pos > offset) body += ",";
    body += "{";
    if (want("account_id")) absl::StrAppend(&body, "\"account_id\":\"", account, "\",");
    if (level == "campaign") {
      const Campaign& camp = store->ads.campaigns()[c];
      if (want("campaign_id")) absl::StrAppend(&body, "\"campaign_id\":\"", camp.id, "\",");
      if (want("campaign_name")) {
        body += "\"campaign_name\":";
        AppendJsonString(body, camp.name);
        body += ",";
      }
    }
    if (want("spend"))
      absl::StrAppend(&body, "\"spend\":\"", FormatTrimmedCents(m.spend_cents), "\",");
    if (want("impressions")) absl::StrAppend(&body, "\"impressions\":\"", m.impressions, "\",");
    if (want("clicks")) absl::StrAppend(&body, "\"clicks\":\"", m.clicks, "\",");
    if (want("actions")) {
      absl::StrAppend(&body, "\"actions\":[{\"action_type\":\"link_click\",\"value\":\"", m.clicks,
                      "\"},{\"action_type\":\"purchase\",\"value\":\"", m.purchases,
                      "\"},{\"action_type\":\"offsite_conversion.fb_pixel_purchase\",\"value\":\"",
                      m.purchases, "\"}],");
    }
    if (want("action_values")) {
      absl::StrAppend(&body, "\"action_values\":[{\"action_type\":\"purchase\",\"value\":\"",
                      FormatTrimmedCents(m.purchase_value_cents),
                      "\"},{\"action_type\":\"offsite_conversion.fb_pixel_purchase\",\"value\":\"",
                      FormatTrimmedCents(m.purchase_value_cents), "\"}],");
    }
    if (want("account_currency")) body += "\"account_currency\":\"USD\",";
    absl::StrAppend(&body, "\"date_start\":\"", FormatDay(b.start), "\",\"date_stop\":\"",
                    FormatDay(b.stop), "\"}");
  }
  body += "]";
  if (end_pos > offset) {
    absl::StrAppend(&body, ",\"paging\":{\"cursors\":{\"before\":\"",
                    EncodeInsightsCursor(offset, fingerprint), "\",\"after\":\"",
                    EncodeInsightsCursor(end_pos - 1, fingerprint), "\"}");
    if (end_pos < total) {
      std::string next =
          absl::StrCat("http://", HostOf(request), "/", version, "/act_", account, "/insights?");
      for (const QueryParam& p : target.params) {
        if (p.key == "after" || p.key == "before") continue;
        absl::StrAppend(&next, p.raw, "&");
      }
      absl::StrAppend(&next, "after=", EncodeInsightsCursor(end_pos - 1, fingerprint));
      body += ",\"next\":";
      AppendJsonString(body, next);
    }
    body += "}";
  }
  body += "}";
  Response r = with_usage(JsonResponse(200, std::move(body)));
  ApplyPageFault(faults_.NextPage(), "{\"data\":[{\"spend\":\"12.3\",}]]<html>garbage", r);
  return r;
}

}  // namespace autosync::storesim
