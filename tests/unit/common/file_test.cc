#include "common/file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace autosync::common {
namespace {

using ::autosync::testing::IsOkAndHolds;
using ::autosync::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(getpid()) + ".tmp"))
      .string();
}

TEST(ReadFileTest, ReturnsTheBytesUnchanged) {
  const std::string path = TempPath("read_file_test");
  const std::string content("line 1\r\n\x00\xff  \n", 13);
  {
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  EXPECT_THAT(ReadFile(path), IsOkAndHolds(content));
  std::remove(path.c_str());
}

TEST(ReadFileTest, NamesTheFileItCannotRead) {
  const std::string path = TempPath("read_file_test_missing");
  EXPECT_THAT(ReadFile(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST(ReadFileTest, RefusesAnEmptyPath) {
  EXPECT_THAT(ReadFile(""), StatusIs(absl::StatusCode::kInvalidArgument, "is empty"));
}

}  // namespace
}  // namespace autosync::common
