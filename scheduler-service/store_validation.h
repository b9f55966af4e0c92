// Pure checks and derivations for the registry: validating and normalizing an UpsertStore's
// Store, per-store jitter, and PreviewSchedule. No I/O; every error is INVALID_ARGUMENT naming
// the field ("schedule: cron: hour field: \"25\" is out of range 0-23").
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "autosync/v1/scheduler.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "scheduler-service/cron.h"

namespace autosync::scheduler {

inline constexpr int64_t kMaxJitterSeconds = 3600;
inline constexpr int kDefaultPreviewCount = 5;
// The API versions a store registered without one gets: supported today (Shopify supports a
// stable version for at least 12 months, Meta a Graph API version for about two years). Keep in
// step with migration 0010's column defaults and the worker's StoreConfig.
inline constexpr char kDefaultShopifyVersion[] = "2026-10";
inline constexpr char kDefaultMetaVersion[] = "v24.0";
inline constexpr int kMaxPreviewCount = 100;

struct StoreDefaults {
  std::string schedule = "0 * * * *";
  // The ads schedule of a store that names no schedule at all (one that names only `schedule`
  // uses it for ads too).
  std::string ads_schedule = "0 */6 * * *";
  std::string timezone = "UTC";
  int64_t staleness_seconds = 3600;
  std::string orders_api = "rest";
};

// The Store an UpsertStore writes: validated, with defaults filled in for empty fields and the
// read-only fields (created_at, updated_at, version) cleared.
absl::StatusOr<autosync::v1::Store> NormalizeStore(const autosync::v1::Store& in,
                                                   const StoreDefaults& defaults);

// Parses `expr` and checks that it fires at all (a never-firing "0 0 30 2 *" is refused).
// Errors are prefixed with `field`.
absl::StatusOr<CronSchedule> ParseFiringSchedule(absl::string_view expr, absl::string_view field);

// A cron expression as stored: whitespace trimmed, bounded, parsed and firing. Errors are
// prefixed with `field`.
absl::StatusOr<std::string> NormalizeSchedule(absl::string_view expr, absl::string_view field);

// Loads a zone for `field`; "" is UTC.
absl::StatusOr<absl::TimeZone> LoadZoneForField(absl::string_view name, absl::string_view field);

// A backfill's days: both empty (no backfill) or two dates YYYY-MM-DD, from <= to, at most
// kMaxBackfillDays apart. Errors name backfill_from / backfill_to.
inline constexpr int kMaxBackfillDays = 3660;
struct BackfillRange {
  std::string from;
  std::string to;
};
absl::StatusOr<BackfillRange> ParseBackfillRange(absl::string_view from, absl::string_view to);

// Deterministic per-store delay in [0, jitter_seconds): the same store always lands on the same
// offset on every replica, and stores spread evenly.
absl::Duration JitterFor(absl::string_view store_id, int64_t jitter_seconds);

// PreviewSchedule: `now` is used when the request has no `from`.
absl::StatusOr<autosync::v1::PreviewScheduleResponse> PreviewSchedule(
    const autosync::v1::PreviewScheduleRequest& request, absl::Time now);

// RFC 3339 with the zone's offset: "2024-03-10T03:00:00-04:00".
std::string FormatLocal(absl::Time t, const absl::TimeZone& tz);

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromProto(const google::protobuf::Timestamp& ts);

}  // namespace autosync::scheduler
