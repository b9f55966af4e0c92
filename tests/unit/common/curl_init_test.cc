#include "common/curl_init.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace autosync::common {
namespace {

using ::autosync::testing::IsOk;

TEST(CurlInitTest, InitialisesOnceForConcurrentCallers) {
  std::vector<absl::Status> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&results, i] { results[i] = EnsureCurlGlobalInit(); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_THAT(s, IsOk());
  EXPECT_THAT(EnsureCurlGlobalInit(), IsOk());  // and later calls keep answering
}

}  // namespace
}  // namespace autosync::common
