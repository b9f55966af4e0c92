// Simulator (simulator.h): the request dispatch, the stores' clocks and buckets, the bulk job
// thread and the admin routes. The Shopify routes are in simulator_shopify.cc, the Meta routes in
// simulator_meta.cc, the state they share in simulator_internal.h.
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
#include "tools/store-sim/simulator_internal.h"

namespace autosync::storesim {

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

int GraphVersionMajor(absl::string_view v) {
  int major = 0;
  return absl::SimpleAtoi(v.substr(1, v.size() - 3), &major) ? major : 0;
}

std::string HostOf(const Request& req) {
  auto host = req.Header("Host");
  return host && !host->empty() ? *host : "127.0.0.1:8090";
}

namespace {

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
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

}  // namespace autosync::storesim
