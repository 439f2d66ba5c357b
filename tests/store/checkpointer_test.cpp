// The WAL stays bounded even when the checkpoint thread cannot keep up.
#include "checkpointer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "sqlite.hpp"

namespace handover::store {
namespace {

// Smaller than the store's default, to keep the tests short.
constexpr int kCheckpointFrames = 1000;

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
    Checkpointer::set_slice_sync_for_test(nullptr);
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
    Result<std::unique_ptr<Checkpointer>> started =
        Checkpointer::start(path_, "normal", 1000, kCheckpointFrames);
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
  const int commits = 3 * checkpointer_->writer_frames() / kRowsPerCommit;
  for (int c = 0; c < commits; ++c) {
    ASSERT_TRUE(writer_.exec("BEGIN").is_ok());
    for (int r = 0; r < kRowsPerCommit; ++r) ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ASSERT_TRUE(writer_.exec("COMMIT").is_ok());
    checkpointer_->checkpoint_if_due(writer_);
  }
  Checkpointer::detach(writer_);

  // A frame is a page plus its 24-byte header; allow one commit's frames past the limit.
  constexpr std::uintmax_t kFrame = 4096 + 24;
  const std::uintmax_t bound =
      (checkpointer_->writer_frames() + 4 * kRowsPerCommit) * kFrame + 32;
  EXPECT_LE(std::filesystem::file_size(path_ + "-wal"), bound);
  EXPECT_GE(checkpointer_->writer_checkpoints(), 2u) << "the writer folded the WAL back";
  EXPECT_EQ(checkpointer_->checkpoints(), 0u) << "the thread never ran";
  EXPECT_EQ(checkpointer_->paced_writebacks(), 0u) << "the writer's own writes are not paced";
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
  while (frames < static_cast<std::uintmax_t>(3 * checkpointer_->writer_frames() / 4)) {
    ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ++commits;
    frames = (std::filesystem::file_size(wal) - 32) / kFrame;
  }
  Checkpointer::detach(writer_);

  // Hundreds of commits passed the first threshold; the thread heard of them once per step.
  const std::uintmax_t steps =
      (frames - checkpointer_->checkpoint_frames()) / checkpointer_->step_frames() + 1;
  ASSERT_GT(commits, checkpointer_->step_frames());
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

// The thread hands its copies to the disk a slice at a time, waiting for each, instead of
// all at once in the checkpoint's final sync; and what it copied is in the file.
TEST_F(CheckpointerTest, WritesItsCopiesOutInSlicesOfKWritebackBytes) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  // Three pages of text a row: the first checkpoint copies some 4 MiB.
  constexpr std::uintmax_t kRowBytes = 12000;
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(kRowBytes, 'x') + "')";
  const std::uintmax_t size_before = std::filesystem::file_size(path_);
  std::uintmax_t rows = 0;
  while (checkpointer_->wakeups_for_test() == 0) {
    ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ++rows;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (checkpointer_->uncopied_for_test() != 0 || checkpointer_->checkpoints() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the thread never caught up";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Checkpointer::detach(writer_);

  const std::uintmax_t copied = std::filesystem::file_size(path_) - size_before;
  ASSERT_GE(copied, kRowBytes * rows);
  ASSERT_GE(copied, 8 * Checkpointer::kWritebackBytes);
  EXPECT_GE(checkpointer_->paced_writebacks(), copied / Checkpointer::kWritebackBytes - 1);
  EXPECT_LE(checkpointer_->paced_writebacks(), copied / Checkpointer::kWritebackBytes + 2);
}

std::atomic<int> g_failed_syncs{0};

int failing_sync(int /*fd*/, bool /*flush*/) {
  g_failed_syncs.fetch_add(1);
  errno = EIO;
  return -1;
}

// The kernel tells only one sync of an open file that its writeback failed. A slice's sync
// shares SQLite's fd, so a failure there must fail the checkpoint: swallowed, SQLite's own sync
// would succeed and the WAL could start over on pages the disk never took.
TEST_F(CheckpointerTest, AFailedSliceSyncFailsTheCheckpointAndTheNextOneCopiesAll) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  g_failed_syncs = 0;
  Checkpointer::set_slice_sync_for_test(&failing_sync);
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(12000, 'x') + "')";
  int rows = 0;
  while (checkpointer_->wakeups_for_test() == 0) {
    ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
    ++rows;
  }
  const auto wait_until = [](const auto& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  };
  ASSERT_TRUE(wait_until([&] { return checkpointer_->checkpoints() >= 1; }));
  EXPECT_GE(g_failed_syncs.load(), 1);
  EXPECT_EQ(checkpointer_->uncopied_for_test(), -1) << "the checkpoint reported success";
  EXPECT_EQ(checkpointer_->paced_writebacks(), 0u);

  // With the disk back, the thread tries again by itself and copies every frame.
  Checkpointer::set_slice_sync_for_test(nullptr);
  EXPECT_TRUE(wait_until([&] { return checkpointer_->uncopied_for_test() == 0; }))
      << checkpointer_->uncopied_for_test() << " frames still waiting";
  EXPECT_GT(checkpointer_->paced_writebacks(), 0u);
  Checkpointer::detach(writer_);
  auto reader = Connection::open(path_, Connection::Mode::kReadOnly, 1000);
  ASSERT_TRUE(reader) << reader.status().message();
  auto count = reader->query_row("SELECT count(*) FROM t");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->column_int64(0), rows);
}

std::atomic<int> g_flushed{0};
std::atomic<int> g_written_only{0};

int recording_sync(int fd, bool flush) {
  (flush ? g_flushed : g_written_only).fetch_add(1);
  return Checkpointer::sync_slice(fd, flush);
}

// A slice that ends in a flush spares the next commit's flush but costs the thread time: it
// flushes while the thread keeps up and only writes once it is behind.
TEST(CheckpointerSliceRule, FlushesOnlyWhileFewFramesWaitSinceTheLastCopies) {
  constexpr int kWindow = 16000;  // 2,000 frames behind is the limit
  EXPECT_TRUE(Checkpointer::flush_slice(0, 0, kWindow));
  EXPECT_TRUE(Checkpointer::flush_slice(1999, 0, kWindow));
  EXPECT_FALSE(Checkpointer::flush_slice(2000, 0, kWindow));
  EXPECT_TRUE(Checkpointer::flush_slice(21000, 20000, kWindow));
  EXPECT_FALSE(Checkpointer::flush_slice(24000, 20000, kWindow)) << "a step behind";
  // The WAL started over after the copies: only its new frames wait.
  EXPECT_TRUE(Checkpointer::flush_slice(500, 30000, kWindow));
  EXPECT_FALSE(Checkpointer::flush_slice(16000, 30000, kWindow));
}

TEST_F(CheckpointerTest, FlushesSlicesWhileItKeepsUpAndOnlyWritesThemWhenBehind) {
  ASSERT_NO_FATAL_FAILURE(open_writer_and_checkpointer());
  g_flushed = 0;
  g_written_only = 0;
  Checkpointer::set_slice_sync_for_test(&recording_sync);
  EXPECT_TRUE(checkpointer_->flushes_slices()) << "nothing waits";
  // Three frames a row: the thread's first wake-up finds a whole window of frames waiting.
  const std::string row = "INSERT INTO t (v) VALUES ('" + std::string(12000, 'x') + "')";
  while (checkpointer_->wakeups_for_test() == 0) ASSERT_TRUE(writer_.exec(row.c_str()).is_ok());
  EXPECT_FALSE(checkpointer_->flushes_slices());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (checkpointer_->checkpoints() == 0 || checkpointer_->uncopied_for_test() != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the thread never caught up";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(g_written_only.load(), 0);
  EXPECT_EQ(g_flushed.load(), 0);
  EXPECT_EQ(checkpointer_->flushed_slices(), 0u);
  // Caught up, it flushes again.
  EXPECT_TRUE(checkpointer_->flushes_slices());
  Checkpointer::detach(writer_);
}

}  // namespace
}  // namespace handover::store
