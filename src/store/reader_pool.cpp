// The pool of read-only connections behind get_conversation and list_turns.
#include "reader_pool.hpp"

#include <sqlite3.h>

#include <utility>

#include "evaluation_packing.hpp"

namespace handover::store {
namespace {

Result<std::unique_ptr<Reader>> open_reader(const std::string& path, int busy_timeout_ms) {
  Result<Connection> db = Connection::open(path, Connection::Mode::kReadOnly, busy_timeout_ms);
  if (!db) return db.status();
  if (int rc = define_evaluation_function(db->handle()); rc != SQLITE_OK) {
    return sqlite_error(db->handle(), rc, "define turn_evaluation()");
  }
  Result<ReaderStatements> statements = ReaderStatements::prepare(*db);
  if (!statements) return statements.status();

  auto reader = std::make_unique<Reader>();
  reader->db = std::move(db).value();
  reader->statements = std::move(statements).value();
  return reader;
}

}  // namespace

Result<std::unique_ptr<ReaderPool>> ReaderPool::open(const std::string& path, int count,
                                                     int busy_timeout_ms) {
  std::unique_ptr<ReaderPool> pool(new ReaderPool());
  pool->idle_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    Result<std::unique_ptr<Reader>> reader = open_reader(path, busy_timeout_ms);
    if (!reader) return reader.status();
    pool->idle_.push_back(std::move(reader).value());
  }
  return pool;
}

ReaderPool::Lease ReaderPool::acquire() {
  std::unique_lock lock(mutex_);
  idle_changed_.wait(lock, [this] { return !idle_.empty(); });
  std::unique_ptr<Reader> reader = std::move(idle_.back());
  idle_.pop_back();
  return Lease(*this, std::move(reader));
}

void ReaderPool::release(std::unique_ptr<Reader> reader) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(reader));  // capacity was reserved for the whole pool
  }
  idle_changed_.notify_one();
}

ReadSnapshot::~ReadSnapshot() {
  if (!begun_) return;
  // Ending a transaction that only read cannot fail in a way worth reporting.
  reader_.statements.end_read.step();
  reader_.statements.end_read.reset();
}

Status ReadSnapshot::begin() {
  Statement& start = reader_.statements.begin_read;
  int rc = start.step();
  start.reset();
  if (rc != SQLITE_DONE) return sqlite_error(reader_.db.handle(), rc, "begin read");
  begun_ = true;
  return Status::ok();
}

}  // namespace handover::store
