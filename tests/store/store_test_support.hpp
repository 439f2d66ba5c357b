// Helpers shared by the store tests: temporary directories, waiting for write callbacks,
// holding the writer inside a transaction, and a raw SQLite connection of the test's own.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "sqlite_store.hpp"

namespace handover::store {

// A fresh directory per test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "store_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The Result a write callback will deliver.
template <class T>
class Pending {
 public:
  Callback<T> callback() {
    return [promise = promise_](Result<T> result) { promise->set_value(std::move(result)); };
  }
  bool ready() const {
    return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
  Result<T> get() { return future_.get(); }

 private:
  std::shared_ptr<std::promise<Result<T>>> promise_ = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future_ = promise_->get_future();
};

// Holds the writer inside its next transaction (before COMMIT) until released.
class WriterGate {
 public:
  // Blocks the calling writer on first use only; later calls pass straight through.
  Status hold() {
    if (used_.exchange(true)) return Status::ok();
    held_.set_value();
    released_future_.wait();
    return Status::ok();
  }
  SqliteStore::BeforeCommitHook hook() {
    return [this](std::size_t) { return hold(); };
  }
  void wait_until_held() { held_future_.wait(); }
  void release() {
    if (!released_flag_.exchange(true)) released_.set_value();
  }

 private:
  std::atomic<bool> used_{false};
  std::atomic<bool> released_flag_{false};
  std::promise<void> held_;
  std::future<void> held_future_ = held_.get_future();
  std::promise<void> released_;
  std::shared_future<void> released_future_ = released_.get_future().share();
};

// Records each committed batch size.
class BatchLog {
 public:
  CommitObserver observer() {
    return [this](std::size_t size, double) {
      std::lock_guard lock(mutex_);
      sizes_.push_back(size);
    };
  }
  std::vector<std::size_t> sizes() {
    std::lock_guard lock(mutex_);
    return sizes_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::size_t> sizes_;
};

// A connection of the test's own, standing for another process.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK) << path;
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close(db_); }

  void exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
  }
  std::string query(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sql;
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }
  // The opcodes of the program SQLite compiles `sql` into, in order.
  std::vector<std::string> opcodes(const std::string& sql) {
    const std::string explain = "EXPLAIN " + sql;
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, explain.c_str(), -1, &statement, nullptr), SQLITE_OK)
        << explain << ": " << sqlite3_errmsg(db_);
    std::vector<std::string> opcodes;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      opcodes.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)));
    }
    sqlite3_finalize(statement);
    return opcodes;
  }

 private:
  sqlite3* db_ = nullptr;
};

// A store opened on a fresh file per test, with the hooks the tests use to steer the writer.
class StoreTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.path = dir_.file("handover.db");
    open_store();
  }
  void TearDown() override {
    gate_.release();  // a failed assertion must not leave the writer blocked
    store_.reset();
  }

  void open_store() {
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(options_, clock_);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    store_->set_commit_observer(batches_.observer());
  }
  void reopen_store() {
    store_.reset();
    open_store();
  }

  // Creates a conversation through the store and checks that it was stored.
  void create_stored(ConversationRecord record) {
    Pending<ConversationRecord> created;
    store_->create_conversation(std::move(record), created.callback());
    ASSERT_TRUE(created.get().is_ok());
  }

  // Queues the erasure of a customer, as an admin would ask for it.
  Pending<ErasureOutcome> erase_async(const std::string& customer) {
    ErasureRequest request;
    request.customer_id = customer;
    request.audit.actor_kind = "api_key";
    request.audit.actor_id = "ops";
    request.audit.action = "customer.erase";
    request.audit.reason = "admin";
    request.audit.customer_id = customer;  // must not be kept
    Pending<ErasureOutcome> erased;
    store_->erase_customer(std::move(request), erased.callback());
    return erased;
  }

  // Holds the writer inside a transaction holding one probe; returns once it is held.
  Pending<bool> hold_writer() {
    store_->set_before_commit_for_test(gate_.hook());
    Pending<bool> probe;
    store_->probe_writable(probe.callback());
    gate_.wait_until_held();
    return probe;
  }

  TempDir dir_;
  FakeClock clock_;
  StoreOptions options_;
  WriterGate gate_;
  BatchLog batches_;
  std::unique_ptr<SqliteStore> store_;
};

}  // namespace handover::store
