// The WAL stays bounded even when the checkpoint thread cannot keep up.
#include "checkpointer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

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
  void TearDown() override {
    if (writer_.handle() != nullptr) Checkpointer::detach(writer_);
    checkpointer_.reset();
    writer_ = Connection{};
    std::filesystem::remove_all(dir_);
  }

  // A writer in WAL mode with table t, and a started checkpointer attached to it.
  void open_writer_and_checkpointer() {
    Result<Connection> writer = Connection::open(path_, Connection::Mode::kReadWrite, 1000);
    ASSERT_TRUE(writer) << writer.status().message();
    writer_ = std::move(writer).value();
    ASSERT_TRUE(writer_.query_row("PRAGMA journal_mode = WAL"));
    ASSERT_TRUE(writer_.exec("PRAGMA synchronous = NORMAL").is_ok());
    ASSERT_TRUE(writer_.exec("CREATE TABLE t (v TEXT NOT NULL)").is_ok());
    Result<std::unique_ptr<Checkpointer>> started = Checkpointer::start(path_, "normal", 1000);
    ASSERT_TRUE(started) << started.status().message();
    checkpointer_ = std::move(started).value();
    checkpointer_->attach(writer_);
  }

  std::filesystem::path dir_;
  std::string path_;
  Connection writer_;
  std::unique_ptr<Checkpointer> checkpointer_;
};

TEST_F(CheckpointerTest, TheWriterFoldsTheWalBackWhenTheThreadFallsBehind) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  // The worst case for the thread: it never runs, so only the writer can fold frames back.
  checkpointer_->stop();

  // A row of 3,000 bytes fills about one page: ten rows a commit, three times the frames the
  // writer lets the WAL hold.
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(3000, 'x') + "')";
  constexpr int kRowsPerCommit = 10;
  const int commits = 3 * Checkpointer::kWriterCheckpointFrames / kRowsPerCommit;
  for (int c = 0; c < commits; ++c) {
    ASSERT_TRUE(writer_.exec("BEGIN").is_ok());
    for (int r = 0; r < kRowsPerCommit; ++r) ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ASSERT_TRUE(writer_.exec("COMMIT").is_ok());
  }
  Checkpointer::detach(writer_);

  // A frame is a page plus its 24-byte header; allow one commit's frames past the limit.
  constexpr std::uintmax_t kFrame = 4096 + 24;
  const std::uintmax_t bound =
      (Checkpointer::kWriterCheckpointFrames + 4 * kRowsPerCommit) * kFrame + 32;
  EXPECT_LE(std::filesystem::file_size(path_ + "-wal"), bound);
  EXPECT_GE(checkpointer_->writer_checkpoints(), 2u) << "the writer folded the WAL back";
  EXPECT_EQ(checkpointer_->checkpoints(), 0u) << "the thread never ran";
  auto count = writer_.query_row("SELECT count(*) FROM t");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->column_int64(0), commits * kRowsPerCommit);
}

// Every checkpoint ends in an fsync that competes with the commits' own, so past the first
// threshold the thread is woken once per step of frames, not after every commit.
TEST_F(CheckpointerTest, WakesTheThreadOncePerStepOfFramesNotPerCommit) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  // With the thread stopped the WAL never starts over, so the frame count only grows.
  checkpointer_->stop();

  // A page or two a commit, until the WAL holds three quarters of what the writer allows.
  constexpr std::uintmax_t kFrame = 4096 + 24;
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(3000, 'x') + "')";
  const std::string wal = path_ + "-wal";
  int commits = 0;
  std::uintmax_t frames = 0;
  while (frames < 3 * Checkpointer::kWriterCheckpointFrames / 4) {
    ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ++commits;
    frames = (std::filesystem::file_size(wal) - 32) / kFrame;
  }
  Checkpointer::detach(writer_);

  // Hundreds of commits passed the first threshold; the thread heard of them once per step.
  const std::uintmax_t steps =
      (frames - Checkpointer::kCheckpointFrames) / Checkpointer::kCheckpointStepFrames + 1;
  ASSERT_GT(commits, 500);
  EXPECT_GE(checkpointer_->wakeups_for_test(), 1u);
  EXPECT_LE(checkpointer_->wakeups_for_test(), steps);
}

// When the commits stop, frames the thread could not copy must not wait for the next commit:
// the writer would then have to checkpoint them itself, holding that commit up.
TEST_F(CheckpointerTest, CopiesWhatWasLeftBehindOnceTheCommitsStop) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(3000, 'x') + "')";
  const auto wait_until = [](const auto& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  };
  // A reader on an early snapshot keeps the checkpoint from copying what came after it.
  auto reader = Connection::open(path_, Connection::Mode::kReadOnly, 1000);
  ASSERT_TRUE(reader) << reader.status().message();
  ASSERT_TRUE(reader->exec("BEGIN").is_ok());
  ASSERT_TRUE(reader->query_row("SELECT count(*) FROM t"));

  // Commits up to the first wake-up; its checkpoint leaves most frames behind.
  while (checkpointer_->wakeups_for_test() == 0) ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
  ASSERT_TRUE(wait_until([&] { return checkpointer_->checkpoints() >= 1; }));
  ASSERT_GT(checkpointer_->uncopied_for_test(), 0);
  // Then the reader goes and no commit follows.
  ASSERT_TRUE(reader->exec("COMMIT").is_ok());

  EXPECT_TRUE(wait_until([&] { return checkpointer_->uncopied_for_test() == 0; }))
      << checkpointer_->uncopied_for_test() << " frames still waiting";
  EXPECT_EQ(checkpointer_->wakeups_for_test(), 1u) << "no commit woke the thread";
  Checkpointer::detach(writer_);
}

}  // namespace
}  // namespace handover::store
