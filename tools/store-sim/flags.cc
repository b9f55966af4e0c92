// store-sim's flags (declared in flags.h): names, defaults and help text.
#include "tools/store-sim/flags.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8090",
          "host:port to serve on (loopback only unless --allow_non_loopback)");
ABSL_FLAG(bool, allow_non_loopback, false, "allow --listen on a non-loopback address");
ABSL_FLAG(int, threads, 2, "I/O threads");
ABSL_FLAG(int64_t, idle_timeout_seconds, 60,
          "how long a connection may wait for a whole request, and a response being written may "
          "go without any bytes taken by the client (a slow download goes on, a stalled one is "
          "cut off); 1 to 3600");
ABSL_FLAG(uint64_t, seed, 42, "data seed: same seed and stores, same data");
ABSL_FLAG(std::string, stores, "buycosari:200000,acme:5000",
          "stores as id:order_count[:+hh:mm][:hostile][:invalid], comma-separated; the optional "
          "offset is "
          "the store's UTC offset for printed timestamps and ad days (default +00:00); "
          "\"hostile\" fills its order names, emails and campaign names with text that breaks "
          "naive SQL/COPY/JSON handling (quotes, backslashes, \\N, tabs, newlines, emoji, RTL, "
          "~1 MiB names)");
ABSL_FLAG(std::string, end, "",
          "RFC 3339 instant where the ~24 months of history end and the live clock starts "
          "(default: start of the current UTC day)");
ABSL_FLAG(std::string, access_token, "sim-token",
          "token both APIs accept (X-Shopify-Access-Token; access_token / Bearer for Meta)");
ABSL_FLAG(int64_t, bucket_size, 40, "Shopify leaky bucket size per store");
ABSL_FLAG(double, leak_per_second, 2.0, "Shopify leaky bucket leak rate; 0 = unlimited");
ABSL_FLAG(int64_t, graphql_bucket_size, 2000,
          "Shopify GraphQL calculated-cost bucket per store (maximumAvailable points)");
ABSL_FLAG(double, graphql_restore_rate, 100.0,
          "Shopify GraphQL cost points restored per second (restoreRate); 0 = unlimited");
ABSL_FLAG(bool, live, false,
          "live mode: every --live_interval_ms each store gets a step of new "
          "orders, refunds and cancellations");
ABSL_FLAG(int64_t, live_interval_ms, 2000,
          "live step period; each step also advances the sim clock by this much (min 1 s)");
ABSL_FLAG(double, live_delete_probability, 0.0,
          "live mode: per store and step, the chance that one cancelled or test order is deleted "
          "(it then appears only in events.json?filter=Order&verb=destroy)");
ABSL_FLAG(bool, read_all_orders, true,
          "false: like an app without the read_all_orders scope, only orders created in the last "
          "60 days exist");
ABSL_FLAG(int64_t, bulk_min_ms, 1000,
          "Shopify bulk operations take at least this long from run to COMPLETED (objectCount "
          "grows meanwhile); 0 = as soon as the file is rendered");
ABSL_FLAG(int64_t, bulk_url_ttl_seconds, 604800,
          "how long a completed bulk operation's download URL stays valid (then 403 "
          "ExpiredToken, and the operation shows EXPIRED)");
ABSL_FLAG(int64_t, ads_async_ms, 2000,
          "Meta async insights report runs take this long from \"Job Not Started\" to \"Job "
          "Completed\"; 0 = at once");
ABSL_FLAG(std::string, shopify_oldest_version, "2025-10",
          "oldest Shopify API version (YYYY-MM) served: older paths are answered as this one, "
          "with X-Shopify-API-Deprecated-Reason");
ABSL_FLAG(std::string, meta_oldest_version, "v22.0",
          "oldest Graph API version (vNN.0) served: older paths are answered as this one "
          "(x-fb-api-version says so)");
ABSL_FLAG(int64_t, latency_ms, 0, "fault: delay every API answer");
ABSL_FLAG(int64_t, fail_5xx_every, 0,
          "fault: every Nth API request answers 500 then 503, alternating");
ABSL_FLAG(int64_t, burst_429, 0,
          "fault: the next N orders requests (REST or GraphQL) answer 429 with Retry-After");
ABSL_FLAG(int64_t, drop_connection_on_page, 0,
          "fault: close the socket without answering on the Nth data page (REST or GraphQL "
          "orders, or insights)");
ABSL_FLAG(int64_t, truncate_page, 0, "fault: the Nth data page's body is cut in half");
ABSL_FLAG(int64_t, malformed_page, 0, "fault: the Nth data page's body is garbage, not JSON");
ABSL_FLAG(int64_t, ads_throttle, 0,
          "fault: the next N insights calls answer Meta's #80000 throttle error");
ABSL_FLAG(int64_t, bulk_fail, 0,
          "fault: the next N bulk operations end FAILED (errorCode INTERNAL_SERVER_ERROR) "
          "partway");
ABSL_FLAG(int64_t, bulk_stuck, 0, "fault: the next N bulk operations stay RUNNING until cancelled");
ABSL_FLAG(int64_t, bulk_url_expired, 0, "fault: the next N bulk downloads answer 403 ExpiredToken");
ABSL_FLAG(int64_t, bulk_truncate, 0,
          "fault: the next N bulk downloads announce the whole Content-Length, send about half "
          "of it (ending mid-line) and close the connection");
ABSL_FLAG(int64_t, ads_async_fail, 0,
          "fault: the next N Meta async report runs end \"Job Failed\" at about 50%");
ABSL_FLAG(int64_t, ads_async_stuck, 0,
          "fault: the next N Meta async report runs stay \"Job Running\" forever");
ABSL_FLAG(int64_t, ads_token_expired, 0,
          "fault: the next N Meta requests (any route) answer OAuthException 190/463, the "
          "access token has expired");

namespace autosync::storesim {
namespace {

constexpr const char* kUsage =
    R"(Shopify orders (REST + GraphQL + bulk) + Meta insights simulator (test/demo tool).

One server, many stores (default http://127.0.0.1:8090):
  GET  /shops/{store}/admin/api/{YYYY-MM}/orders.json     Shopify orders (orders_api_base =
       http://127.0.0.1:8090/shops/{store}); header X-Shopify-Access-Token: <--access_token>.
       limit (1-250, default 50), status (open|closed|cancelled|any; default open, and orders
       created more than 30 days before the sim clock are closed), updated_at_min/max,
       created_at_min/max (inclusive, RFC 3339), since_id, ids, fields, order=updated_at asc.
       Cursor paging via the Link header (page_info; only limit and fields may be added).
       Leaky bucket per store (X-Shopify-Shop-Api-Call-Limit, 429 + Retry-After: 2.0).
  GET  /shops/{store}/admin/api/{YYYY-MM}/orders/count.json
  POST /shops/{store}/admin/api/{YYYY-MM}/graphql.json    Shopify GraphQL, the orders
       connection only, over the same orders; same token. Body {"query": "…orders(first: $first,
       after: $after, query: $query, sortKey: UPDATED_AT) {…}…", "variables": {"first": 1-250,
       "after": endCursor|null, "query": "updated_at:>='2024-01-01T00:00:00Z' …"}}. Search terms
       updated_at/created_at with >=, <=, >, < (RFC 3339 or YYYY-MM-DD, quotes optional); every
       status; sorted by updatedAt then id. Answers {"data":{"orders":{"pageInfo":{"hasNextPage",
       "endCursor"},"nodes":[{id (gid), name, email, createdAt, updatedAt, processedAt,
       cancelledAt, test, displayFinancialStatus, currencyCode, total/subtotal/totalTax/
       totalDiscounts/currentTotal/totalRefunded PriceSet, customer {id}}]}},"extensions":{"cost":
       …}}. Cost: requested 2 + first, actual 2 + nodes; a per-store bucket of
       --graphql_bucket_size points restoring --graphql_restore_rate per second; too few points:
       HTTP 200 with errors[].extensions.code THROTTLED. Errors: 400 {"errors":"…"} for a body
       that is not {"query": …}; else 200 with errors (UNSUPPORTED_QUERY, BAD_USER_INPUT,
       MAX_COST_EXCEEDED).
  POST …/graphql.json                                    Shopify bulk operations, same token:
       bulkOperationRunQuery(query: "{ orders(query: \"…\", sortKey: UPDATED_AT) { edges {
       node { … } } } }") (no first/after; one in progress per shop), node(id: "gid://shopify/
       BulkOperation/<n>") { ... on BulkOperation { id status errorCode createdAt completedAt
       objectCount fileSize url partialDataUrl } }, currentBulkOperation, bulkOperationCancel.
       CREATED -> RUNNING -> COMPLETED after at least --bulk_min_ms; the JSONL has one line per
       order (the GraphQL node without totalRefundedSet, plus refunds [{id}]) followed by its
       refund transactions ({"id","kind":"REFUND","status","amountSet","__parentId"}; every
       fifth refunded order has a FAILURE before its SUCCESS).
  GET  /_bulk/{store}/{n}.jsonl?expires=…&sig=…           a completed operation's file (the url
       of its poll; no token; application/jsonl; valid --bulk_url_ttl_seconds, then 403
       ExpiredToken).
  GET  /shops/{store}/admin/api/{YYYY-MM}/events.json?filter=Order&verb=destroy&created_at_min=…
       deleted orders (live mode deletes cancelled/test orders if --live_delete_probability > 0).
  GET  /{vNN.0}/act_{store}/insights                     Meta insights; the store id is the ad
       account id (real accounts are digits; connectors treat it as opaque). Token via
       access_token=… or Authorization: Bearer. level=campaign|account, time_range={"since":…,
       "until":…}, time_increment=1..90|all_days, fields, limit (<=500), after cursor. The last
       28 days are restated: their numbers change on every call.
  POST /{vNN.0}/act_{store}/insights                     an async report run with the same
       parameters (query string and/or form body) -> {"report_run_id":"<digits>"};
       GET /{vNN.0}/{report_run_id} -> async_status / async_percent_completion over
       --ads_async_ms; GET /{vNN.0}/{report_run_id}/insights -> the sync page format, 400
       "Report not ready" before "Job Completed".
  Versions: answers carry X-Shopify-API-Version (older than --shopify_oldest_version: served as
       it, with X-Shopify-API-Deprecated-Reason) and x-fb-api-version (--meta_oldest_version).
  Admin (no auth): GET /_sim/health, GET /_sim/stores, GET /_sim/stores/{store}/summary
       ({"count","checksum"}: FNV-1a 64 over "<id>:<updated_at unix>:<current_total_price>\n" of
       non-deleted orders by id, without rule-breaking ones), GET|POST|DELETE /_sim/faults (JSON
       switches as the fault flags), POST /_sim/stores/{store}/tick[?steps=N] (deterministic live
       steps), POST /_sim/stores/{store}/repair (an :invalid store's broken orders, but the one
       with a bad id, come back valid and updated now).
  Rule-breaking data: a store given as "<id>:<count>[:…]:invalid" has nine orders that each
       break one data rule (id 0, a negative amount, a refund above the total, currency XYZ,
       created in 1999 or 2099, updated in 2099 or before it was created, cancelled before it
       was created) and, per day-level campaign report, four ad rows that break the ad rules.
Timestamps print at the store's UTC offset (+00:00 unless given in --stores). Every option can
also come from the environment as AUTOSYNC_<FLAG> (upper-case); the command line wins.
)";

// The flags of this file: the only ones --help lists and AUTOSYNC_<FLAG> sets.
bool IsStoreSimFlagFile(absl::string_view file) {
  return absl::EndsWith(file, "store-sim/flags.cc");
}

}  // namespace

void ParseStoreSimFlags(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = IsStoreSimFlagFile;
  usage_config.contains_helpshort_flags = IsStoreSimFlagFile;
  absl::SetFlagsUsageConfig(usage_config);
  // AUTOSYNC_<FLAG> environment values go in front of the real arguments, so the command line
  // overrides them.
  std::vector<std::string> env_args;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!IsStoreSimFlagFile(flag->Filename())) continue;
    const std::string var = absl::AsciiStrToUpper(absl::StrCat("AUTOSYNC_", name));
    if (const char* v = std::getenv(var.c_str())) {
      env_args.push_back(absl::StrCat("--", name, "=", v));
    }
  }
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (std::string& a : env_args) args.push_back(a.data());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
}

}  // namespace autosync::storesim
