// RAII wrappers over the SQLite C API and the translation of its errors into Status.
#include "sqlite.hpp"

#include <sqlite3.h>

#include <limits>
#include <utility>

#include "page_cache.hpp"

namespace handover::store {
namespace {

StatusCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    // A full or failing disk may recover (space freed, a volume grown): worth a retry.
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return StatusCode::kUnavailable;
    // A constraint the caller expects to fail (a client's reused id, say) is checked by its
    // own code where it is written; any other is the store's fault, not the client's.
    default:
      return StatusCode::kInternal;
  }
}

int open_flags(Connection::Mode mode) {
  // NOMUTEX: each connection is confined to one thread at a time by its owner.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (mode == Connection::Mode::kReadOnly) return flags | SQLITE_OPEN_READONLY;
  return flags | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
}

}  // namespace

Status sqlite_error(sqlite3* db, int rc, std::string_view operation) {
  std::string message = "sqlite: ";
  message.append(operation);
  message += ": ";
  // The connection's message is more specific, but only if it describes this very failure.
  bool own_message = db != nullptr && sqlite3_extended_errcode(db) == rc;
  message += own_message ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (code ";
  message += std::to_string(rc);
  message += ")";
  return Status(code_for(rc), std::move(message));
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(std::exchange(other.bind_rc_, 0)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = std::exchange(other.bind_rc_, 0);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::bind(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = SQLITE_TOOBIG;
    return;
  }
  // A non-null pointer even for "" so that an empty string binds as text, not NULL.
  const char* data = text.empty() ? "" : text.data();
  int rc = sqlite3_bind_text(stmt_, index, data, static_cast<int>(text.size()), SQLITE_STATIC);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::bind_text_or_null(int index, std::string_view text) {
  if (!text.empty()) {
    bind(index, text);
    return;
  }
  bind_null(index);
}

void Statement::bind_blob_or_null(int index, std::string_view bytes) {
  if (bytes.empty()) {
    bind_null(index);
    return;
  }
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = SQLITE_TOOBIG;
    return;
  }
  int rc = sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                             SQLITE_STATIC);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

int Statement::step() {
  if (bind_rc_ != SQLITE_OK) return std::exchange(bind_rc_, SQLITE_OK);
  return sqlite3_step(stmt_);
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  bind_rc_ = SQLITE_OK;
}

std::int64_t Statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }

void Statement::column_text(int index, std::string& out) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (text == nullptr) {
    out.clear();
    return;
  }
  out.assign(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

const char* Statement::sql() const { return sqlite3_sql(stmt_); }

Connection::Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

// close_v2: should a statement outlive its connection, the handle lingers until it is finalised.
Connection::~Connection() { sqlite3_close_v2(db_); }

Result<Connection> Connection::open(const std::string& path, Mode mode, int busy_timeout_ms,
                                   const char* vfs) {
  install_page_cache();  // before SQLite initialises itself
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, open_flags(mode), vfs);
  Connection connection(raw);  // closes the handle on every path, even a failed open
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "open " + path);

  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (Status status = connection.exec("PRAGMA foreign_keys = ON"); !status.is_ok()) {
    return status;
  }
  return connection;
}

Status Connection::exec(const char* sql, std::string_view operation) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, operation.empty() ? sql : operation);
  return Status::ok();
}

Result<Statement> Connection::query_row(const char* sql) {
  Result<Statement> statement = prepare(sql);
  if (!statement) return statement;

  int rc = statement->step();
  if (rc == SQLITE_DONE) return Status::internal(std::string("sqlite: ") + sql + ": no row");
  if (rc != SQLITE_ROW) return sqlite_error(db_, rc, sql);
  return statement;
}

Result<Statement> Connection::prepare(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, std::string("prepare ") + sql);
  return Statement(db_, raw);
}

bool Connection::in_transaction() const { return db_ != nullptr && !sqlite3_get_autocommit(db_); }

std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace handover::store
