#include "common/ids.h"

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace autosync::common {
namespace {

std::string Quote(absl::string_view text) {
  const bool cut = text.size() > 64;
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, 64)), cut ? "…" : "", "\"");
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

absl::Status ValidateStoreId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("store_id is empty");
  if (id.size() > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat("store_id ", Quote(id), " is longer than 63 characters"));
  }
  if (!IsLowerAlnum(id[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("store_id ", Quote(id), " must start with a lowercase letter or digit"));
  }
  for (char c : id) {
    if (!IsLowerAlnum(c) && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("store_id ", Quote(id), " may only contain a-z, 0-9, '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

std::string NewRunId() {
  absl::BitGen gen;
  return absl::StrFormat("run_%016x%08x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint32_t>(gen));
}

absl::Status ValidateRunId(absl::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError("run_id must be 1-64 characters");
  }
  for (char c : id) {
    const bool ok =
        IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "run_id ", Quote(id), " may only contain A-Z, a-z, 0-9, '_', '.', ':', '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace autosync::common
