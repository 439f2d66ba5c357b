// The store's page cache: commits after B-tree splits no longer pass on truncations that have
// nothing to remove, and truncations that do remove pages (a rollback) still reach SQLite.
#include "page_cache.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "sqlite.hpp"

namespace handover::store {
namespace {

class PageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("handover-pcache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Connection open_db() {
    Result<Connection> db =
        Connection::open((dir_ / "t.db").string(), Connection::Mode::kReadWrite, 1000);
    EXPECT_TRUE(db.is_ok()) << db.status().message();
    Connection connection = std::move(db).value();
    EXPECT_TRUE(connection.exec("PRAGMA journal_mode = WAL").is_ok());
    EXPECT_TRUE(connection.exec("PRAGMA cache_size = -32768").is_ok());
    EXPECT_TRUE(connection.exec("PRAGMA synchronous = OFF").is_ok());  // no disk waits
    EXPECT_TRUE(connection
                    .exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k BLOB NOT NULL, "
                          "v TEXT NOT NULL); CREATE INDEX IF NOT EXISTS t_by_k ON t (k)")
                    .is_ok());
    return connection;
  }

  // Inserts `rows` rows in transactions of `per_commit`, with random index keys, so that the
  // index splits pages all over; returns the sum of the ids inserted.
  static std::int64_t insert_random(Connection& db, int rows, int per_commit,
                                    std::mt19937_64& random, std::size_t value_bytes = 60) {
    Result<Statement> insert = db.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
    EXPECT_TRUE(insert.is_ok());
    std::int64_t sum = 0;
    for (int done = 0; done < rows;) {
      EXPECT_TRUE(db.exec("BEGIN").is_ok());
      for (int i = 0; i < per_commit && done < rows; ++i, ++done) {
        std::string key(24, '\0');
        for (char& c : key) c = static_cast<char>(random());
        insert->bind(1, key);
        insert->bind(2, std::string(value_bytes, static_cast<char>('a' + done % 26)));
        EXPECT_EQ(insert->step(), SQLITE_DONE);
        insert->reset();
        sum += db.last_insert_rowid();
      }
      EXPECT_TRUE(db.exec("COMMIT").is_ok());
    }
    return sum;
  }

  static std::string integrity(Connection& db) {
    Result<Statement> row = db.query_row("PRAGMA integrity_check");
    if (!row.is_ok()) return row.status().message();
    std::string text;
    row->column_text(0, text);
    return text;
  }

  static std::int64_t scalar(Connection& db, const char* sql) {
    Result<Statement> row = db.query_row(sql);
    EXPECT_TRUE(row.is_ok());
    return row.is_ok() ? row->column_int64(0) : -1;
  }

  std::filesystem::path dir_;
};

TEST_F(PageCacheTest, IsInstalledBeforeTheFirstConnection) {
  Connection db = open_db();
  EXPECT_TRUE(page_cache_installed());
}

TEST_F(PageCacheTest, CommitsAfterSplitsPassOnNoTruncation) {
  Connection db = open_db();
  ASSERT_TRUE(page_cache_installed());
  std::mt19937_64 random(7);
  insert_random(db, 2000, 100, random);  // an index of some hundred pages

  const PageCacheCounts before = page_cache_counts();
  const std::int64_t sum = insert_random(db, 20000, 20, random);
  const PageCacheCounts after = page_cache_counts();

  // The splits parked pages (which made SQLite's own cache walk all of itself at each of the
  // 1,000 commits that followed), and no commit passed a truncation on.
  EXPECT_GT(after.pages_parked - before.pages_parked, 50u);
  EXPECT_GE(after.truncations_skipped - before.truncations_skipped, 1000u);
  EXPECT_EQ(after.truncations_passed, before.truncations_passed);

  EXPECT_EQ(integrity(db), "ok");
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 22000);
  EXPECT_EQ(scalar(db, "SELECT sum(id) FROM t WHERE id > 2000"), sum);
  // Every row is found through the index as well as through the table.
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t INDEXED BY t_by_k WHERE k >= ''"), 22000);
}

TEST_F(PageCacheTest, RollbackDropsThePagesItAdded) {
  Connection db = open_db();
  ASSERT_TRUE(page_cache_installed());
  std::mt19937_64 random(11);
  const std::int64_t kept = insert_random(db, 1000, 100, random);
  const std::int64_t pages = scalar(db, "PRAGMA page_count");

  // A transaction that grows the file by hundreds of pages, then is rolled back: the cache
  // must lose those pages, so SQLite's truncation is passed on.
  const PageCacheCounts before = page_cache_counts();
  ASSERT_TRUE(db.exec("BEGIN").is_ok());
  Result<Statement> insert = db.prepare("INSERT INTO t (k, v) VALUES (randomblob(24), ?)");
  ASSERT_TRUE(insert.is_ok());
  for (int i = 0; i < 3000; ++i) {
    insert->bind(1, std::string(500, '#'));
    ASSERT_EQ(insert->step(), SQLITE_DONE);
    insert->reset();
  }
  ASSERT_GT(scalar(db, "PRAGMA page_count"), pages + 300);
  ASSERT_TRUE(db.exec("ROLLBACK").is_ok());
  EXPECT_GT(page_cache_counts().truncations_passed, before.truncations_passed);
  EXPECT_EQ(scalar(db, "PRAGMA page_count"), pages);

  // The pages are numbered again by the next transaction that grows the file: what is read
  // back is what that transaction wrote, not the rolled-back rows.
  const std::int64_t added = insert_random(db, 3000, 3000, random, 400);
  EXPECT_EQ(integrity(db), "ok");
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 4000);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t WHERE v GLOB '#*'"), 0);
  EXPECT_EQ(scalar(db, "SELECT sum(id) FROM t"), kept + added);

  // A second connection, with a cache of its own, reads the same.
  Connection other = open_db();
  EXPECT_EQ(integrity(other), "ok");
  EXPECT_EQ(scalar(other, "SELECT sum(id) FROM t"), kept + added);
}

}  // namespace
}  // namespace handover::store
