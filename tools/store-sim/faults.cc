#include "tools/store-sim/faults.h"

#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace autosync::storesim {

void Faults::Set(const FaultSettings& s, bool all) {
  settings_ = s;
  if (all) {
    requests_seen_ = failures_sent_ = pages_drop_ = pages_truncate_ = pages_malformed_ = 0;
    burst_left_ = s.burst_429;
    throttle_left_ = s.ads_throttle;
    bulk_fail_left_ = s.bulk_fail;
    bulk_stuck_left_ = s.bulk_stuck;
    bulk_url_expired_left_ = s.bulk_url_expired;
    bulk_truncate_left_ = s.bulk_truncate;
    ads_async_fail_left_ = s.ads_async_fail;
    ads_async_stuck_left_ = s.ads_async_stuck;
    ads_token_expired_left_ = s.ads_token_expired;
  }
}

absl::Status Faults::ApplyJson(absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(json.data(), json.size())).get(doc) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError("faults: body is not valid JSON");
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("faults: body must be a JSON object");
  }
  FaultSettings next = settings_;
  std::map<std::string, int64_t*> fields = {
      {"latency_ms", &next.latency_ms},
      {"fail_5xx_every", &next.fail_5xx_every},
      {"burst_429", &next.burst_429},
      {"drop_connection_on_page", &next.drop_connection_on_page},
      {"truncate_page", &next.truncate_page},
      {"malformed_page", &next.malformed_page},
      {"ads_throttle", &next.ads_throttle},
      {"bulk_fail", &next.bulk_fail},
      {"bulk_stuck", &next.bulk_stuck},
      {"bulk_url_expired", &next.bulk_url_expired},
      {"bulk_truncate", &next.bulk_truncate},
      {"ads_async_fail", &next.ads_async_fail},
      {"ads_async_stuck", &next.ads_async_stuck},
      {"ads_token_expired", &next.ads_token_expired},
  };
  std::map<std::string, bool> touched;
  for (auto [key, value] : obj) {
    const std::string key_name(key);
    auto it = fields.find(key_name);
    if (it == fields.end()) {
      return absl::InvalidArgumentError(absl::StrCat("faults: unknown switch '", key_name, "'"));
    }
    int64_t v = 0;
    if (value.get(v) != simdjson::SUCCESS || v < 0 || v > 3'600'000) {
      return absl::InvalidArgumentError(
          absl::StrCat("faults: '", key_name, "' must be an integer in [0, 3600000]"));
    }
    *it->second = v;
    touched[it->first] = true;
  }
  settings_ = next;
  // Each switch that was set starts counting afresh; the others keep their progress.
  if (touched.count("fail_5xx_every")) requests_seen_ = failures_sent_ = 0;
  if (touched.count("burst_429")) burst_left_ = next.burst_429;
  if (touched.count("ads_throttle")) throttle_left_ = next.ads_throttle;
  if (touched.count("drop_connection_on_page")) pages_drop_ = 0;
  if (touched.count("truncate_page")) pages_truncate_ = 0;
  if (touched.count("malformed_page")) pages_malformed_ = 0;
  if (touched.count("bulk_fail")) bulk_fail_left_ = next.bulk_fail;
  if (touched.count("bulk_stuck")) bulk_stuck_left_ = next.bulk_stuck;
  if (touched.count("bulk_url_expired")) bulk_url_expired_left_ = next.bulk_url_expired;
  if (touched.count("bulk_truncate")) bulk_truncate_left_ = next.bulk_truncate;
  if (touched.count("ads_async_fail")) ads_async_fail_left_ = next.ads_async_fail;
  if (touched.count("ads_async_stuck")) ads_async_stuck_left_ = next.ads_async_stuck;
  if (touched.count("ads_token_expired")) ads_token_expired_left_ = next.ads_token_expired;
  return absl::OkStatus();
}

std::string Faults::ToJson() const {
  const FaultSettings& s = settings_;
  return absl::StrCat(
      "{\"latency_ms\":", s.latency_ms, ",\"fail_5xx_every\":", s.fail_5xx_every,
      ",\"burst_429\":", s.burst_429, ",\"drop_connection_on_page\":", s.drop_connection_on_page,
      ",\"truncate_page\":", s.truncate_page, ",\"malformed_page\":", s.malformed_page,
      ",\"ads_throttle\":", s.ads_throttle, ",\"bulk_fail\":", s.bulk_fail,
      ",\"bulk_stuck\":", s.bulk_stuck, ",\"bulk_url_expired\":", s.bulk_url_expired,
      ",\"bulk_truncate\":", s.bulk_truncate, ",\"ads_async_fail\":", s.ads_async_fail,
      ",\"ads_async_stuck\":", s.ads_async_stuck, ",\"ads_token_expired\":", s.ads_token_expired,
      ",\"counters\":{\"requests_seen\":", requests_seen_, ",\"failures_sent\":", failures_sent_,
      ",\"burst_429_left\":", burst_left_, ",\"ads_throttle_left\":", throttle_left_,
      ",\"pages_seen_drop\":", pages_drop_, ",\"pages_seen_truncate\":", pages_truncate_,
      ",\"pages_seen_malformed\":", pages_malformed_, ",\"bulk_fail_left\":", bulk_fail_left_,
      ",\"bulk_stuck_left\":", bulk_stuck_left_,
      ",\"bulk_url_expired_left\":", bulk_url_expired_left_,
      ",\"bulk_truncate_left\":", bulk_truncate_left_,
      ",\"ads_async_fail_left\":", ads_async_fail_left_,
      ",\"ads_async_stuck_left\":", ads_async_stuck_left_,
      ",\"ads_token_expired_left\":", ads_token_expired_left_, "}}");
}

int Faults::Next5xx() {
  if (settings_.fail_5xx_every <= 0) return 0;
  ++requests_seen_;
  if (requests_seen_ % settings_.fail_5xx_every != 0) return 0;
  return (failures_sent_++ % 2 == 0) ? 500 : 503;
}

bool Faults::TakeBurst429() {
  if (burst_left_ <= 0) return false;
  --burst_left_;
  return true;
}

bool Faults::TakeAdsThrottle() {
  if (throttle_left_ <= 0) return false;
  --throttle_left_;
  return true;
}

PageFault Faults::NextPage() {
  // Every armed switch counts every page, so "the Nth page" means the same page for all three.
  PageFault fault = PageFault::kNone;
  if (settings_.malformed_page > 0 && ++pages_malformed_ == settings_.malformed_page) {
    fault = PageFault::kMalformed;
  }
  if (settings_.truncate_page > 0 && ++pages_truncate_ == settings_.truncate_page) {
    fault = PageFault::kTruncate;
  }
  if (settings_.drop_connection_on_page > 0 && ++pages_drop_ == settings_.drop_connection_on_page) {
    fault = PageFault::kDrop;
  }
  return fault;
}

}  // namespace autosync::storesim
