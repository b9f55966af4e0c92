#include "tools/store-sim/store_data.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/store-sim/format.h"
#include "tools/store-sim/hostile.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kWindowDays = 730;  // ~24 months of history
constexpr int64_t kOrderIdBase = 5'000'000'000'000;
constexpr int64_t kCustomerIdBase = 7'000'000'000'000;
constexpr int32_t kFirstOrderNumber = 1001;

// Repeat-purchase model: after each order a customer orders again with probability p, which
// decays per order, after a gap that lengthens per order. Tuned so that, with acquisition spread
// over the window, about 1.3 repeats per customer land inside it (N/2.5 customers, 8% guests).
constexpr double kRepeatProbability = 0.72;
constexpr double kRepeatDecay = 0.93;
constexpr double kMeanGapDays = 38.0;

struct Slot {
  int64_t created_at;
  int32_t customer;
  bool operator<(const Slot& o) const {
    return created_at != o.created_at ? created_at < o.created_at : customer < o.customer;
  }
};

// Acquisition (and guest-order) times: half uniform, half with density rising over the window,
// so a store "grows" and later cohorts are larger.
int64_t GrowthTime(Rng& rng, int64_t start, int64_t end) {
  double u = rng.Uniform();
  double frac = rng.Chance(0.5) ? u : std::sqrt(u);
  int64_t t = start + static_cast<int64_t>(frac * static_cast<double>(end - start));
  return std::min(t, end - 1);
}

// A time `delay` after `from`, but never past the horizon (the data set's "now").
int64_t ClampedAfter(int64_t from, int64_t delay, int64_t horizon) {
  return std::min(from + delay, std::max(from, horizon - 1));
}

bool ValidStoreId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

absl::StatusOr<int> ParseOffset(absl::string_view s) {
  // "+hh:mm" / "-hh:mm"
  int hh = 0;
  int mm = 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
      !absl::SimpleAtoi(s.substr(1, 2), &hh) || !absl::SimpleAtoi(s.substr(4, 2), &mm) || hh > 14 ||
      mm > 59) {
    return absl::InvalidArgumentError(absl::StrCat("bad UTC offset '", s, "' (want +hh:mm)"));
  }
  int minutes = hh * 60 + mm;
  return s[0] == '-' ? -minutes : minutes;
}

}  // namespace

absl::string_view FinancialStatusName(FinancialStatus s) {
  switch (s) {
    case FinancialStatus::kPending:
      return "pending";
    case FinancialStatus::kAuthorized:
      return "authorized";
    case FinancialStatus::kPaid:
      return "paid";
    case FinancialStatus::kPartiallyRefunded:
      return "partially_refunded";
    case FinancialStatus::kRefunded:
      return "refunded";
    case FinancialStatus::kVoided:
      return "voided";
  }
  return "paid";
}

absl::StatusOr<std::vector<StoreSpec>> ParseStoreSpecs(absl::string_view text) {
  std::vector<StoreSpec> specs;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    StoreSpec spec;
    // Trailing ":hostile" (hostile text fields, hostile.h) and ":invalid" (records breaking
    // data rules), in any order.
    for (bool more = true; more;) {
      more = false;
      if (absl::ConsumeSuffix(&item, ":hostile")) more = spec.hostile = true;
      if (absl::ConsumeSuffix(&item, ":invalid")) more = spec.invalid = true;
    }
    std::vector<absl::string_view> parts = absl::StrSplit(item, absl::MaxSplits(':', 2));
    if (parts.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--stores: '", item, "' is not <id>:<order_count>[:+hh:mm][:hostile][:invalid]"));
    }
    spec.id = std::string(parts[0]);
    if (!ValidStoreId(spec.id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--stores: bad store id '", spec.id, "' (1-64 of [A-Za-z0-9_-])"));
    }
    if (!absl::SimpleAtoi(parts[1], &spec.order_count) || spec.order_count < 0 ||
        spec.order_count > 50'000'000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--stores: bad order count '", parts[1], "' for ", spec.id));
    }
    if (parts.size() == 3) {
      auto offset = ParseOffset(parts[2]);
      if (!offset.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--stores: ", offset.status().message(), " for ", spec.id));
      }
      spec.utc_offset_minutes = *offset;
    }
    for (const StoreSpec& other : specs) {
      if (other.id == spec.id) {
        return absl::InvalidArgumentError(
            absl::StrCat("--stores: duplicate store '", spec.id, "'"));
      }
    }
    specs.push_back(std::move(spec));
  }
  if (specs.empty()) return absl::InvalidArgumentError("--stores: no stores given");
  return specs;
}

int64_t StoreData::CustomerId(int32_t customer) {
  return kCustomerIdBase + int64_t{customer} * 8 + 3;
}

std::string StoreData::CustomerEmail(int32_t customer) const {
  if (spec_.hostile) {
    return absl::StrCat(HostileText(customer), " customer", customer, "@", spec_.id, ".example");
  }
  return absl::StrCat("customer", customer, "@", spec_.id, ".example");
}

std::string StoreData::GuestEmail(const Order& o) const {
  if (spec_.hostile) {
    return absl::StrCat("guest", o.number, "@", spec_.id, ".example ", HostileText(o.number + 5));
  }
  return absl::StrCat("guest", o.number, "@", spec_.id, ".example");
}

std::string StoreData::OrderName(const Order& o) const {
  if (!spec_.hostile) return absl::StrCat("#", o.number);
  // The first order and one in the middle carry ~1 MiB names.
  if (o.number == kFirstOrderNumber) return absl::StrCat("#", o.number, " ", HugeHostileText(0));
  if (o.number == kFirstOrderNumber + spec_.order_count / 2) {
    return absl::StrCat("#", o.number, " ", HugeHostileText(7));
  }
  return absl::StrCat("#", o.number, " ", HostileText(o.number));
}

void StoreData::FillOrderDetails(Order& o, uint64_t key, int64_t horizon) {
  Rng r(key);
  // Basket: a long-tailed order value around $80.
  int64_t items = 1500 + static_cast<int64_t>(r.Exponential(6500.0));
  items = std::min<int64_t>(items, 2'000'000);
  int64_t discount = r.Chance(0.25) ? items * r.Between(5, 25) / 100 : 0;
  int64_t subtotal = items - discount;
  o.discount_cents = static_cast<int32_t>(discount);
  o.subtotal_cents = static_cast<int32_t>(subtotal);
  o.shipping_cents = subtotal < 5000 ? 599 : 0;
  o.tax_cents = static_cast<int32_t>((subtotal * 725 + 5000) / 10000);  // 7.25%
  o.test = r.Chance(0.01);
  o.financial_status = FinancialStatus::kPaid;
  // Fulfilment touches the order shortly after checkout.
  o.updated_at = ClampedAfter(o.created_at, r.Between(30, 7200), horizon);
  if (o.created_at > horizon - 2 * kDay && r.Chance(0.05)) {
    o.financial_status = r.Chance(0.5) ? FinancialStatus::kPending : FinancialStatus::kAuthorized;
  }
  double x = r.Uniform();
  if (x < 0.02) {
    o.cancelled_at = ClampedAfter(o.created_at, r.Between(300, 3 * kDay), horizon);
    o.updated_at = std::max(o.updated_at, o.cancelled_at);
    if (o.financial_status != FinancialStatus::kPaid || r.Chance(0.5)) {
      o.financial_status = FinancialStatus::kVoided;  // never captured: nothing to refund
    } else {
      o.financial_status = FinancialStatus::kRefunded;
      o.refund_at = o.cancelled_at;
      o.refund_cents = static_cast<int32_t>(o.total_cents());
    }
  } else if (x < 0.08 && o.financial_status == FinancialStatus::kPaid) {
    o.refund_at = ClampedAfter(o.created_at, r.Between(3600, 30 * kDay), horizon);
    o.updated_at = std::max(o.updated_at, o.refund_at);
    if (r.Chance(0.35)) {
      o.refund_cents = static_cast<int32_t>(o.total_cents());
      o.financial_status = FinancialStatus::kRefunded;
    } else {
      o.refund_cents = static_cast<int32_t>(o.total_cents() * r.Between(15, 80) / 100);
      o.financial_status = FinancialStatus::kPartiallyRefunded;
    }
  }
}

StoreData StoreData::Generate(uint64_t seed, const StoreSpec& spec, int64_t end) {
  StoreData d;
  d.spec_ = spec;
  d.store_seed_ = MixKeys(seed, Fnv1a64(spec.id));
  d.end_ = end;
  d.now_ = end;
  d.window_start_ = end - kWindowDays * kDay;
  const int64_t n = spec.order_count;
  if (n <= 0) return d;

  int64_t customers = std::min<int64_t>(n, std::max<int64_t>(1, std::llround(n / 2.5)));
  int64_t guests = std::min<int64_t>(n - customers, std::llround(n * 0.08));
  int64_t repeats_needed = n - customers - guests;

  Rng rng(MixKeys(d.store_seed_, 1));
  std::vector<Slot> slots;
  slots.reserve(static_cast<size_t>(n));
  std::vector<Slot> repeats;
  repeats.reserve(static_cast<size_t>(repeats_needed + repeats_needed / 2 + 16));
  for (int64_t c = 0; c < customers; ++c) {
    int64_t t = GrowthTime(rng, d.window_start_, end);
    slots.push_back({t, static_cast<int32_t>(c)});
    double p = kRepeatProbability;
    for (int k = 0; rng.Chance(p); ++k) {
      double gap_days = 2.0 + rng.Exponential(kMeanGapDays * (1.0 + 0.25 * k));
      t += static_cast<int64_t>(gap_days * kDay);
      if (t >= end) break;
      repeats.push_back({t, static_cast<int32_t>(c)});
      p *= kRepeatDecay;
    }
  }
  // Keep exactly repeats_needed of the candidates, each equally likely (selection sampling), so
  // the totals are exact while the shape of repeat behaviour is kept.
  int64_t have = static_cast<int64_t>(repeats.size());
  if (have <= repeats_needed) {
    slots.insert(slots.end(), repeats.begin(), repeats.end());
    guests += repeats_needed - have;
  } else {
    int64_t want = repeats_needed;
    for (int64_t i = 0; i < have && want > 0; ++i) {
      if (static_cast<int64_t>(rng.Below(static_cast<uint64_t>(have - i))) < want) {
        slots.push_back(repeats[static_cast<size_t>(i)]);
        --want;
      }
    }
  }
  repeats.clear();
  repeats.shrink_to_fit();
  for (int64_t g = 0; g < guests; ++g) {
    slots.push_back({GrowthTime(rng, d.window_start_, end), -1});
  }
  std::sort(slots.begin(), slots.end());

  d.customer_count_ = customers;
  d.orders_.resize(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    Order& o = d.orders_[i];
    uint64_t key = MixKeys(d.store_seed_, 2, i);
    o.id = kOrderIdBase + static_cast<int64_t>(i) * 1000 + static_cast<int64_t>(key % 1000);
    o.number = kFirstOrderNumber + static_cast<int32_t>(i);
    o.created_at = slots[i].created_at;
    o.customer = slots[i].customer;
    d.FillOrderDetails(o, MixKeys(d.store_seed_, 3, i), end);
  }
  if (spec.invalid) d.BreakRules();
  d.RebuildUpdatedIndex();
  return d;
}

absl::string_view BrokenRuleName(BrokenRule rule) {
  switch (rule) {
    case BrokenRule::kNone:
      return "";
    case BrokenRule::kBadId:
      return "bad_id";
    case BrokenRule::kNegativeAmount:
      return "negative_amount";
    case BrokenRule::kRefundExceedsTotal:
      return "refund_exceeds_total";
    case BrokenRule::kCurrency:
      return "currency_not_iso4217";
    case BrokenRule::kCreatedTooEarly:
      return "created_too_early";
    case BrokenRule::kCreatedInFuture:
      return "created_in_future";
    case BrokenRule::kUpdatedInFuture:
      return "updated_in_future";
    case BrokenRule::kUpdatedBeforeCreated:
      return "updated_before_created";
    case BrokenRule::kCancelledBeforeCreated:
      return "cancelled_before_created";
    case BrokenRule::kCount:
      break;
  }
  return "";
}

void StoreData::BreakRules() {
  constexpr size_t kBroken = static_cast<size_t>(BrokenRule::kCount) - 1;
  for (size_t i = 0; i < kBroken && i + 1 < orders_.size(); ++i) {
    Order& o = orders_[i + 1];
    unbroken_.push_back(o);
    o.broken = static_cast<BrokenRule>(i + 1);
    if (o.broken == BrokenRule::kNegativeAmount) {
      o.subtotal_cents = -o.subtotal_cents;
    } else if (o.broken == BrokenRule::kRefundExceedsTotal) {
      if (o.refund_at == 0) o.refund_at = std::min(o.created_at + 3600, end_);
      o.updated_at = std::max(o.updated_at, o.refund_at);
      o.refund_cents = static_cast<int32_t>(o.total_cents() + 5000);
      o.cancelled_at = 0;
      o.financial_status = FinancialStatus::kRefunded;
    } else if (o.broken == BrokenRule::kCancelledBeforeCreated) {
      o.cancelled_at = o.created_at;  // shown a day earlier (Shown)
    }
  }
}

Order StoreData::Shown(const Order& o) const {
  if (o.broken == BrokenRule::kNone) return o;
  constexpr int64_t k1999 = 915148800;   // 1999-01-01T00:00:00Z
  constexpr int64_t k2099 = 4070908800;  // 2099-01-01T00:00:00Z
  Order shown = o;
  switch (o.broken) {
    case BrokenRule::kBadId:
      shown.id = 0;
      break;
    case BrokenRule::kCreatedTooEarly:
      shown.created_at = k1999;
      break;
    case BrokenRule::kCreatedInFuture:
      shown.created_at = k2099;
      break;
    case BrokenRule::kUpdatedInFuture:
      shown.updated_at = k2099;
      break;
    case BrokenRule::kUpdatedBeforeCreated:
      shown.updated_at = o.created_at - kDay;
      break;
    case BrokenRule::kCancelledBeforeCreated:
      shown.cancelled_at = o.created_at - kDay;
      break;
    default:
      break;
  }
  return shown;
}

absl::string_view StoreData::Currency(const Order& o) const {
  return o.broken == BrokenRule::kCurrency ? "XYZ" : "USD";
}

int StoreData::RepairBrokenOrders() {
  int repaired = 0;
  for (const Order& original : unbroken_) {
    const size_t pos =
        static_cast<size_t>(std::lower_bound(orders_.begin(), orders_.end(), original.id,
                                             [](const Order& o, int64_t id) { return o.id < id; }) -
                            orders_.begin());
    if (pos >= orders_.size() || orders_[pos].id != original.id) continue;
    Order& o = orders_[pos];
    if (o.broken == BrokenRule::kNone || o.broken == BrokenRule::kBadId) continue;
    const int64_t updated = o.updated_at;
    o = original;
    o.updated_at = updated;
    Touch(static_cast<uint32_t>(pos), std::max(now_, updated + 1));
    ++repaired;
  }
  return repaired;
}

void StoreData::RebuildUpdatedIndex() {
  by_updated_.resize(orders_.size());
  for (size_t i = 0; i < orders_.size(); ++i) by_updated_[i] = static_cast<uint32_t>(i);
  std::sort(by_updated_.begin(), by_updated_.end(), [this](uint32_t a, uint32_t b) {
    const Order& x = orders_[a];
    const Order& y = orders_[b];
    return x.updated_at != y.updated_at ? x.updated_at < y.updated_at : x.id < y.id;
  });
}

void StoreData::Touch(uint32_t pos, int64_t new_updated_at) {
  auto less = [this](uint32_t a, std::pair<int64_t, int64_t> key) {
    const Order& x = orders_[a];
    return x.updated_at != key.first ? x.updated_at < key.first : x.id < key.second;
  };
  Order& o = orders_[pos];
  auto it = std::lower_bound(by_updated_.begin(), by_updated_.end(),
                             std::make_pair(o.updated_at, o.id), less);
  if (it != by_updated_.end() && *it == pos) by_updated_.erase(it);
  o.updated_at = new_updated_at;
  it = std::lower_bound(by_updated_.begin(), by_updated_.end(), std::make_pair(o.updated_at, o.id),
                        less);
  by_updated_.insert(it, pos);
}

StoreData::StepResult StoreData::Step(int64_t step_seconds, double delete_probability) {
  StepResult result;
  const int64_t prev = now_;
  ++steps_;
  now_ += step_seconds;
  Rng r(MixKeys(store_seed_, 0x11fe, static_cast<uint64_t>(steps_)));

  const int64_t n_new = r.Between(1, 4);
  for (int64_t j = 0; j < n_new; ++j) {
    Order o;
    int64_t created = prev + (j + 1) * step_seconds / (n_new + 1);
    const Order* last = orders_.empty() ? nullptr : &orders_.back();
    o.created_at = last != nullptr ? std::max(created, last->created_at) : created;
    o.id = (last != nullptr ? last->id : kOrderIdBase) + 1000 + static_cast<int64_t>(r.Below(1000));
    o.number = last != nullptr ? last->number + 1 : kFirstOrderNumber;
    double who = r.Uniform();
    if (who < 0.08) {
      o.customer = -1;
    } else if (who < 0.55 && customer_count_ > 0) {
      o.customer = static_cast<int32_t>(r.Below(static_cast<uint64_t>(customer_count_)));
    } else {
      o.customer = static_cast<int32_t>(customer_count_++);
    }
    // New orders are just paid (no refund or cancellation yet); later steps may change them.
    Rng basket(MixKeys(store_seed_, 0x0bad, static_cast<uint64_t>(o.number)));
    int64_t items = 1500 + static_cast<int64_t>(basket.Exponential(6500.0));
    o.discount_cents =
        basket.Chance(0.25) ? static_cast<int32_t>(items * basket.Between(5, 25) / 100) : 0;
    o.subtotal_cents = static_cast<int32_t>(items - o.discount_cents);
    o.shipping_cents = o.subtotal_cents < 5000 ? 599 : 0;
    o.tax_cents = static_cast<int32_t>((int64_t{o.subtotal_cents} * 725 + 5000) / 10000);
    o.test = basket.Chance(0.01);
    o.financial_status = FinancialStatus::kPaid;
    o.updated_at = o.created_at;
    orders_.push_back(o);
    uint32_t pos = static_cast<uint32_t>(orders_.size() - 1);
    by_updated_.push_back(pos);
    Touch(pos, o.updated_at);  // puts it at its sorted place
    ++result.created;
  }

  // Recent orders, found by binary search on created_at (orders are in created order).
  auto first_created_after = [this](int64_t t) {
    return static_cast<uint64_t>(
        std::lower_bound(orders_.begin(), orders_.end(), t,
                         [](const Order& o, int64_t v) { return o.created_at < v; }) -
        orders_.begin());
  };
  const uint64_t size = orders_.size();
  const int64_t n_refunds = r.Between(0, 2);
  uint64_t lo = first_created_after(now_ - 30 * kDay);
  for (int64_t k = 0; k < n_refunds && lo < size; ++k) {
    uint32_t pos = static_cast<uint32_t>(lo + r.Below(size - lo));
    Order& o = orders_[pos];
    if (o.deleted || o.cancelled_at != 0 || o.refund_at != 0 ||
        o.financial_status != FinancialStatus::kPaid) {
      continue;
    }
    o.refund_at = now_;
    if (r.Chance(0.35)) {
      o.refund_cents = static_cast<int32_t>(o.total_cents());
      o.financial_status = FinancialStatus::kRefunded;
    } else {
      o.refund_cents = static_cast<int32_t>(o.total_cents() * r.Between(15, 80) / 100);
      o.financial_status = FinancialStatus::kPartiallyRefunded;
    }
    Touch(pos, now_);
    ++result.refunded;
  }
  if (r.Chance(0.3)) {
    uint64_t recent = first_created_after(now_ - 3 * kDay);
    if (recent < size) {
      uint32_t pos = static_cast<uint32_t>(recent + r.Below(size - recent));
      Order& o = orders_[pos];
      if (!o.deleted && o.cancelled_at == 0 && o.refund_at == 0) {
        o.cancelled_at = now_;
        if (o.financial_status == FinancialStatus::kPaid) {
          o.financial_status = FinancialStatus::kRefunded;
          o.refund_at = now_;
          o.refund_cents = static_cast<int32_t>(o.total_cents());
        } else {
          o.financial_status = FinancialStatus::kVoided;
        }
        Touch(pos, now_);
        ++result.cancelled;
      }
    }
  }
  if (delete_probability > 0 && r.Chance(delete_probability) && size > 0) {
    // Merchants delete cancelled and test orders; look forward from a random start for one.
    uint64_t start = r.Below(size);
    for (uint64_t k = 0; k < size && k < 5000; ++k) {
      Order& o = orders_[(start + k) % size];
      if (o.deleted || (o.cancelled_at == 0 && !o.test)) continue;
      o.deleted = true;
      int64_t event_id = 9'000'000'000'000 + static_cast<int64_t>(events_.size()) * 16 + 5;
      events_.push_back({event_id, o.id, o.number, now_});
      ++result.deleted;
      break;
    }
  }
  return result;
}

StoreData::Summary StoreData::Summarize() const {
  Summary s;
  uint64_t hash = kFnvOffset;
  std::string line;
  for (const Order& o : orders_) {
    if (o.deleted || o.broken != BrokenRule::kNone) continue;
    line.clear();
    absl::StrAppend(&line, o.id, ":", o.updated_at, ":", FormatMoney(o.current_total_cents()),
                    "\n");
    hash = Fnv1a64(line, hash);
    ++s.count;
  }
  s.checksum = hash;
  return s;
}

std::string ChecksumHex(uint64_t checksum) { return absl::StrFormat("%016x", checksum); }

}  // namespace autosync::storesim
