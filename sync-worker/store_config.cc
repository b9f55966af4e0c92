#include "sync-worker/store_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace autosync::worker {

absl::StatusOr<Credentials> ParseCredentials(absl::string_view secret_text) {
  const absl::string_view text = absl::StripAsciiWhitespace(secret_text);
  if (text.empty()) return absl::FailedPreconditionError("the credentials secret is empty");
  Credentials out;
  if (!absl::StrContains(text, '=')) {
    out.orders_token = std::string(text);
    out.ads_token = out.orders_token;
    return out;
  }
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::FailedPreconditionError(
          "the credentials secret mixes a bare token with key=value lines");
    }
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    if (key == "orders") {
      out.orders_token = value;
    } else if (key == "ads") {
      out.ads_token = value;
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("the credentials secret has an unknown key \"",
                       absl::CHexEscape(key.substr(0, 32)), "\" (want orders= and ads=)"));
    }
  }
  return out;
}

absl::StatusOr<Credentials> ResolveCredentials(absl::string_view ref) {
  if (ref.empty()) {
    return absl::FailedPreconditionError(
        "the store has no credentials_ref; set it to env:NAME or file:/path");
  }
  if (absl::StartsWith(ref, "env:")) {
    const std::string name(ref.substr(4));
    const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("credentials_ref ", ref, ": the worker has no environment variable ", name));
    }
    return ParseCredentials(value);
  }
  if (absl::StartsWith(ref, "file:")) {
    const std::string path(ref.substr(5));
    std::ifstream in(path);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("credentials_ref ", ref, ": the worker cannot read that file"));
    }
    std::stringstream text;
    text << in.rdbuf();
    return ParseCredentials(text.str());
  }
  return absl::FailedPreconditionError(absl::StrCat("credentials_ref \"",
                                                    absl::CHexEscape(ref.substr(0, 64)),
                                                    "\" is neither env:NAME nor file:/path"));
}

}  // namespace autosync::worker
