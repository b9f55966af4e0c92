// What the worker needs to know about one store (its `stores` row), and how the API
// credentials it references are read. The secret itself is never stored in the database.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autosync::worker {

struct StoreConfig {
  std::string store_id;
  std::string timezone = "UTC";
  std::string orders_api_base;
  std::string orders_api_version = "2026-10";
  std::string orders_api = "rest";  // "rest" or "graphql" (stores.orders_api)
  std::string ads_api_base;
  std::string ads_api_version = "v24.0";
  std::string ad_account_id;  // empty: the store has no ad account; the ads stage is skipped
  std::string credentials_ref;
};

struct Credentials {
  std::string orders_token;
  std::string ads_token;
};

// Reads the secret a store's credentials_ref points at:
//   "env:NAME"   the worker's environment variable NAME
//   "file:/path" a file (e.g. a mounted Kubernetes Secret)
// The secret is either one token (used for both APIs) or lines "orders=<token>" and
// "ads=<token>". Errors name the reference, never the secret. An empty ref is an error.
absl::StatusOr<Credentials> ResolveCredentials(absl::string_view ref);

// Parses the secret's text as described above (exposed for tests).
absl::StatusOr<Credentials> ParseCredentials(absl::string_view secret_text);

}  // namespace autosync::worker
