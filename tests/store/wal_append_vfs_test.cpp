// The WAL-append VFS writes a commit's frames in few system calls, and loses nothing on the
// way: other connections read every commit whole, and a failed write fails the commit.
#include "wal_append_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "sqlite.hpp"

namespace handover::store {
namespace {

// Counts the default VFS's pwrite calls and can make them fail, through the system-call
// table that SQLite's unix VFS lets a program replace.
using PwriteFunction = ssize_t (*)(int, const void*, size_t, off_t);
PwriteFunction g_previous = nullptr;
std::atomic<int> g_pwrites{0};
std::atomic<bool> g_fail{false};

ssize_t counting_pwrite(int fd, const void* data, size_t size, off_t offset) {
  g_pwrites.fetch_add(1);
  if (g_fail.load()) {
    errno = ENOSPC;
    return -1;
  }
  return g_previous(fd, data, size, offset);
}

class WalAppendVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(wal_append_vfs(), nullptr);
    vfs_ = sqlite3_vfs_find(nullptr);
    ASSERT_NE(vfs_, nullptr);
    for (const char* name : {"pwrite64", "pwrite"}) {
      sqlite3_syscall_ptr current = vfs_->xGetSystemCall(vfs_, name);
      if (current == nullptr) continue;
      g_previous = reinterpret_cast<PwriteFunction>(current);
      ASSERT_EQ(vfs_->xSetSystemCall(vfs_, name,
                                     reinterpret_cast<sqlite3_syscall_ptr>(&counting_pwrite)),
                SQLITE_OK);
      replaced_ = name;
      break;
    }
    ASSERT_NE(replaced_, nullptr) << "the default VFS does not let pwrite be replaced";
    dir_ = std::filesystem::temp_directory_path() /
           ("handover-walvfs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "w.db").string();
  }

  void TearDown() override {
    g_fail = false;
    if (replaced_ != nullptr) {
      vfs_->xSetSystemCall(vfs_, replaced_, reinterpret_cast<sqlite3_syscall_ptr>(g_previous));
    }
    std::filesystem::remove_all(dir_);
  }

  // A connection in WAL mode with synchronous=FULL, through `vfs` (null: the default).
  static Connection open_writer(const std::string& path, const char* vfs) {
    Result<Connection> db = Connection::open(path, Connection::Mode::kReadWrite, 1000, vfs);
    EXPECT_TRUE(db) << db.status().message();
    if (!db) return Connection{};
    EXPECT_TRUE(db->query_row("PRAGMA journal_mode = WAL"));
    EXPECT_TRUE(db->exec("PRAGMA synchronous = FULL").is_ok());
    EXPECT_TRUE(db->exec("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)").is_ok());
    return std::move(db).value();
  }

  static std::int64_t count_rows(Connection& db) {
    Result<Statement> row = db.query_row("SELECT count(*) FROM t");
    EXPECT_TRUE(row) << row.status().message();
    return row ? row->column_int64(0) : -1;
  }

  static std::string integrity(Connection& db) {
    Result<Statement> row = db.query_row("PRAGMA integrity_check");
    EXPECT_TRUE(row) << row.status().message();
    std::string out;
    if (row) row->column_text(0, out);
    return out;
  }

  // Inserts `rows` rows of `bytes` bytes each in one transaction; the pwrite calls it made.
  static int insert_rows(Connection& db, int first, int rows, int bytes) {
    const int before = g_pwrites.load();
    EXPECT_TRUE(db.exec("BEGIN").is_ok());
    Result<Statement> insert = db.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
    EXPECT_TRUE(insert);
    const std::string value(static_cast<std::size_t>(bytes), 'x');
    for (int k = first; k < first + rows; ++k) {
      insert->bind(1, k);
      insert->bind(2, value);
      EXPECT_EQ(insert->step(), SQLITE_DONE);
      insert->reset();
    }
    EXPECT_TRUE(db.exec("COMMIT").is_ok());
    return g_pwrites.load() - before;
  }

  sqlite3_vfs* vfs_ = nullptr;
  const char* replaced_ = nullptr;
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(WalAppendVfsTest, WritesACommitsFramesInFewCalls) {
  // 20 rows of 3,000 bytes: 20 pages or more, each a frame header and a page, 40+ writes.
  Connection plain = open_writer((dir_ / "plain.db").string(), nullptr);
  const int plain_writes = insert_rows(plain, 1, 20, 3000);
  Connection gathered = open_writer(path_, wal_append_vfs());
  const int gathered_writes = insert_rows(gathered, 1, 20, 3000);

  EXPECT_GE(plain_writes, 40);
  // The frames fill under 124 KiB: one run, plus the WAL header of the first commit.
  EXPECT_LE(gathered_writes, 3);
  EXPECT_EQ(count_rows(gathered), 20);
}

// Each call on a WAL file sees the bytes gathered before it, and they reach the file in order.
TEST_F(WalAppendVfsTest, EveryCallOnAWalFileSeesTheGatheredBytes) {
  {
    Connection db = open_writer(path_, nullptr);  // the database a WAL file belongs to
  }
  sqlite3_vfs* vfs = sqlite3_vfs_find(wal_append_vfs());
  ASSERT_NE(vfs, nullptr);
  const std::string wal_path = path_ + "-wal";
  sqlite3_filename names =
      sqlite3_create_filename(path_.c_str(), "", wal_path.c_str(), 0, nullptr);
  ASSERT_NE(names, nullptr);
  auto memory = std::make_unique<std::max_align_t[]>(
      static_cast<std::size_t>(vfs->szOsFile) / sizeof(std::max_align_t) + 1);
  auto* file = reinterpret_cast<sqlite3_file*>(memory.get());
  int out_flags = 0;
  ASSERT_EQ(vfs->xOpen(vfs, sqlite3_filename_wal(names), file,
                       SQLITE_OPEN_WAL | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &out_flags),
            SQLITE_OK);
  const sqlite3_io_methods* io = file->pMethods;
  const std::string header(24, 'h');
  const std::string page(4096, 'p');
  auto write_frame = [&](sqlite3_int64 offset) {
    ASSERT_EQ(io->xWrite(file, header.data(), 24, offset), SQLITE_OK);
    ASSERT_EQ(io->xWrite(file, page.data(), 4096, offset + 24), SQLITE_OK);
  };
  auto file_bytes = [&] {
    std::ifstream in(wal_path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };

  // Appends wait in memory; a read flushes them first.
  const int before = g_pwrites.load();
  write_frame(0);
  write_frame(4120);
  EXPECT_EQ(g_pwrites.load() - before, 0);
  std::string back(4096, '\0');
  ASSERT_EQ(io->xRead(file, back.data(), 4096, 4120 + 24), SQLITE_OK);
  EXPECT_EQ(back, page);
  EXPECT_EQ(g_pwrites.load() - before, 1);

  // The size counts them.
  write_frame(8240);
  sqlite3_int64 size = 0;
  ASSERT_EQ(io->xFileSize(file, &size), SQLITE_OK);
  EXPECT_EQ(size, 12360);

  // A write that does not continue the run comes after it, not before.
  write_frame(12360);
  ASSERT_EQ(io->xWrite(file, "Z", 1, 12360), SQLITE_OK);
  ASSERT_EQ(io->xSync(file, SQLITE_SYNC_NORMAL), SQLITE_OK);
  std::string bytes = file_bytes();
  ASSERT_EQ(bytes.size(), 16480u);
  EXPECT_EQ(bytes[12360], 'Z');
  EXPECT_EQ(bytes.substr(12360 + 24, 4096), page);

  // A truncation cuts what was gathered before it, and the close writes the rest.
  write_frame(16480);
  ASSERT_EQ(io->xTruncate(file, 4120), SQLITE_OK);
  write_frame(4120);
  ASSERT_EQ(io->xClose(file), SQLITE_OK);
  bytes = file_bytes();
  ASSERT_EQ(bytes.size(), 8240u);
  EXPECT_EQ(bytes.substr(4120, 24), header);
  EXPECT_EQ(bytes.substr(4144, 4096), page);
  sqlite3_free_filename(names);
}

TEST_F(WalAppendVfsTest, OtherConnectionsReadEveryCommitWhole) {
  Connection writer = open_writer(path_, wal_append_vfs());
  Result<Connection> reader = Connection::open(path_, Connection::Mode::kReadOnly, 1000);
  ASSERT_TRUE(reader) << reader.status().message();

  // Commits of one run, of several runs (over 124 KiB), and after the WAL started over.
  insert_rows(writer, 1, 5, 100);
  EXPECT_EQ(count_rows(*reader), 5);
  insert_rows(writer, 6, 150, 2000);
  EXPECT_EQ(count_rows(*reader), 155);
  ASSERT_TRUE(writer.exec("PRAGMA wal_checkpoint(TRUNCATE)").is_ok());
  insert_rows(writer, 156, 60, 3000);
  EXPECT_EQ(count_rows(*reader), 215);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalAppendVfsTest, TransactionsThatSpillAndRewritePagesStayWhole) {
  Connection writer = open_writer(path_, wal_append_vfs());
  // A cache of a few pages spills frames into the WAL before the commit; updating the rows
  // again rewrites frames already written in place, which then are read back.
  ASSERT_TRUE(writer.exec("PRAGMA cache_size = 8").is_ok());
  ASSERT_TRUE(writer.exec("BEGIN").is_ok());
  Result<Statement> insert = writer.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
  ASSERT_TRUE(insert);
  for (int k = 1; k <= 400; ++k) {
    insert->bind(1, k);
    insert->bind(2, std::string(900, static_cast<char>('a' + k % 26)));
    ASSERT_EQ(insert->step(), SQLITE_DONE);
    insert->reset();
  }
  ASSERT_TRUE(writer.exec("UPDATE t SET v = upper(v) WHERE k % 3 = 0").is_ok());
  ASSERT_TRUE(writer.exec("COMMIT").is_ok());

  Result<Connection> reader = Connection::open(path_, Connection::Mode::kReadOnly, 1000);
  ASSERT_TRUE(reader) << reader.status().message();
  Result<Statement> upper =
      reader->query_row("SELECT count(*) FROM t WHERE v = upper(v) AND k % 3 = 0");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->column_int64(0), 133);
  EXPECT_EQ(count_rows(*reader), 400);
  EXPECT_EQ(integrity(*reader), "ok");
}

TEST_F(WalAppendVfsTest, AFailedWriteFailsTheCommitAndKeepsWhatWasCommitted) {
  Connection writer = open_writer(path_, wal_append_vfs());
  insert_rows(writer, 1, 10, 500);

  g_fail = true;
  ASSERT_TRUE(writer.exec("BEGIN").is_ok());
  ASSERT_TRUE(writer.exec("INSERT INTO t (k, v) VALUES (100, 'lost')").is_ok());
  Status commit = writer.exec("COMMIT");
  g_fail = false;
  EXPECT_FALSE(commit.is_ok());
  if (writer.in_transaction()) {
    ASSERT_TRUE(writer.exec("ROLLBACK").is_ok());
  }

  // The connection goes on, and nothing of the failed commit is there.
  insert_rows(writer, 11, 5, 500);
  writer = Connection{};
  Result<Connection> reader = Connection::open(path_, Connection::Mode::kReadOnly, 1000);
  ASSERT_TRUE(reader) << reader.status().message();
  EXPECT_EQ(count_rows(*reader), 15);
  Result<Statement> lost = reader->query_row("SELECT count(*) FROM t WHERE k = 100");
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->column_int64(0), 0);
  EXPECT_EQ(integrity(*reader), "ok");
}

}  // namespace
}  // namespace handover::store
