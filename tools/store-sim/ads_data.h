// store-sim's ad-spend model: 3–6 campaigns per store and one row of metrics per campaign per
// day, computed on demand from the seed (nothing stored). Days inside the trailing 28-day
// window are "restated": they change with a per-store call counter, like Meta's attribution.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autosync::storesim {

struct Campaign {
  std::string id;  // numeric string, like Meta's
  std::string name;
  int64_t daily_spend_cents = 0;  // baseline before trend/weekday/noise
};

struct DayMetrics {
  int64_t spend_cents = 0;
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t purchases = 0;
  int64_t purchase_value_cents = 0;

  DayMetrics& operator+=(const DayMetrics& o) {
    spend_cents += o.spend_cents;
    impressions += o.impressions;
    clicks += o.clicks;
    purchases += o.purchases;
    purchase_value_cents += o.purchase_value_cents;
    return *this;
  }
};

inline constexpr int64_t kRestatementDays = 28;

class AdsModel final {
 public:
  // `customers` scales spend so CAC comes out around $30–50.
  // `hostile`: campaign names carry hostile text (hostile.h) after the usual name.
  AdsModel(uint64_t store_seed, int64_t first_day, int64_t customers, bool hostile = false);

  const std::vector<Campaign>& campaigns() const { return campaigns_; }
  int64_t first_day() const { return first_day_; }

  // Metrics of campaign `c` on `day`. When today - day < kRestatementDays the numbers are
  // perturbed by `call_counter`, so each call may see different values for those days only.
  DayMetrics Metrics(size_t c, int64_t day, int64_t today, uint64_t call_counter) const;

 private:
  uint64_t seed_;
  int64_t first_day_;
  std::vector<Campaign> campaigns_;
};

}  // namespace autosync::storesim
