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
#include "tools/store-sim/meta_insights.h"
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

// NN of a Graph API version "vNN.0" (IsGraphVersion).
int GraphVersionMajor(absl::string_view v) {
  int major = 0;
  return absl::SimpleAtoi(v.substr(1, v.size() - 3), &major) ? major : 0;
}

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
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
  if (config.ads_async_ms < 0) return absl::InvalidArgumentError("--ads_async_ms must be >= 0");
  if (!IsApiVersion(config.shopify_oldest_version)) {
    return absl::InvalidArgumentError("--shopify_oldest_version must be YYYY-MM");
  }
  if (!IsGraphVersion(config.meta_oldest_version)) {
    return absl::InvalidArgumentError("--meta_oldest_version must be vNN.0");
  }
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
    Response r = HandleShopify(request, *target, parts);
    // Every answer on a versioned path says which version served it; an older one than the
    // sim's oldest is served as that, and says it is deprecated.
    if (IsApiVersion(parts[4])) {
      const bool old = parts[4] < config_.shopify_oldest_version;
      r.SetHeader("X-Shopify-API-Version", old ? config_.shopify_oldest_version : parts[4]);
      if (old) {
        r.SetHeader("X-Shopify-API-Deprecated-Reason",
                    "https://shopify.dev/api/usage/versioning#deprecation-practices");
      }
    }
    return r;
  }
  // /{vNN.0}/act_{account}/insights, /{vNN.0}/{report_run_id}[/insights]
  if ((parts.size() == 3 && parts[2] == "insights" && absl::StartsWith(parts[1], "act_")) ||
      (absl::StartsWith(parts.empty() ? "" : parts[0], "v") && parts.size() >= 2 &&
       IsDigits(parts[1]) &&
       (parts.size() == 2 || (parts.size() == 3 && parts[2] == "insights")))) {
    return HandleMeta(request, *target, parts);
  }
  return JsonResponse(404, ShopifyError("Not Found"));
}

Response Simulator::HandleShopify(const Request& request, const ParsedTarget& target,
                                  const std::vector<std::string>& parts) {
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
  return HandleOrders(request, target, *store, parts[4],
                      list    ? OrdersRoute::kList
                      : count ? OrdersRoute::kCount
                              : OrdersRoute::kEvents);
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
    if (parts[3] == "repair") {  // ":invalid" stores: the broken orders come back valid
      if (method != "POST") return method_not_allowed();
      return JsonResponse(200, absl::StrCat("{\"repaired\":", s->data.RepairBrokenOrders(), "}"));
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
    BulkContext context{store.data,
                        bulk_,
                        store.graphql_bucket,
                        faults_,
                        clock_->Now(),
                        HostOf(request),
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
// Meta: sync insights and async report runs (meta_insights.h holds the API; here: the routes,
// auth, usage headers, fault switches and the clock)

namespace {

// "Sunday, 06-Dec-26 10:00:00 PST", the way Graph API error messages print times.
std::string PacificTime(absl::Time t) {
  return absl::FormatTime("%A, %d-%b-%y %H:%M:%S PST", t, absl::FixedTimeZone(-8 * 3600));
}

}  // namespace

Response Simulator::HandleMeta(const Request& request, const ParsedTarget& target,
                               const std::vector<std::string>& parts) {
  enum class Route { kInsights, kReportStatus, kReportInsights };
  const std::string& version = parts[0];
  Route route = Route::kInsights;
  const ReportRun* run = nullptr;
  std::string account;
  if (parts.size() == 3 && parts[2] == "insights" && absl::StartsWith(parts[1], "act_")) {
    account = parts[1].substr(4);
  } else {
    route = parts.size() == 2 ? Route::kReportStatus : Route::kReportInsights;
    run = reports_.Find(parts[1]);
    if (run != nullptr) account = run->account;
  }
  StoreState* store = account.empty() ? nullptr : Find(account);
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
    // The version that served it: an older one than the sim's oldest is served as that.
    if (IsGraphVersion(version)) {
      r.SetHeader("x-fb-api-version",
                  GraphVersionMajor(version) < GraphVersionMajor(config_.meta_oldest_version)
                      ? config_.meta_oldest_version
                      : version);
    }
    return r;
  };
  auto error = [&](const MetaErrorInfo& e) {
    return with_usage(JsonResponse(e.http, MetaErrorJson(e, trace)));
  };
  auto error_of = [&](int http, absl::string_view message, absl::string_view type, int code,
                      int sub) {
    return error(MetaErrorInfo{http, std::string(message), std::string(type), code, sub});
  };

  // The query string's parameters, then a form body's (a later key wins, as for repeated keys).
  std::vector<QueryParam> params = target.params;
  const bool create = route == Route::kInsights && request.method == "POST";
  if (create && !request.body.empty()) {
    auto form = ParseTarget(absl::StrCat("/?", request.body));
    if (!form.ok()) {
      return error_of(400, "(#100) The request body is not application/x-www-form-urlencoded",
                      "OAuthException", 100, 0);
    }
    params.insert(params.end(), form->params.begin(), form->params.end());
  }
  auto param = [&](absl::string_view key) {
    std::optional<std::string> found;
    for (const QueryParam& p : params) {
      if (p.key == key) found = p.value;
    }
    return found;
  };

  if (request.method != "GET" && !create) {
    return error_of(400,
                    "Unsupported request method (store-sim serves GET insights and report runs, "
                    "and POST insights to start a report run)",
                    "OAuthException", 100, 0);
  }
  if (!IsGraphVersion(version)) {
    return error_of(400, absl::StrCat("Unknown path components: /", version), "OAuthException",
                    2500, 0);
  }
  if (faults_.TakeAdsTokenExpired()) {
    return error_of(400,
                    absl::StrCat("Error validating access token: Session has expired on Sunday, "
                                 "06-Dec-26 10:00:00 PST. The current time is ",
                                 PacificTime(now), "."),
                    "OAuthException", 190, 463);
  }
  std::optional<std::string> token = param("access_token");
  if (!token) {
    if (auto auth = request.Header("Authorization"); auth && absl::StartsWith(*auth, "Bearer ")) {
      token = auth->substr(7);
    }
  }
  if (!token) {
    return error_of(400, "An access token is required to request this resource.", "OAuthException",
                    104, 0);
  }
  if (*token != config_.access_token) {
    return error_of(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException",
                    190, 0);
  }
  if (store == nullptr) {
    return error_of(400,
                    absl::StrCat("Unsupported get request. Object with ID '", parts[1],
                                 "' does not exist, cannot be loaded due to missing permissions, "
                                 "or does not support this operation."),
                    "GraphMethodException", 100, 33);
  }
  if (route != Route::kReportStatus && faults_.TakeAdsThrottle()) {
    throttled = true;
    return error_of(400,
                    "(#80000) There have been too many calls from this ad-account. Wait a bit and "
                    "try again. For more info, please refer to "
                    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                    "OAuthException", 80000, 2446079);
  }
  if (int code = faults_.Next5xx(); code != 0) {
    return code == 500 ? error_of(500, "An unknown error occurred", "OAuthException", 1, 99)
                       : error_of(503, "Service temporarily unavailable", "OAuthException", 2, 0);
  }
  store->ads_usage_pct = std::min(100.0, store->ads_usage_pct + 0.5);
  const absl::Duration job_duration = absl::Milliseconds(config_.ads_async_ms);

  if (route == Route::kReportStatus) {
    return with_usage(JsonResponse(200, ReportRunJson(*run, ProgressOf(*run, now, job_duration))));
  }
  InsightsPageSpec spec;
  spec.account = account;
  spec.invalid = store->data.spec().invalid;
  const InsightsQuery* query = nullptr;
  ParsedInsights parsed;
  if (route == Route::kReportInsights) {
    ReportProgress progress = ProgressOf(*run, now, job_duration);
    if (!progress.completed) {
      return error_of(400, absl::StrCat("Report not ready: async_status is ", progress.status),
                      "OAuthException", 100, 0);
    }
    ParsedLimit limit =
        ParseInsightsLimit(params, run->query.limit.value_or(kDefaultInsightsLimit));
    if (limit.error) return error(*limit.error);
    query = &run->query;
    spec.today = run->today;
    spec.call = run->call;
    spec.limit = limit.limit;
    spec.fingerprint =
        MixKeys(cursor_secret_, Fnv1a64(absl::StrCat("report:", run->id)), Fnv1a64(account));
    spec.next_prefix =
        absl::StrCat("http://", HostOf(request), "/", version, "/", run->id, "/insights?");
  } else {
    const int off = store->data.spec().utc_offset_minutes;
    spec.today = FloorDiv(store->data.now() + int64_t{off} * 60, 86400);
    parsed = ParseInsightsQuery(params, spec.today);
    if (parsed.error) return error(*parsed.error);
    if (create) {
      ReportRun next;
      next.account = account;
      next.query = parsed.query;
      next.today = spec.today;
      next.call = ++store->insights_calls;  // the report's rows are fixed from now on
      next.created = now;
      next.fail = faults_.TakeAdsAsyncFail();
      next.stuck = !next.fail && faults_.TakeAdsAsyncStuck();
      const ReportRun& added = reports_.Add(std::move(next));
      return with_usage(JsonResponse(200, absl::StrCat("{\"report_run_id\":\"", added.id, "\"}")));
    }
    query = &parsed.query;
    spec.limit = parsed.query.limit.value_or(kDefaultInsightsLimit);
    // Fingerprint of the query, so an `after` cursor only works with the query that made it.
    spec.fingerprint = MixKeys(cursor_secret_, Fnv1a64(parsed.query.normalized), Fnv1a64(account));
    spec.next_prefix =
        absl::StrCat("http://", HostOf(request), "/", version, "/act_", account, "/insights?");
  }
  ParsedOffset offset = ParseInsightsAfter(params, spec.fingerprint);
  if (offset.error) return error(*offset.error);
  if (route == Route::kInsights) spec.call = ++store->insights_calls;
  spec.next_prefix += EchoParams(params);
  Response r =
      with_usage(JsonResponse(200, RenderInsightsPage(store->ads, *query, spec, offset.offset)));
  ApplyPageFault(faults_.NextPage(), "{\"data\":[{\"spend\":\"12.3\",}]]<html>garbage", r);
  return r;
}

}  // namespace autosync::storesim
