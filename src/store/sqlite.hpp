// Thin RAII layer over the SQLite C API: connections, prepared statements and the one place
// where SQLite result codes become handover::Status values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "handover/util/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace handover::store {

// Translates a failed SQLite call into a Status naming the operation, SQLite's message and
// its (extended) code. BUSY, LOCKED, FULL and IOERR become Unavailable, anything else
// Internal: a CONSTRAINT
// failure too, since the writes that expect one (a reused client turn id) test for its code
// themselves. `db` may be null (then only the code's generic text is used).
Status sqlite_error(sqlite3* db, int rc, std::string_view operation);

// One prepared statement, finalised on destruction. Binding failures are remembered and
// reported by the next step(), so call sites check one result code.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQL. Text is bound without copying: the bytes must stay
  // alive and unchanged until the statement is reset.
  void bind(int index, std::int64_t value);
  void bind(int index, std::string_view text);
  void bind_text_or_null(int index, std::string_view text);  // "" binds NULL
  void bind_blob_or_null(int index, std::string_view bytes);  // "" binds NULL
  void bind_null(int index);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Ends the current execution so the statement holds no read snapshot; keeps bindings.
  void reset();

  std::int64_t column_int64(int index) const;
  // Copies the column into `out`, reusing its capacity; NULL reads as "".
  void column_text(int index, std::string& out) const;

  sqlite3* db() const { return db_; }
  const char* sql() const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = 0;
};

// Resets a statement when the scope ends, whatever path leaves it.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { statement_.reset(); }

 private:
  Statement& statement_;
};

// One SQLite connection, closed on destruction. Used by one thread at a time (the library
// is opened in multi-thread mode: no per-connection mutex).
class Connection {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  Connection() = default;
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Opens `path` (creating the file in kReadWrite mode), with extended result codes, the
  // given busy timeout and foreign keys on, through the VFS named `vfs` (null: the default).
  static Result<Connection> open(const std::string& path, Mode mode, int busy_timeout_ms,
                                 const char* vfs = nullptr);

  // Runs one or more SQL statements that return no rows needed by the caller. An error
  // names `operation`, or the SQL itself when that is empty.
  Status exec(const char* sql, std::string_view operation = {});
  // Prepares and steps a statement that must return a row; the result is positioned on that
  // row for the caller to read, e.g. a PRAGMA reporting its new setting.
  Result<Statement> query_row(const char* sql);
  Result<Statement> prepare(const char* sql);

  // True while a transaction is open (SQLite may roll one back by itself after an error).
  bool in_transaction() const;
  // The rowid of the most recent successful INSERT on this connection.
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_ = nullptr;
};

}  // namespace handover::store
