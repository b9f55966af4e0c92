// Fuzzes the bulk operation's JSONL reader (sync-worker/connectors/bulk_orders.h); the input is a
// result file. The first byte picks a chunk size, so a file is read as a download would hand it
// over. Invariants: errors are DATA_LOSS or INVALID_ARGUMENT and name a line; the orders and the
// outcome do not depend on where the chunks were cut (whole file vs. chunks); a failed read hands
// out only orders that a successful read of the same file would also have; no line longer than
// the cap is held.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "sync-worker/connectors/bulk_orders.h"
#include "tests/fuzz/same_order.h"

namespace {

namespace w = autosync::worker;

constexpr size_t kCap = 4096;  // small, so the fuzzer reaches it

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "bulk_jsonl invariant violated: %s\ninput: %.*s\n", what,
               static_cast<int>(input.size() > 2000 ? 2000 : input.size()), input.data());
  std::abort();
}

struct Outcome {
  absl::Status status;
  std::vector<w::Order> orders;
};

Outcome Read(absl::string_view file, size_t chunk) {
  w::BulkOrdersReader reader(kCap);
  Outcome out;
  for (size_t at = 0; at < file.size() && out.status.ok(); at += chunk) {
    out.status = reader.Feed(file.substr(at, chunk), out.orders);
  }
  if (out.status.ok()) out.status = reader.Finish(out.orders);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 37;
  const absl::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = Read(file, file.size() + 1);
  const Outcome chunked = Read(file, chunk);
  for (const Outcome* o : {&whole, &chunked}) {
    if (!o->status.ok()) {
      const absl::StatusCode code = o->status.code();
      if (code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInvalidArgument) {
        Fail("unexpected error code", file);
      }
      if (!absl::StrContains(o->status.message(), "bulk result line ")) {
        Fail("an error that does not name its line", file);
      }
    }
  }
  if (whole.status.code() != chunked.status.code() ||
      whole.status.message() != chunked.status.message()) {
    Fail("the outcome depends on where the chunks were cut", file);
  }
  if (whole.orders.size() != chunked.orders.size()) Fail("another order count by chunks", file);
  for (size_t i = 0; i < whole.orders.size(); ++i) {
    if (!autosync::fuzz::SameOrder(whole.orders[i], chunked.orders[i])) {
      Fail("other orders by chunks", file);
    }
  }
  return 0;
}
