// A fixed pool of read-only SQLite connections, so reads run beside the writer (WAL) and
// never touch the writer's connection.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sqlite.hpp"
#include "statements.hpp"

namespace handover::store {

// One read-only connection with its prepared statements.
struct Reader {
  Connection db;  // declared first so it is closed after the statements
  ReaderStatements statements;
};

// Thread-safe. Connections are opened up front by open(); acquire() lends one out.
class ReaderPool {
 public:
  // Returns a connection to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Reader> reader)
        : pool_(pool), reader_(std::move(reader)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.release(std::move(reader_)); }

    Reader& operator*() const { return *reader_; }
    Reader* operator->() const { return reader_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Reader> reader_;
  };

  // Opens `count` read-only connections to `path`, which must already hold the schema.
  // Fails with the first connection's error.
  static Result<std::unique_ptr<ReaderPool>> open(const std::string& path, int count,
                                                  int busy_timeout_ms);

  // Blocks until a connection is idle. Callable from any thread.
  Lease acquire();

 private:
  ReaderPool() = default;
  void release(std::unique_ptr<Reader> reader);

  std::mutex mutex_;
  std::condition_variable idle_changed_;
  std::vector<std::unique_ptr<Reader>> idle_;  // guarded by mutex_
};

// One read transaction on a reader, so that several statements see the same commit. Ends
// when it goes out of scope.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Reader& reader) : reader_(reader) {}
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot();

  Status begin();

 private:
  Reader& reader_;
  bool begun_ = false;
};

}  // namespace handover::store
