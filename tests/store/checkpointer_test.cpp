// The WAL stays bounded even when the checkpoint thread cannot keep up.
#include "checkpointer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "sqlite.hpp"

namespace handover::store {
namespace {

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("handover-ckpt-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "w.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(CheckpointerTest, TheWriterFoldsTheWalBackWhenTheThreadFallsBehind) {
  auto writer = Connection::open(path_, Connection::Mode::kReadWrite, 1000);
  ASSERT_TRUE(writer) << writer.status().message();
  ASSERT_TRUE(writer->query_row("PRAGMA journal_mode = WAL"));
  ASSERT_TRUE(writer->exec("PRAGMA synchronous = NORMAL").is_ok());
  ASSERT_TRUE(writer->exec("CREATE TABLE t (v TEXT NOT NULL)").is_ok());
  auto checkpointer = Checkpointer::start(path_, "normal", 1000);
  ASSERT_TRUE(checkpointer) << checkpointer.status().message();
  (*checkpointer)->attach(*writer);
  // The worst case for the thread: it never runs, so only the writer can fold frames back.
  (*checkpointer)->stop();

  // A row of 3,000 bytes fills about one page: ten rows a commit, three times the frames the
  // writer lets the WAL hold.
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(3000, 'x') + "')";
  constexpr int kRowsPerCommit = 10;
  const int commits = 3 * Checkpointer::kWriterCheckpointFrames / kRowsPerCommit;
  for (int c = 0; c < commits; ++c) {
    ASSERT_TRUE(writer->exec("BEGIN").is_ok());
    for (int r = 0; r < kRowsPerCommit; ++r) ASSERT_TRUE(writer->exec(row.c_str()).is_ok());
    ASSERT_TRUE(writer->exec("COMMIT").is_ok());
  }
  Checkpointer::detach(*writer);

  // A frame is a page plus its 24-byte header; allow one commit's frames past the limit.
  constexpr std::uintmax_t kFrame = 4096 + 24;
  const std::uintmax_t bound =
      (Checkpointer::kWriterCheckpointFrames + 4 * kRowsPerCommit) * kFrame + 32;
  EXPECT_LE(std::filesystem::file_size(path_ + "-wal"), bound);
  auto count = writer->query_row("SELECT count(*) FROM t");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->column_int64(0), commits * kRowsPerCommit);
}

}  // namespace
}  // namespace handover::store
