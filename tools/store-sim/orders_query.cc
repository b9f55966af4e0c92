#include "tools/store-sim/orders_query.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

constexpr uint8_t kCursorVersion = 1;
constexpr size_t kMaxIds = 250;

bool IsDesc(SortOrder s) {
  return s == SortOrder::kIdDesc || s == SortOrder::kUpdatedDesc || s == SortOrder::kCreatedDesc;
}
bool ByUpdated(SortOrder s) { return s == SortOrder::kUpdatedAsc || s == SortOrder::kUpdatedDesc; }

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

class Reader final {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}
  bool U8(uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U64(uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t{static_cast<uint8_t>(in_[static_cast<size_t>(i)])} << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u = 0;
    if (!U64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  absl::string_view in_;
};

uint64_t Tag(absl::string_view payload, uint64_t secret, absl::string_view store_id) {
  std::string key;
  PutU64(key, secret);
  uint64_t h = Fnv1a64(key);
  h = Fnv1a64(store_id, h);
  h = Fnv1a64(payload, h);
  return SplitMix64(h ^ secret);
}

absl::Status BadPageInfo() { return absl::InvalidArgumentError("Invalid value."); }

absl::StatusOr<int64_t> ParseInt(absl::string_view key, absl::string_view value) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": expected an integer"));
  }
  return v;
}

}  // namespace

SortKey KeyOf(const Order& o, SortOrder sort) {
  // Ids grow with created_at, so created_at order is id order.
  return ByUpdated(sort) ? SortKey{o.updated_at, o.id} : SortKey{o.id, o.id};
}

std::string EncodePageInfo(const PageCursor& c, uint64_t secret, absl::string_view store_id) {
  std::string p;
  p.push_back(static_cast<char>(kCursorVersion));
  p.push_back(static_cast<char>(c.query.status));
  p.push_back(static_cast<char>(c.query.sort));
  p.push_back(static_cast<char>(c.backward ? 1 : 0));
  const std::optional<int64_t>* opts[] = {&c.query.updated_min, &c.query.updated_max,
                                          &c.query.created_min, &c.query.created_max,
                                          &c.query.since_id};
  uint8_t mask = 0;
  for (int i = 0; i < 5; ++i) {
    if (opts[i]->has_value()) mask |= static_cast<uint8_t>(1u << i);
  }
  p.push_back(static_cast<char>(mask));
  for (const auto* o : opts) {
    if (o->has_value()) PutU64(p, static_cast<uint64_t>(**o));
  }
  PutU64(p, c.query.ids.size());
  for (int64_t id : c.query.ids) PutU64(p, static_cast<uint64_t>(id));
  PutU64(p, static_cast<uint64_t>(c.key.primary));
  PutU64(p, static_cast<uint64_t>(c.key.id));
  PutU64(p, Tag(p, secret, store_id));
  return absl::WebSafeBase64Escape(p);
}

absl::StatusOr<PageCursor> DecodePageInfo(absl::string_view page_info, uint64_t secret,
                                          absl::string_view store_id) {
  std::string raw;
  if (page_info.empty() || page_info.size() > 8192 ||
      !absl::WebSafeBase64Unescape(page_info, &raw) || raw.size() < 8 + 5) {
    return BadPageInfo();
  }
  absl::string_view payload(raw.data(), raw.size() - 8);
  uint64_t tag = 0;
  Reader tag_reader(absl::string_view(raw).substr(raw.size() - 8));
  if (!tag_reader.U64(tag) || tag != Tag(payload, secret, store_id)) return BadPageInfo();

  Reader r(payload);
  PageCursor c;
  uint8_t version = 0, status = 0, sort = 0, backward = 0, mask = 0;
  if (!r.U8(version) || version != kCursorVersion || !r.U8(status) || !r.U8(sort) ||
      !r.U8(backward) || !r.U8(mask) || status > 3 || sort > 5 || backward > 1) {
    return BadPageInfo();
  }
  c.query.status = static_cast<StatusFilter>(status);
  c.query.sort = static_cast<SortOrder>(sort);
  c.backward = backward == 1;
  std::optional<int64_t>* opts[] = {&c.query.updated_min, &c.query.updated_max,
                                    &c.query.created_min, &c.query.created_max, &c.query.since_id};
  for (int i = 0; i < 5; ++i) {
    if (mask & (1u << i)) {
      int64_t v = 0;
      if (!r.I64(v)) return BadPageInfo();
      *opts[i] = v;
    }
  }
  uint64_t n_ids = 0;
  if (!r.U64(n_ids) || n_ids > kMaxIds) return BadPageInfo();
  for (uint64_t i = 0; i < n_ids; ++i) {
    int64_t v = 0;
    if (!r.I64(v)) return BadPageInfo();
    c.query.ids.push_back(v);
  }
  if (!r.I64(c.key.primary) || !r.I64(c.key.id) || !r.done()) return BadPageInfo();
  return c;
}

absl::StatusOr<OrdersQuery> ParseOrdersQuery(const std::vector<ParsedParam>& params,
                                             int offset_minutes) {
  OrdersQuery q;
  for (const ParsedParam& p : params) {
    if (p.key == "status") {
      if (p.value == "open")
        q.status = StatusFilter::kOpen;
      else if (p.value == "closed")
        q.status = StatusFilter::kClosed;
      else if (p.value == "cancelled")
        q.status = StatusFilter::kCancelled;
      else if (p.value == "any")
        q.status = StatusFilter::kAny;
      else
        return absl::InvalidArgumentError("status: expected open, closed, cancelled or any");
    } else if (p.key == "order") {
      std::vector<absl::string_view> parts = absl::StrSplit(p.value, ' ', absl::SkipEmpty());
      bool desc = parts.size() == 2 && parts[1] == "desc";
      bool asc = parts.size() == 1 || (parts.size() == 2 && parts[1] == "asc");
      if (parts.empty() || (!desc && !asc)) {
        return absl::InvalidArgumentError("order: expected '<field> asc' or '<field> desc'");
      }
      if (parts[0] == "id")
        q.sort = desc ? SortOrder::kIdDesc : SortOrder::kIdAsc;
      else if (parts[0] == "updated_at")
        q.sort = desc ? SortOrder::kUpdatedDesc : SortOrder::kUpdatedAsc;
      else if (parts[0] == "created_at")
        q.sort = desc ? SortOrder::kCreatedDesc : SortOrder::kCreatedAsc;
      else
        return absl::InvalidArgumentError("order: can sort by id, created_at or updated_at");
    } else if (p.key == "updated_at_min" || p.key == "updated_at_max" ||
               p.key == "created_at_min" || p.key == "created_at_max") {
      auto t = ParseTimeParam(p.value, offset_minutes);
      if (!t.ok())
        return absl::InvalidArgumentError(absl::StrCat(p.key, ": ", t.status().message()));
      if (p.key == "updated_at_min")
        q.updated_min = *t;
      else if (p.key == "updated_at_max")
        q.updated_max = *t;
      else if (p.key == "created_at_min")
        q.created_min = *t;
      else
        q.created_max = *t;
    } else if (p.key == "since_id") {
      auto v = ParseInt(p.key, p.value);
      if (!v.ok()) return v.status();
      q.since_id = *v;
    } else if (p.key == "ids") {
      q.ids.clear();
      for (absl::string_view s : absl::StrSplit(p.value, ',', absl::SkipWhitespace())) {
        auto v = ParseInt(p.key, s);
        if (!v.ok()) return v.status();
        q.ids.push_back(*v);
      }
      if (q.ids.size() > kMaxIds) return absl::InvalidArgumentError("ids: at most 250 ids");
      std::sort(q.ids.begin(), q.ids.end());
    }
    // Other parameters (financial_status, fulfillment_status, …) are accepted and ignored.
  }
  return q;
}

namespace {

bool Matches(const Order& o, const OrdersQuery& q, int64_t closed_cutoff) {
  if (o.deleted) return false;
  switch (q.status) {
    case StatusFilter::kOpen:
      if (o.cancelled_at != 0 || o.created_at < closed_cutoff) return false;
      break;
    case StatusFilter::kClosed:
      if (o.cancelled_at != 0 || o.created_at >= closed_cutoff) return false;
      break;
    case StatusFilter::kCancelled:
      if (o.cancelled_at == 0) return false;
      break;
    case StatusFilter::kAny:
      break;
  }
  if (q.updated_min && o.updated_at < *q.updated_min) return false;
  if (q.updated_max && o.updated_at > *q.updated_max) return false;
  if (q.created_min && o.created_at < *q.created_min) return false;
  if (q.created_max && o.created_at > *q.created_max) return false;
  if (q.since_id && o.id <= *q.since_id) return false;
  if (!q.ids.empty() && !std::binary_search(q.ids.begin(), q.ids.end(), o.id)) return false;
  return true;
}

// The sequence a sort walks: positions into orders() in ascending key order.
class Sequence final {
 public:
  Sequence(const StoreData& d, SortOrder sort) : d_(d), by_updated_(ByUpdated(sort)), sort_(sort) {}
  int64_t size() const { return static_cast<int64_t>(d_.orders().size()); }
  uint32_t At(int64_t i) const {
    return by_updated_ ? d_.by_updated()[static_cast<size_t>(i)] : static_cast<uint32_t>(i);
  }
  SortKey Key(int64_t i) const { return KeyOf(d_.orders()[At(i)], sort_); }
  // First index whose key is >= k (or > k when `strict`).
  int64_t Bound(SortKey k, bool strict) const {
    int64_t lo = 0, hi = size();
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      SortKey m = Key(mid);
      bool before =
          m.primary != k.primary ? m.primary < k.primary : (strict ? m.id <= k.id : m.id < k.id);
      if (before)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  // Index range [lo, hi) that can satisfy the query's bounds on the sequence's own ordering.
  std::pair<int64_t, int64_t> Range(const OrdersQuery& q, int64_t closed_cutoff) const {
    const auto& orders = d_.orders();
    int64_t lo = 0, hi = size();
    if (by_updated_) {
      if (q.updated_min) lo = Bound({*q.updated_min, INT64_MIN}, false);
      if (q.updated_max) hi = Bound({*q.updated_max, INT64_MAX}, false);
      return {lo, hi};
    }
    auto first_created = [&](int64_t t) {
      return static_cast<int64_t>(
          std::lower_bound(orders.begin(), orders.end(), t,
                           [](const Order& o, int64_t v) { return o.created_at < v; }) -
          orders.begin());
    };
    if (q.created_min) lo = std::max(lo, first_created(*q.created_min));
    if (q.created_max && *q.created_max < INT64_MAX)
      hi = std::min(hi, first_created(*q.created_max + 1));
    if (q.status == StatusFilter::kOpen) lo = std::max(lo, first_created(closed_cutoff));
    if (q.status == StatusFilter::kClosed) hi = std::min(hi, first_created(closed_cutoff));
    if (q.since_id) lo = std::max(lo, Bound({*q.since_id, *q.since_id}, true));
    return {lo, std::max(lo, hi)};
  }

 private:
  const StoreData& d_;
  bool by_updated_;
  SortOrder sort_;
};

}  // namespace

OrdersQuery WithoutOldOrders(OrdersQuery query, int64_t now) {
  const int64_t visible_from = now - kRecentOrdersSeconds;
  query.created_min = std::max(query.created_min.value_or(visible_from), visible_from);
  return query;
}

OrdersPage RunOrdersQuery(const StoreData& data, const OrdersQuery& query, int limit,
                          const PageCursor* cursor) {
  OrdersPage page;
  const int64_t cutoff = data.now() - kClosedAfterSeconds;
  Sequence seq(data, query.sort);
  auto [lo, hi] = seq.Range(query, cutoff);
  const int forward = IsDesc(query.sort) ? -1 : 1;
  const bool backward = cursor != nullptr && cursor->backward;
  const int travel = backward ? -forward : forward;
  int64_t p;
  if (cursor == nullptr) {
    p = travel > 0 ? lo : hi - 1;
  } else if (travel > 0) {
    p = std::max(lo, seq.Bound(cursor->key, /*strict=*/true));
  } else {
    p = std::min(hi, seq.Bound(cursor->key, /*strict=*/false)) - 1;
  }
  const auto& orders = data.orders();
  bool more = false;
  for (; p >= lo && p < hi; p += travel) {
    uint32_t pos = seq.At(p);
    if (!Matches(orders[pos], query, cutoff)) continue;
    if (static_cast<int>(page.positions.size()) == limit) {
      more = true;
      break;
    }
    page.positions.push_back(pos);
  }
  if (backward) {
    std::reverse(page.positions.begin(), page.positions.end());
    page.has_previous = more;
    page.has_next = !page.positions.empty();
  } else {
    page.has_next = more;
    page.has_previous = cursor != nullptr && !page.positions.empty();
  }
  return page;
}

int64_t CountOrders(const StoreData& data, const OrdersQuery& query) {
  const int64_t cutoff = data.now() - kClosedAfterSeconds;
  Sequence seq(data, query.sort);
  auto [lo, hi] = seq.Range(query, cutoff);
  int64_t n = 0;
  for (int64_t p = lo; p < hi; ++p) {
    if (Matches(data.orders()[seq.At(p)], query, cutoff)) ++n;
  }
  return n;
}

namespace {

bool Wanted(const std::vector<std::string>& fields, absl::string_view name) {
  return fields.empty() || std::find(fields.begin(), fields.end(), name) != fields.end();
}

}  // namespace

void AppendOrderJson(std::string& out, const StoreData& data, const Order& stored,
                     const std::vector<std::string>& fields) {
  const Order o = data.Shown(stored);
  const int off = data.spec().utc_offset_minutes;
  bool first = true;
  auto key = [&](absl::string_view name) {
    if (!Wanted(fields, name)) return false;
    out += first ? "\"" : ",\"";
    first = false;
    out.append(name.data(), name.size());
    out += "\":";
    return true;
  };
  auto time = [&](int64_t t) {
    out.push_back('"');
    out += FormatShopifyTime(t, off);
    out.push_back('"');
  };
  auto money = [&](int64_t cents) {
    out.push_back('"');
    out += FormatMoney(cents);
    out.push_back('"');
  };
  out.push_back('{');
  if (key("id")) absl::StrAppend(&out, o.id);
  if (key("name")) AppendJsonString(out, data.OrderName(o));
  if (key("order_number")) absl::StrAppend(&out, o.number);
  if (key("email")) {
    AppendJsonString(out, o.customer >= 0 ? data.CustomerEmail(o.customer) : data.GuestEmail(o));
  }
  if (key("created_at")) time(o.created_at);
  if (key("updated_at")) time(o.updated_at);
  if (key("processed_at")) time(o.created_at);
  if (key("cancelled_at")) {
    if (o.cancelled_at != 0)
      time(o.cancelled_at);
    else
      out += "null";
  }
  if (key("cancel_reason")) out += o.cancelled_at != 0 ? "\"customer\"" : "null";
  if (key("currency")) absl::StrAppend(&out, "\"", data.Currency(o), "\"");
  if (key("presentment_currency")) absl::StrAppend(&out, "\"", data.Currency(o), "\"");
  if (key("total_price")) money(o.total_cents());
  if (key("subtotal_price")) money(o.subtotal_cents);
  if (key("total_tax")) money(o.tax_cents);
  if (key("total_discounts")) money(o.discount_cents);
  if (key("total_shipping_price")) money(o.shipping_cents);
  if (key("current_total_price")) money(o.current_total_cents());
  if (key("financial_status"))
    absl::StrAppend(&out, "\"", FinancialStatusName(o.financial_status), "\"");
  if (key("test")) out += o.test ? "true" : "false";
  if (key("customer")) {
    if (o.customer < 0) {
      out += "null";
    } else {
      absl::StrAppend(&out, "{\"id\":", StoreData::CustomerId(o.customer), ",\"email\":");
      AppendJsonString(out, data.CustomerEmail(o.customer));
      out.push_back('}');
    }
  }
  if (key("refunds")) {
    if (o.refund_at == 0) {
      out += "[]";
    } else {
      absl::StrAppend(&out, "[{\"id\":", o.id + 17, ",\"order_id\":", o.id, ",\"created_at\":");
      time(o.refund_at);
      absl::StrAppend(&out, ",\"transactions\":[{\"id\":", o.id + 29,
                      ",\"kind\":\"refund\",\"status\":\"success\",\"amount\":\"",
                      FormatMoney(o.refund_cents), "\",\"currency\":\"USD\"}]}]");
    }
  }
  out.push_back('}');
}

}  // namespace autosync::storesim
