// The SQLite store: opening and migrating the database, the group-commit writer thread and
// the pooled readers.
#include "sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "handover/util/clock.hpp"
#include "schema.hpp"

namespace handover::store {
namespace {

constexpr const char* kInitialState = "bot";
constexpr int kMaxReadConnections = 64;

Status check_options(const StoreOptions& options) {
  if (options.path.empty()) return Status::invalid_argument("store: database path is empty");
  if (options.path == ":memory:" || options.path.starts_with("file:")) {
    return Status::invalid_argument("store: path must name a file, not " + options.path);
  }
  if (options.synchronous != "full" && options.synchronous != "normal") {
    return Status::invalid_argument("store: synchronous must be \"full\" or \"normal\", not \"" +
                                    options.synchronous + "\"");
  }
  if (options.busy_timeout_ms < 0) {
    return Status::invalid_argument("store: busy_timeout_ms must not be negative");
  }
  if (options.read_connections < 1 || options.read_connections > kMaxReadConnections) {
    return Status::invalid_argument("store: read_connections must be between 1 and " +
                                    std::to_string(kMaxReadConnections));
  }
  if (options.max_batch == 0 || options.max_queue == 0) {
    return Status::invalid_argument("store: max_batch and max_queue must be positive");
  }
  return Status::ok();
}

Status ensure_parent_directory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::ok();

  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    return Status::internal("store: cannot create directory " + parent.string() + " for database " +
                            path + ": " + error.message());
  }
  return Status::ok();
}

// Journal mode and durability are per database (WAL) or per connection (the rest).
Status configure_writer(Connection& db, const StoreOptions& options) {
  Result<Statement> mode = db.query_row("PRAGMA journal_mode = WAL");
  if (!mode) return mode.status();
  std::string reported;
  mode->column_text(0, reported);
  if (reported != "wal") {
    return Status::internal("store: the database refused WAL mode (journal_mode is " + reported +
                            ")");
  }
  return db.exec(options.synchronous == "full" ? "PRAGMA synchronous = FULL"
                                               : "PRAGMA synchronous = NORMAL");
}

Result<Connection> open_writer(const StoreOptions& options, const Clock& clock) {
  Result<Connection> db =
      Connection::open(options.path, Connection::Mode::kReadWrite, options.busy_timeout_ms);
  if (!db) return db.status();
  if (Status status = configure_writer(*db, options); !status.is_ok()) return status;
  if (Status status = migrate(*db, clock.now_ms()); !status.is_ok()) return status;
  return db;
}

Status with_path(const Status& status, const std::string& path) {
  return Status(status.code(), "store: cannot open " + path + ": " + status.message());
}

// Every request of a failed transaction gets the same answer: Unavailable when the
// database was busy (worth retrying), Internal otherwise.
Status batch_failure(const Status& cause, std::size_t batch_size) {
  StatusCode code =
      cause.code() == StatusCode::kUnavailable ? StatusCode::kUnavailable : StatusCode::kInternal;
  return Status(code, "store: transaction of " + std::to_string(batch_size) +
                          " writes rolled back: " + cause.message());
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options, const Clock& clock) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(options, clock);
  if (!store) return store.status();
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const StoreOptions& options,
                                                       const Clock& clock) {
  if (Status status = check_options(options); !status.is_ok()) return status;
  if (Status status = ensure_parent_directory(options.path); !status.is_ok()) return status;

  Result<Connection> writer_db = open_writer(options, clock);
  if (!writer_db) return with_path(writer_db.status(), options.path);
  Result<WriterStatements> writer = WriterStatements::prepare(*writer_db);
  if (!writer) return with_path(writer.status(), options.path);
  Result<std::unique_ptr<ReaderPool>> readers =
      ReaderPool::open(options.path, options.read_connections, options.busy_timeout_ms);
  if (!readers) return with_path(readers.status(), options.path);

  std::unique_ptr<SqliteStore> store(new SqliteStore(options, clock, std::move(writer_db).value(),
                                                     std::move(writer).value(),
                                                     std::move(readers).value()));
  store->writer_thread_ = std::thread([raw = store.get()] { raw->run_writer(); });
  return store;
}

SqliteStore::SqliteStore(const StoreOptions& options, const Clock& clock, Connection writer_db,
                         WriterStatements writer, std::unique_ptr<ReaderPool> readers)
    : options_(options),
      clock_(clock),
      writer_db_(std::move(writer_db)),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {}

SqliteStore::~SqliteStore() { close(); }

// ---- Submitting writes -------------------------------------------------------------------

void SqliteStore::create_conversation(ConversationRecord record,
                                      Callback<ConversationRecord> done) {
  submit(WriteOp(std::in_place_type<CreateOp>, std::move(record), std::move(done)));
}

void SqliteStore::append_turn(AppendTurnRequest request, Callback<AppendTurnOutcome> done) {
  WriteOp op(std::in_place_type<AppendOp>);  // built in place: a turn is moved once here
  AppendOp& append = std::get<AppendOp>(op);
  append.turn = std::move(request.turn);
  append.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::probe_writable(Callback<bool> done) {
  submit(WriteOp(std::in_place_type<ProbeOp>, std::move(done)));
}

void SqliteStore::submit(WriteOp&& op) {
  assert(std::visit([](const auto& request) { return static_cast<bool>(request.done); }, op) &&
         "a write needs a callback");
  std::unique_lock lock(mutex_);
  if (closing_ || queue_.size() >= options_.max_queue) {
    Status refusal =
        Status::unavailable(closing_ ? "store: closed to writes" : "store: write queue is full");
    lock.unlock();
    std::visit([&refusal](auto& refused) { finish(refused, refusal); }, op);
    return;
  }
  queue_.push(std::move(op));
  queue_depth_.store(queue_.size(), std::memory_order_relaxed);
  lock.unlock();
  work_ready_.notify_one();
}

void SqliteStore::finish(CreateOp& op, const Status& failure) {
  if (!failure.is_ok()) {
    op.done(failure);
  } else if (!op.status.is_ok()) {
    op.done(std::move(op.status));
  } else {
    op.done(std::move(op.record));
  }
}

void SqliteStore::finish(AppendOp& op, const Status& failure) {
  if (!failure.is_ok()) {
    op.done(failure);
  } else if (!op.status.is_ok()) {
    op.done(std::move(op.status));
  } else {
    op.done(AppendTurnOutcome{op.kind, std::move(op.turn), std::move(op.conversation_state)});
  }
}

void SqliteStore::finish(ProbeOp& op, const Status& failure) {
  if (!failure.is_ok()) {
    op.done(failure);
  } else {
    op.done(true);
  }
}

void SqliteStore::set_commit_observer(CommitObserver observer) {
  auto shared = observer ? std::make_shared<const CommitObserver>(std::move(observer)) : nullptr;
  std::lock_guard lock(mutex_);
  observer_ = std::move(shared);
}

void SqliteStore::set_before_commit_for_test(BeforeCommitHook hook) {
  auto shared = hook ? std::make_shared<const BeforeCommitHook>(std::move(hook)) : nullptr;
  std::lock_guard lock(mutex_);
  hook_ = std::move(shared);
}

StoreStats SqliteStore::stats() const {
  StoreStats stats;
  stats.commits = commits_.load(std::memory_order_relaxed);
  stats.committed_requests = committed_requests_.load(std::memory_order_relaxed);
  stats.failed_commits = failed_commits_.load(std::memory_order_relaxed);
  stats.queue_depth = queue_depth_.load(std::memory_order_relaxed);
  stats.last_batch_size = last_batch_size_.load(std::memory_order_relaxed);
  return stats;
}

void SqliteStore::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_ready_.notify_one();

  std::lock_guard join_lock(join_mutex_);
  assert(std::this_thread::get_id() != writer_thread_.get_id() &&
         "close() from a write callback would wait for itself");
  if (writer_thread_.joinable()) writer_thread_.join();
}

// ---- The writer thread ------------------------------------------------------------------

void SqliteStore::run_writer() {
  while (take_batch()) run_batch();
  shut_down_writer();
}

// Waits for work and takes everything queued, up to max_batch. False once closing and
// drained.
bool SqliteStore::take_batch() {
  std::unique_lock lock(mutex_);
  work_ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
  if (queue_.empty()) return false;

  queue_.take(batch_, options_.max_batch);
  queue_depth_.store(queue_.size(), std::memory_order_relaxed);
  batch_observer_ = observer_;
  batch_hook_ = hook_;
  return true;
}

// Commits the batch, then answers every request: callbacks run only after COMMIT returned.
void SqliteStore::run_batch() {
  bool probes_only = std::all_of(batch_.begin(), batch_.end(), [](const WriteOp& op) {
    return std::holds_alternative<ProbeOp>(op);
  });
  auto started = std::chrono::steady_clock::now();

  Status failure = write_batch(probes_only);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  record_batch(failure, probes_only, elapsed.count());

  for (WriteOp& op : batch_) {
    std::visit([&failure](auto& done) { finish(done, failure); }, op);
  }
  batch_.clear();  // drops the callbacks and whatever they hold right away
}

// OK when the transaction committed. Otherwise it is rolled back and the Status is what
// every request of the batch is told.
Status SqliteStore::write_batch(bool probes_only) {
  Status status = Status::ok();
  int rc = writer_.begin.step();
  writer_.begin.reset();
  if (rc != SQLITE_DONE) status = sqlite_error(writer_db_.handle(), rc, "BEGIN IMMEDIATE");

  if (status.is_ok()) status = apply_batch();
  if (status.is_ok() && batch_hook_) status = (*batch_hook_)(batch_.size());
  if (status.is_ok()) status = finish_transaction(probes_only);
  if (status.is_ok()) return status;

  roll_back();
  return batch_failure(status, batch_.size());
}

Status SqliteStore::apply_batch() {
  heads_.clear();
  for (WriteOp& op : batch_) {
    Status fatal = std::visit([this](auto& request) { return apply(request); }, op);
    if (!fatal.is_ok()) return fatal;
  }
  return write_heads();
}

// A probe only needs the write lock, which BEGIN IMMEDIATE took; a batch of nothing but
// probes is rolled back so health checks cost no commit.
Status SqliteStore::finish_transaction(bool probes_only) {
  Statement& end = probes_only ? writer_.rollback : writer_.commit;
  int rc = end.step();
  end.reset();
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, end.sql());
  return Status::ok();
}

void SqliteStore::roll_back() {
  // SQLite may already have rolled back by itself (e.g. after an I/O error).
  if (!writer_db_.in_transaction()) return;
  writer_.rollback.step();
  writer_.rollback.reset();
}

void SqliteStore::record_batch(const Status& failure, bool probes_only, double seconds) {
  if (!failure.is_ok()) {
    failed_commits_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (probes_only) return;

  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_requests_.fetch_add(batch_.size(), std::memory_order_relaxed);
  last_batch_size_.store(batch_.size(), std::memory_order_relaxed);
  if (batch_observer_) (*batch_observer_)(batch_.size(), seconds);
}

// Runs after the last batch: fold the WAL into the database so the next start reads one
// file, then close the writer's connection.
void SqliteStore::shut_down_writer() {
  // Best effort: if a reader still holds a snapshot the WAL stays, which is safe.
  static_cast<void>(writer_db_.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  writer_ = WriterStatements{};
  writer_db_ = Connection{};
}

// ---- Applying one request inside the transaction ----------------------------------------
//
// apply() returns a non-OK Status only when the whole transaction is lost; a request's own
// failure (NotFound, Conflict, a statement SQLite undid) goes to op.status and the batch
// carries on. No request writes more than one row before write_heads(), so undoing a
// request's failed statement undoes the whole request.

Status SqliteStore::request_failed(Status error, Status& request_status) const {
  // A statement that fails is undone by SQLite on its own, leaving the transaction and the
  // earlier requests intact, unless SQLite rolled back the whole transaction.
  if (!writer_db_.in_transaction()) return error;
  request_status = std::move(error);
  return Status::ok();
}

Status SqliteStore::apply(CreateOp& op) {
  ConversationRecord& record = op.record;
  if (record.id.empty()) {
    op.status = Status::invalid_argument("store: conversation id is empty");
    return Status::ok();
  }
  if (record.state.empty()) record.state = kInitialState;
  record.created_at_ms = clock_.now_ms();
  record.updated_at_ms = record.created_at_ms;
  record.last_seq = 0;

  Statement& insert = writer_.insert_conversation;
  ResetOnExit reset(insert);
  bind_conversation(insert, record);
  int rc = insert.step();
  if (rc == SQLITE_DONE) return Status::ok();
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    return request_failed(Status::conflict("store: conversation " + record.id + " already exists"),
                          op.status);
  }
  return request_failed(sqlite_error(writer_db_.handle(), rc, "insert conversation"), op.status);
}

Status SqliteStore::apply(AppendOp& op) {
  Result<ConversationHead*> head = find_head(op.turn.conversation_id);
  if (!head) return request_failed(head.status(), op.status);
  if (*head == nullptr) {
    op.status = Status::not_found("store: no conversation " + op.turn.conversation_id);
    return Status::ok();
  }
  op.conversation_state = (*head)->state;
  return insert_turn(op, **head);
}

Status SqliteStore::apply(ProbeOp&) { return Status::ok(); }

// The conversation's head as of this transaction; nullptr when there is no such
// conversation. Read from the database once per transaction, then kept in heads_.
Result<SqliteStore::ConversationHead*> SqliteStore::find_head(const std::string& conversation_id) {
  if (auto cached = heads_.find(conversation_id); cached != heads_.end()) return &cached->second;

  Statement& find = writer_.find_conversation;
  ResetOnExit reset(find);
  find.bind(1, conversation_id);
  int rc = find.step();
  if (rc == SQLITE_DONE) return static_cast<ConversationHead*>(nullptr);
  if (rc != SQLITE_ROW) return sqlite_error(writer_db_.handle(), rc, "find conversation");

  ConversationHead& head = heads_[conversation_id];
  head.pk = find.column_int64(0);
  head.last_seq = find.column_int64(1);
  find.column_text(2, head.state);
  return &head;
}

// Inserts the turn as the conversation's next. The unique index on client_turn_id is the
// idempotency check: a duplicate fails the INSERT (SQLite undoes just that statement) and
// the stored turn then decides between a replay and a Conflict. A duplicate from earlier in
// the same batch is caught the same way, as it is in this very transaction.
Status SqliteStore::insert_turn(AppendOp& op, ConversationHead& head) {
  TurnRecord& turn = op.turn;
  turn.seq = head.last_seq + 1;
  turn.created_at_ms = clock_.now_ms();

  Statement& insert = writer_.insert_turn;
  ResetOnExit reset(insert);
  bind_turn(insert, head.pk, turn);
  int rc = insert.step();
  bool duplicate = rc == SQLITE_CONSTRAINT_UNIQUE && !turn.client_turn_id.empty();
  if (duplicate && writer_db_.in_transaction()) return answer_from_stored_turn(op, head.pk);
  if (rc != SQLITE_DONE) {
    return request_failed(sqlite_error(writer_db_.handle(), rc, "insert turn"), op.status);
  }

  head.last_seq = turn.seq;
  head.updated_at_ms = turn.created_at_ms;
  head.dirty = true;
  return Status::ok();
}

Status SqliteStore::answer_from_stored_turn(AppendOp& op, std::int64_t pk) {
  Statement& find = writer_.find_client_turn;
  ResetOnExit reset(find);
  find.bind(1, pk);
  find.bind(2, op.turn.client_turn_id);
  int rc = find.step();
  if (rc != SQLITE_ROW) {
    Status error = rc == SQLITE_DONE ? Status::internal("store: duplicate client turn " +
                                                        op.turn.client_turn_id + " not found")
                                     : sqlite_error(writer_db_.handle(), rc, "find client turn");
    return request_failed(std::move(error), op.status);
  }

  find.column_text(kTurnContentHashColumn, scratch_);
  if (scratch_ != op.turn.content_hash) {
    op.status =
        Status::conflict("store: client turn " + op.turn.client_turn_id + " of conversation " +
                         op.turn.conversation_id + " was stored with different content");
    return Status::ok();
  }
  // Read into a fresh record: the request's client_turn_id stays bound until the reset.
  TurnRecord stored;
  read_turn(find, stored);
  find.reset();
  stored.conversation_id = std::move(op.turn.conversation_id);
  op.turn = std::move(stored);
  op.kind = AppendKind::kReplayed;
  return Status::ok();
}

// One UPDATE per conversation per transaction, however many turns it got. The turns are
// already in, so a failure here loses the whole transaction.
Status SqliteStore::write_heads() {
  Statement& advance = writer_.advance_conversation;
  for (const auto& [id, head] : heads_) {
    if (!head.dirty) continue;
    ResetOnExit reset(advance);
    advance.bind(1, head.pk);
    advance.bind(2, head.last_seq);
    advance.bind(3, head.updated_at_ms);
    int rc = advance.step();
    if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "advance conversation");
  }
  return Status::ok();
}

// ---- Reads -------------------------------------------------------------------------------

Result<ConversationRecord> SqliteStore::get_conversation(const std::string& id) {
  ReaderPool::Lease reader = readers_->acquire();
  Statement& get = reader->statements.get_conversation;
  ResetOnExit reset(get);
  get.bind(1, id);
  int rc = get.step();
  if (rc == SQLITE_DONE) return Status::not_found("store: no conversation " + id);
  if (rc != SQLITE_ROW) return sqlite_error(reader->db.handle(), rc, "get conversation");

  ConversationRecord record;
  read_conversation(get, record);
  return record;
}

Result<std::vector<TurnRecord>> SqliteStore::list_turns(const std::string& conversation_id,
                                                        std::int64_t after_seq, std::size_t limit) {
  ReaderPool::Lease reader = readers_->acquire();
  Result<std::int64_t> pk = find_conversation_pk(*reader, conversation_id);
  if (!pk) return pk.status();

  Statement& list = reader->statements.list_turns;
  ResetOnExit reset(list);
  constexpr auto kMaxLimit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  list.bind(1, *pk);
  list.bind(2, after_seq);
  list.bind(3, static_cast<std::int64_t>(std::min(limit, kMaxLimit)));

  std::vector<TurnRecord> turns;
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) {
    TurnRecord& turn = turns.emplace_back();
    turn.conversation_id = conversation_id;
    read_turn(list, turn);
  }
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, "list turns");
  return turns;
}

Result<std::int64_t> SqliteStore::find_conversation_pk(Reader& reader, const std::string& id) {
  Statement& find = reader.statements.find_conversation_pk;
  ResetOnExit reset(find);
  find.bind(1, id);
  int rc = find.step();
  if (rc == SQLITE_DONE) return Status::not_found("store: no conversation " + id);
  if (rc != SQLITE_ROW) return sqlite_error(reader.db.handle(), rc, "find conversation");
  return find.column_int64(0);
}

}  // namespace handover::store
