#include "handover/util/file.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace handover::files {
namespace {

// A fresh directory, removed with its content at the end of the test.
class FileRead : public ::testing::Test {
 protected:
  FileRead() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "handover-file-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
  }
  ~FileRead() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return dir_ / name;
  }

  std::filesystem::path dir_;
};

TEST_F(FileRead, ReadsARegularFileUpToTheLimit) {
  const auto path = write("rules.yaml", "version: 1\n");

  auto content = read_regular_file(path, 11);

  ASSERT_TRUE(content.is_ok()) << content.status().message();
  EXPECT_EQ(*content, "version: 1\n");
}

TEST_F(FileRead, RefusesAFileLargerThanTheLimit) {
  const auto path = write("rules.yaml", std::string(4097, 'x'));

  auto content = read_regular_file(path, 4096);

  ASSERT_FALSE(content.is_ok());
  EXPECT_EQ(content.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(content.status().message().find("larger than the limit of 4096 bytes"),
            std::string::npos);
}

TEST_F(FileRead, RefusesAFifoAtOnceInsteadOfWaitingForAWriter) {
  const auto path = dir_ / "rules.yaml";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);

  auto content = read_regular_file(path, 4096);

  ASSERT_FALSE(content.is_ok());
  EXPECT_EQ(content.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(content.status().message().find("is a FIFO, not a file"), std::string::npos);
}

TEST_F(FileRead, RefusesADirectoryAndReportsAMissingFile) {
  std::filesystem::create_directory(dir_ / "rules.yaml");

  auto directory = read_regular_file(dir_ / "rules.yaml", 4096);
  auto missing = read_regular_file(dir_ / "absent.yaml", 4096);

  ASSERT_FALSE(directory.is_ok());
  EXPECT_NE(directory.status().message().find("is a directory"), std::string::npos);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace handover::files
