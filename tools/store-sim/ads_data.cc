#include "tools/store-sim/ads_data.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tools/store-sim/hostile.h"
#include "tools/store-sim/rng.h"

namespace autosync::storesim {
namespace {

constexpr const char* kCampaignNames[] = {
    "Prospecting - Broad", "Retargeting - Site Visitors 30d", "Lookalike 1% Purchasers",
    "Advantage+ Shopping", "Brand Awareness - Video",         "Catalog - Dynamic Product Ads",
};
constexpr double kPi = 3.14159265358979323846;

}  // namespace

AdsModel::AdsModel(uint64_t store_seed, int64_t first_day, int64_t customers, bool hostile)
    : seed_(MixKeys(store_seed, 0xad5)), first_day_(first_day) {
  Rng r(seed_);
  size_t count = 3 + static_cast<size_t>(r.Below(4));
  // Total daily spend ~ new customers per day * ~$40, split unevenly across campaigns.
  double total = std::max(20.0, static_cast<double>(customers) / 730.0 * 40.0) * 100.0;
  std::vector<double> weights(count);
  double sum = 0;
  for (double& w : weights) {
    w = 0.5 + r.Uniform();
    sum += w;
  }
  for (size_t i = 0; i < count; ++i) {
    Campaign c;
    c.id = absl::StrCat(23850000000000 + static_cast<int64_t>(r.Below(1'000'000'000)) * 10 +
                        static_cast<int64_t>(i));
    c.name = kCampaignNames[i];
    if (hostile) absl::StrAppend(&c.name, " ", HostileText(static_cast<int64_t>(i) * 3 + 1));
    c.daily_spend_cents = std::max<int64_t>(100, std::llround(total * weights[i] / sum));
    campaigns_.push_back(std::move(c));
  }
}

DayMetrics AdsModel::Metrics(size_t c, int64_t day, int64_t today, uint64_t call_counter) const {
  Rng r(MixKeys(seed_, c, static_cast<uint64_t>(day)));
  double frac = std::clamp(static_cast<double>(day - first_day_) / 730.0, 0.0, 1.0);
  double trend = 0.5 + frac;  // matches the growth of customer acquisition
  double weekday =
      1.0 + 0.15 * std::sin(2.0 * kPi * static_cast<double>(((day % 7) + 7) % 7) / 7.0);
  double noise = 0.8 + 0.4 * r.Uniform();
  double spend = static_cast<double>(campaigns_[c].daily_spend_cents) * trend * weekday * noise;
  double cpm_cents = 800.0 + 600.0 * r.Uniform();
  double ctr = 0.008 + 0.012 * r.Uniform();
  double cvr = 0.02 + 0.02 * r.Uniform();
  double aov_cents = 6000.0 + 5000.0 * r.Uniform();
  if (today - day < kRestatementDays && day <= today) {
    // Attribution keeps arriving for recent days: every call sees slightly different numbers.
    Rng p(MixKeys(seed_ ^ 0xfee, MixKeys(call_counter, c), static_cast<uint64_t>(day)));
    spend *= 1.0 + (p.Uniform() - 0.5) * 0.04;
    cvr *= 1.0 + (p.Uniform() - 0.3) * 0.2;
  }
  DayMetrics m;
  m.spend_cents = std::llround(spend);
  m.impressions = std::llround(spend / cpm_cents * 1000.0);
  m.clicks = std::llround(static_cast<double>(m.impressions) * ctr);
  m.purchases = std::llround(static_cast<double>(m.clicks) * cvr);
  m.purchase_value_cents = std::llround(static_cast<double>(m.purchases) * aov_cents);
  return m;
}

}  // namespace autosync::storesim
