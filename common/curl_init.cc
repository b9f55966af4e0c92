#include "common/curl_init.h"

#include <curl/curl.h>

#include "absl/strings/str_cat.h"

namespace autosync::common {

absl::Status EnsureCurlGlobalInit() {
  // A function-local static: initialised once, and callers arriving meanwhile wait for it. Not
  // absl::call_once: a caller that waited for it inside Debian's absl (built without TSan) is
  // not seen by ThreadSanitizer to happen after the initialisation, which it then reports as a
  // data race on the result; the compiler's static guard is one TSan knows.
  static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (result == CURLE_OK) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("curl_global_init failed: ", curl_easy_strerror(result)));
}

}  // namespace autosync::common
