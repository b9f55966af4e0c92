#include "common/curl_init.h"

#include <curl/curl.h>

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"

namespace autosync::common {

absl::Status EnsureCurlGlobalInit() {
  static absl::once_flag once;
  static CURLcode result = CURLE_OK;
  absl::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result == CURLE_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("curl_global_init failed: ", curl_easy_strerror(result)));
}

}  // namespace autosync::common
