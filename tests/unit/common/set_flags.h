// Test helper: sets flags by name from text, as the command line would, so that a config
// function's tests can list bad values in a table. Use under an absl::FlagSaver (it restores the
// flags when the test ends). Not thread-safe: flags are process-wide.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autosync::testing {

using FlagValues = std::vector<std::pair<std::string, std::string>>;

// Fails the test when a flag does not exist or a value does not parse.
inline void SetFlags(const FlagValues& values) {
  for (const auto& [name, value] : values) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    ASSERT_NE(flag, nullptr) << "no flag --" << name;
    std::string error;
    ASSERT_TRUE(flag->ParseFrom(value, &error)) << "--" << name << "=" << value << ": " << error;
  }
}

// One row of a config function's table: flags to set, and the start of the one-line error
// ("invalid --threads: …"), or empty when the values are accepted.
struct ConfigCase {
  std::string name;
  FlagValues flags;
  std::string error;
};

// Prints the row's name (in test names and failures) instead of its bytes.
inline void PrintTo(const ConfigCase& row, std::ostream* os) { *os << row.name; }

// Checks a config function's answer against `row`: accepted, or INVALID_ARGUMENT with a message
// that starts with row.error.
template <typename Config>
void ExpectConfigCase(const absl::StatusOr<Config>& config, const ConfigCase& row) {
  if (row.error.empty()) {
    EXPECT_TRUE(config.ok()) << config.status();
    return;
  }
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), ::testing::StartsWith(row.error));
}

inline std::string ConfigCaseName(const ::testing::TestParamInfo<ConfigCase>& info) {
  return info.param.name;
}

}  // namespace autosync::testing
