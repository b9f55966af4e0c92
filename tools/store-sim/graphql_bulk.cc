#include "tools/store-sim/graphql_bulk.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <thread>
#include <utility>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

constexpr absl::string_view kOperationGid = "gid://shopify/BulkOperation/";
// Progress is published (and cancellation noticed) every this many orders.
constexpr int64_t kProgressStep = 4096;
// Files of at least this many orders are rendered by two threads.
constexpr int64_t kSplitFrom = 100'000;

// Transparent huge pages for a large buffer about to be written: with 4 KiB pages the first
// touch of each page (a fault per page) was a third of a million-order file's rendering time.
void AdviseHugePages(const char* data, size_t size) {
#ifdef __linux__
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)size;
#endif
}

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `name` as a whole word followed (after optional whitespace) by '('.
bool HasCall(absl::string_view q, absl::string_view name) {
  for (size_t at = q.find(name); at != absl::string_view::npos; at = q.find(name, at + 1)) {
    if (at > 0 && IsNameChar(q[at - 1])) continue;
    size_t p = at + name.size();
    while (p < q.size() && absl::ascii_isspace(static_cast<unsigned char>(q[p]))) ++p;
    if (p < q.size() && q[p] == '(') return true;
  }
  return false;
}

void AppendGid(std::string& out, int64_t id) {
  out += '"';
  out.append(kOperationGid.data(), kOperationGid.size());
  absl::StrAppend(&out, id);
  out += '"';
}

void AppendNullableTime(std::string& out, absl::Time t) {
  if (t == absl::InfinitePast()) {
    out += "null";
    return;
  }
  out += '"';
  AppendUtcTime(out, absl::ToUnixSeconds(t));
  out += '"';
}

std::string Sign(uint64_t secret, absl::string_view store, int64_t id, int64_t expires) {
  const uint64_t tag = MixKeys(MixKeys(secret, Fnv1a64(store)),
                               MixKeys(static_cast<uint64_t>(id), static_cast<uint64_t>(expires)));
  return absl::StrFormat("%016x", tag);
}

// The members every operation answer has, whatever the selection set asked for.
void AppendOperationJson(std::string& out, const BulkOperation& op, const std::string& host,
                         uint64_t secret) {
  out += "{\"id\":";
  AppendGid(out, op.id);
  absl::StrAppend(&out, ",\"status\":\"", BulkStatusName(op.status),
                  "\",\"errorCode\":", op.failed_internal ? "\"INTERNAL_SERVER_ERROR\"" : "null",
                  ",\"createdAt\":");
  AppendNullableTime(out, op.created_at);
  out += ",\"completedAt\":";
  AppendNullableTime(out, op.completed_at);
  absl::StrAppend(&out, ",\"objectCount\":\"", op.object_count, "\",\"fileSize\":");
  const bool downloadable = op.status == BulkStatus::kCompleted && op.file != nullptr;
  if (downloadable) {
    absl::StrAppend(&out, "\"", op.file->size(), "\",\"url\":");
    AppendJsonString(
        out,
        absl::StrCat("http://", host, BulkDownloadTarget(op.store, op.id, op.url_expires, secret)));
  } else {
    out += "null,\"url\":null";
  }
  out += ",\"partialDataUrl\":null}";
}

// {"bulkOperation":{"id","status"},"userErrors":[]}
void AppendMutationResult(std::string& out, const BulkOperation& op) {
  out += "{\"bulkOperation\":{\"id\":";
  AppendGid(out, op.id);
  absl::StrAppend(&out, ",\"status\":\"", BulkStatusName(op.status), "\"},\"userErrors\":[]}");
}

// {"bulkOperation":null,"userErrors":[{"field":<field_json>,"message":<message>}]}
void AppendUserError(std::string& out, absl::string_view field_json, absl::string_view message) {
  absl::StrAppend(&out, "{\"bulkOperation\":null,\"userErrors\":[{\"field\":", field_json,
                  ",\"message\":");
  AppendJsonString(out, message);
  out += "}]}";
}

void AppendRun(std::string& out, const GraphqlBody& body, BulkContext& c) {
  const StoreData& data = c.data;
  const std::string& store = data.spec().id;
  auto query = ParseBulkRunQuery(body, data.spec().utc_offset_minutes);
  if (!query.ok()) {
    AppendUserError(out, "[\"query\"]",
                    absl::StrCat("Invalid bulk query: ", query.status().message()));
    return;
  }
  if (const BulkOperation* busy = c.operations.InProgress(store, c.now)) {
    AppendUserError(out, "null",
                    absl::StrCat("A bulk query operation for this app and shop is already in "
                                 "progress: ",
                                 kOperationGid, busy->id, "."));
    return;
  }
  OrdersQuery q = *std::move(query);
  if (!c.read_all_orders) q = WithoutOldOrders(std::move(q), data.now());
  // The snapshot: copies of the matching orders, so live steps do not change a running file.
  // Taken in id order, which walks memory in sequence (the lock is held meanwhile); the bulk
  // thread sorts it by (updatedAt, id).
  q.sort = SortOrder::kIdAsc;
  OrdersPage page = RunOrdersQuery(data, q, INT_MAX, nullptr);
  std::vector<Order> snapshot;
  snapshot.reserve(page.positions.size());
  AdviseHugePages(reinterpret_cast<const char*>(snapshot.data()),
                  snapshot.capacity() * sizeof(Order));
  for (uint32_t pos : page.positions) snapshot.push_back(data.orders()[pos]);
  const bool fail = c.faults.TakeBulkFail();
  const bool stuck = !fail && c.faults.TakeBulkStuck();
  const int64_t stop_after = fail || stuck ? static_cast<int64_t>(snapshot.size() / 2) : -1;
  auto job = std::make_shared<BulkJob>(&data, std::move(snapshot), stop_after);
  const BulkOperation& op = c.operations.Add(store, c.now, job, fail, stuck);
  AppendMutationResult(out, op);
  c.start(std::move(job));
}

void AppendCancel(std::string& out, const GraphqlBody& body, BulkContext& c) {
  std::optional<int64_t> id = ParseBulkOperationId(body, "bulkOperationCancel");
  if (!id) {
    AppendUserError(out, "[\"id\"]", "Bulk operation does not exist");
    return;
  }
  BulkOperations::CancelResult result = c.operations.Cancel(c.data.spec().id, *id, c.now);
  using Outcome = BulkOperations::CancelResult::Outcome;
  switch (result.outcome) {
    case Outcome::kUnknown:
      AppendUserError(out, "[\"id\"]", "Bulk operation does not exist");
      return;
    case Outcome::kFinished:
      AppendUserError(
          out, "null",
          absl::StrCat("A bulk operation cannot be canceled when it is ",
                       absl::AsciiStrToLower(BulkStatusName(result.operation->status))));
      return;
    case Outcome::kCanceling:
      AppendMutationResult(out, *result.operation);
      return;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Requests

BulkRequestKind ClassifyBulkRequest(absl::string_view query) {
  if (absl::StrContains(query, "bulkOperationRunQuery")) return BulkRequestKind::kRun;
  if (absl::StrContains(query, "bulkOperationCancel")) return BulkRequestKind::kCancel;
  if (absl::StrContains(query, "currentBulkOperation")) return BulkRequestKind::kCurrent;
  if (HasCall(query, "node")) return BulkRequestKind::kNode;
  return BulkRequestKind::kNone;
}

absl::StatusOr<OrdersQuery> ParseBulkRunQuery(const GraphqlBody& body, int offset_minutes) {
  using Kind = GraphqlValue::Kind;
  auto run = ParseGraphqlField(body, "bulkOperationRunQuery", /*allow_bare=*/false);
  if (!run.ok()) return absl::InvalidArgumentError(run.status().message());
  for (const auto& [name, v] : run->arguments) {
    if (name != "query" && name != "groupObjects") {
      return absl::InvalidArgumentError(
          absl::StrCat("Field 'bulkOperationRunQuery' doesn't accept argument '", name, "'"));
    }
  }
  auto inner_arg = run->arguments.find("query");
  if (inner_arg == run->arguments.end() || inner_arg->second.kind == Kind::kNull) {
    return absl::InvalidArgumentError("the query argument is required");
  }
  if (inner_arg->second.kind != Kind::kString) {
    return absl::InvalidArgumentError("the query argument must be a String");
  }
  GraphqlBody inner;
  inner.query = inner_arg->second.text;
  if (absl::StrContains(inner.query, '$')) {
    return absl::InvalidArgumentError("a bulk query cannot use variables");
  }
  auto field = ParseGraphqlField(inner, "orders", /*allow_bare=*/true);
  if (absl::IsNotFound(field.status())) {
    return absl::InvalidArgumentError(
        "store-sim runs bulk queries over the orders connection only: "
        "{ orders(query: \"…\") { edges { node { id … } } } }");
  }
  if (!field.ok()) return absl::InvalidArgumentError(field.status().message());
  OrdersQuery q;
  q.status = StatusFilter::kAny;
  q.sort = SortOrder::kUpdatedAsc;
  for (const auto& [name, v] : field->arguments) {
    if (name == "query") {
      if (v.kind == Kind::kNull) continue;
      if (v.kind != Kind::kString) return absl::InvalidArgumentError("query: expected a String");
      auto search = ParseOrdersSearch(v.text, offset_minutes);
      if (!search.ok()) return search.status();
      q = *std::move(search);
    } else if (name == "sortKey") {
      if (v.kind != Kind::kNull && !(v.kind == Kind::kEnum && v.text == "UPDATED_AT")) {
        return absl::InvalidArgumentError("sortKey: store-sim sorts orders by UPDATED_AT only");
      }
    } else if (name == "reverse") {
      if (v.kind != Kind::kNull && !(v.kind == Kind::kBool && !v.bool_value)) {
        return absl::InvalidArgumentError("reverse: store-sim sorts ascending only");
      }
    } else if (name == "first" || name == "after" || name == "last" || name == "before") {
      return absl::InvalidArgumentError(absl::StrCat(
          name,
          ": a bulk query reads the whole connection; leave out first, last, after and "
          "before"));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("Field 'orders' doesn't accept argument '", name, "'"));
    }
  }
  return q;
}

std::optional<int64_t> ParseBulkOperationId(const GraphqlBody& body, absl::string_view field) {
  auto f = ParseGraphqlField(body, field, /*allow_bare=*/false);
  if (!f.ok()) return std::nullopt;
  auto it = f->arguments.find("id");
  if (it == f->arguments.end() || it->second.kind != GraphqlValue::Kind::kString) {
    return std::nullopt;
  }
  absl::string_view gid = it->second.text;
  int64_t id = 0;
  if (!absl::ConsumePrefix(&gid, kOperationGid) || gid.empty() ||
      !std::all_of(gid.begin(), gid.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) ||
      !absl::SimpleAtoi(gid, &id)) {
    return std::nullopt;
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// The file

int64_t AppendBulkOrderLines(std::string& out, const StoreData& data, const Order& o) {
  out += '{';
  AppendGraphqlOrderMembers(out, data, o, /*total_refunded=*/false);
  if (o.refund_at == 0) {
    out += ",\"refunds\":[]}\n";
    return 1;
  }
  out += ",\"refunds\":[{\"id\":\"gid://shopify/Refund/";
  absl::StrAppend(&out, o.id);
  out += "\"}]}\n";
  auto transaction = [&](int64_t id, absl::string_view status) {
    out += "{\"id\":\"gid://shopify/OrderTransaction/";
    absl::StrAppend(&out, id);
    out += "\",\"kind\":\"REFUND\",\"status\":\"";
    out.append(status.data(), status.size());
    out += "\",\"amountSet\":{\"shopMoney\":{\"amount\":\"";
    AppendMoney(out, o.refunded_cents());
    out += "\",\"currencyCode\":\"USD\"}},\"__parentId\":\"gid://shopify/Refund/";
    absl::StrAppend(&out, o.id);
    out += "\"}\n";
  };
  int64_t lines = 1;
  if (o.id % 5 == 0) {
    transaction(o.id * 10 + 1, "FAILURE");
    ++lines;
  }
  transaction(o.id * 10 + 2, "SUCCESS");
  return lines + 1;
}

BulkJob::BulkJob(const StoreData* data, std::vector<Order> orders, int64_t stop_after)
    : data_(data), orders_(std::move(orders)), stop_after_(stop_after) {}

void BulkJob::Run() {
  started_.store(true, std::memory_order_release);
  // The connection's order, (updatedAt, id), over compact keys rather than whole orders.
  struct Key {
    int64_t updated_at;
    int64_t id;
    size_t index;
  };
  std::vector<Key> keys;
  keys.reserve(orders_.size());
  AdviseHugePages(reinterpret_cast<const char*>(keys.data()), keys.capacity() * sizeof(Key));
  for (size_t k = 0; k < orders_.size(); ++k) {
    keys.push_back({orders_[k].updated_at, orders_[k].id, k});
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return a.updated_at != b.updated_at ? a.updated_at < b.updated_at : a.id < b.id;
  });
  const int64_t total = static_cast<int64_t>(keys.size());
  const int64_t end = stop_after_ >= 0 ? std::min(stop_after_, total) : total;
  // Renders keys [from, to) into `out`, publishing its line count in `progress`; `reserve_for`
  // orders' worth of room is reserved once the first step shows the average line. True when it
  // got to `to` (not cancelled).
  auto render = [&](int64_t from, int64_t to, int64_t reserve_for, std::string& out,
                    std::atomic<int64_t>& progress) {
    int64_t i = from;
    int64_t lines = 0;
    bool reserved = false;
    while (i < to && !cancelled_.load(std::memory_order_relaxed)) {
      const int64_t stop = std::min(to, i + kProgressStep);
      for (; i < stop; ++i) {
        const size_t at = static_cast<size_t>(i);
        if (at + 8 < keys.size()) __builtin_prefetch(&orders_[keys[at + 8].index]);
        lines += AppendBulkOrderLines(out, *data_, orders_[keys[at].index]);
      }
      if (!reserved) {
        // Each growth of the string would copy everything rendered so far.
        reserved = true;
        const double per_order = static_cast<double>(out.size()) / static_cast<double>(i - from);
        out.reserve(static_cast<size_t>(per_order * static_cast<double>(reserve_for) * 1.05) +
                    65536);
        AdviseHugePages(out.data(), out.capacity());
      }
      progress.store(lines, std::memory_order_release);
    }
    return i == to;
  };
  // A large file is rendered in two halves on two threads (the second half into its own string,
  // appended once at the end): a million orders take about half the time.
  const bool split = end == total && total >= kSplitFrom;
  const int64_t mid = split ? total / 2 : end;
  auto file = std::make_shared<std::string>();
  std::string tail;
  bool tail_whole = true;
  std::thread helper;
  if (split) {
    helper = std::thread([&] { tail_whole = render(mid, end, end - mid, tail, tail_lines_); });
  }
  bool whole = render(0, mid, end, *file, lines_);
  if (helper.joinable()) helper.join();
  whole = whole && tail_whole && end == total && !cancelled_.load(std::memory_order_relaxed);
  if (whole && split) {
    file->append(tail);
    std::string().swap(tail);
  }
  std::vector<Order>().swap(orders_);
  if (whole) file_ = std::move(file);
  finished_.store(true, std::memory_order_release);
}

std::shared_ptr<const std::string> BulkJob::file() const { return finished() ? file_ : nullptr; }

// ---------------------------------------------------------------------------------------------
// Answers

GraphqlAnswer AnswerBulkRequest(const GraphqlBody& body, BulkRequestKind kind,
                                BulkContext& context) {
  GraphqlAnswer answer;
  const int64_t cost = kind == BulkRequestKind::kRun || kind == BulkRequestKind::kCancel
                           ? kBulkRunCost
                           : kBulkPollCost;
  if (!context.bucket.TryReserve(cost, context.now)) {
    answer.body = GraphqlThrottledJson(cost, context.bucket);
    return answer;
  }
  const std::string& store = context.data.spec().id;
  const uint64_t secret = context.operations.options().secret;
  std::string& out = answer.body;
  switch (kind) {
    case BulkRequestKind::kRun:
      out = "{\"data\":{\"bulkOperationRunQuery\":";
      AppendRun(out, body, context);
      break;
    case BulkRequestKind::kCancel:
      out = "{\"data\":{\"bulkOperationCancel\":";
      AppendCancel(out, body, context);
      break;
    case BulkRequestKind::kCurrent:
    case BulkRequestKind::kNode: {
      const bool current = kind == BulkRequestKind::kCurrent;
      out = current ? "{\"data\":{\"currentBulkOperation\":" : "{\"data\":{\"node\":";
      const BulkOperation* op = nullptr;
      if (current) {
        op = context.operations.Current(store, context.now);
      } else if (std::optional<int64_t> id = ParseBulkOperationId(body, "node")) {
        op = context.operations.Find(store, *id, context.now);
      }
      if (op == nullptr) {
        out += "null";
      } else {
        AppendOperationJson(out, *op, context.host, secret);
      }
      break;
    }
    case BulkRequestKind::kNone:
      out = "{\"data\":{\"node\":null";
      break;
  }
  out += "},\"extensions\":{\"cost\":";
  AppendQueryCostJson(out, cost, cost, context.bucket);
  out += "}}";
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Downloads

std::string BulkDownloadTarget(const std::string& store, int64_t id, int64_t expires,
                               uint64_t secret) {
  return absl::StrCat("/_bulk/", store, "/", id, ".jsonl?expires=", expires,
                      "&sig=", Sign(secret, store, id, expires));
}

Response AnswerBulkDownload(const ParsedTarget& target, const BulkOperations& operations,
                            Faults& faults, absl::Time now) {
  auto xml_error = [](int status, absl::string_view code, absl::string_view message) {
    Response r;
    r.status = status;
    r.SetHeader("Content-Type", "application/xml");
    r.body = absl::StrCat("<?xml version='1.0' encoding='UTF-8'?><Error><Code>", code,
                          "</Code><Message>", message, "</Message></Error>");
    return r;
  };
  auto no_such_key = [&] {
    return xml_error(404, "NoSuchKey", "The specified key does not exist.");
  };
  std::vector<absl::string_view> parts = absl::StrSplit(target.path, '/', absl::SkipEmpty());
  int64_t id = 0;
  absl::string_view file_name = parts.size() == 3 ? parts[2] : "";
  if (parts.size() != 3 || !absl::ConsumeSuffix(&file_name, ".jsonl") ||
      !absl::SimpleAtoi(file_name, &id)) {
    return no_such_key();
  }
  const std::string store(parts[1]);
  std::optional<std::string> sig = target.Get("sig");
  int64_t expires = 0;
  std::optional<std::string> expires_text = target.Get("expires");
  if (!sig || !expires_text || !absl::SimpleAtoi(*expires_text, &expires) ||
      *sig != Sign(operations.options().secret, store, id, expires)) {
    return xml_error(403, "AccessDenied", "Invalid or missing signature.");
  }
  if (absl::ToUnixSeconds(now) >= expires || faults.TakeBulkUrlExpired()) {
    return xml_error(403, "ExpiredToken", "The provided token has expired.");
  }
  std::shared_ptr<const std::string> file = operations.File(store, id);
  if (file == nullptr) return no_such_key();
  Response r;
  r.SetHeader("Content-Type", "application/jsonl");
  r.shared_body = std::move(file);
  if (faults.TakeBulkTruncate()) {
    // About half, and never right after a newline: the client must see a torn last line.
    size_t cut = r.shared_body->size() / 2;
    if (cut > 1 && (*r.shared_body)[cut - 1] == '\n') --cut;
    r.cut_body_at = cut;
  }
  return r;
}

}  // namespace autosync::storesim
