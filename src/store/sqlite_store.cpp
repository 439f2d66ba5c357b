// The SQLite store: opening and migrating the database, the group-commit writer thread and
// the pooled readers.
#include "sqlite_store.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <sqlite3.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "handover/logging/request_context.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/json_writer.hpp"
#include "handover/util/scheduling.hpp"
#include "handover/util/thread_name.hpp"
#include "evaluation_packing.hpp"
#include "event_texts.hpp"
#include "schema.hpp"
#include "wal_append_vfs.hpp"

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
  if (options.conversation_rows_every_ms < 0) {
    return Status::invalid_argument("store: conversation_rows_every_ms must not be negative");
  }
  if (options.writer_cache_kib < 64) {
    return Status::invalid_argument("store: writer_cache_kib must be at least 64");
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

// A new file gets incremental auto_vacuum, so the retention job can give freed pages back.
// SQLite ignores the setting once a table exists; converting an older file takes a VACUUM
// while the server is stopped (see docs/privacy.md).
Status enable_incremental_vacuum_if_new(Connection& db) {
  Result<Statement> tables = db.query_row("SELECT count(*) FROM sqlite_master");
  if (!tables) return tables.status();
  if (tables->column_int64(0) != 0) return Status::ok();
  return db.exec("PRAGMA auto_vacuum = INCREMENTAL");
}

Result<bool> has_incremental_vacuum(Connection& db) {
  Result<Statement> mode = db.query_row("PRAGMA auto_vacuum");
  if (!mode) return mode.status();
  constexpr std::int64_t kIncremental = 2;
  return mode->column_int64(0) == kIncremental;
}

// Journal mode and durability are per database (WAL) or per connection (the rest).
Status configure_writer(Connection& db, const StoreOptions& options) {
  if (Status status = enable_incremental_vacuum_if_new(db); !status.is_ok()) return status;
  Result<Statement> mode = db.query_row("PRAGMA journal_mode = WAL");
  if (!mode) return mode.status();
  std::string reported;
  mode->column_text(0, reported);
  if (reported != "wal") {
    return Status::internal("store: the database refused WAL mode (journal_mode is " + reported +
                            ")");
  }
  // Deleted rows are overwritten with zeros, so erased personal data does not linger in free
  // space of the file.
  if (Status status = db.exec("PRAGMA secure_delete = ON"); !status.is_ok()) return status;
  // A negative cache_size is in KiB; the number is one we checked, not input.
  const std::string cache = "PRAGMA cache_size = -" + std::to_string(options.writer_cache_kib);
  if (Status status = db.exec(cache.c_str()); !status.is_ok()) return status;
  return db.exec(options.synchronous == "full" ? "PRAGMA synchronous = FULL"
                                               : "PRAGMA synchronous = NORMAL");
}

// With synchronous=FULL every commit syncs the WAL before other connections see it, so the
// writer may gather each commit's frames into one write (wal_append_vfs.hpp).
Result<Connection> open_writer(const StoreOptions& options, const Clock& clock) {
  const char* vfs = options.synchronous == "full" ? wal_append_vfs() : nullptr;
  Result<Connection> db =
      Connection::open(options.path, Connection::Mode::kReadWrite, options.busy_timeout_ms, vfs);
  if (!db) return db.status();
  if (int rc = define_evaluation_function(db->handle()); rc != SQLITE_OK) {
    return sqlite_error(db->handle(), rc, "define turn_evaluation()");
  }
  if (int rc = define_event_text_functions(db->handle()); rc != SQLITE_OK) {
    return sqlite_error(db->handle(), rc, "define handover_reasons_stripped()");
  }
  if (Status status = configure_writer(*db, options); !status.is_ok()) return status;
  if (Status status = migrate(*db, clock.now_ms()); !status.is_ok()) return status;
  if (Status status = catch_up_conversation_rows(*db); !status.is_ok()) return status;
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

Status check_new_state(const std::optional<std::string>& new_state) {
  if (new_state && new_state->empty()) return Status::invalid_argument("store: new state is empty");
  return Status::ok();
}

Status check_update(const ConversationUpdate& update) {
  if (update.id.empty()) return Status::invalid_argument("store: conversation id is empty");
  if (update.metadata_json && update.metadata_json->empty()) {
    return Status::invalid_argument("store: metadata_json of conversation " + update.id +
                                    " is empty");
  }
  return check_new_state(update.new_state);
}

Status state_conflict(const std::string& conversation_id, const std::string& state,
                      const std::string& expected) {
  return Status::conflict("store: conversation " + conversation_id + " is in state \"" + state +
                          "\", not the expected \"" + expected + "\"");
}

Status check_agent(const AgentRecord& agent) {
  if (agent.id.empty()) return Status::invalid_argument("store: agent id is empty");
  if (agent.capacity < 0) {
    return Status::invalid_argument("store: capacity of agent " + agent.id + " is negative");
  }
  return Status::ok();
}

// Names the uniqueness rule an insert or update of `agent` broke, if that is what failed.
Status agent_write_error(sqlite3* db, int rc, const AgentRecord& agent,
                         std::string_view operation) {
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status::conflict("store: agent " + agent.id + " already exists");
  }
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    return Status::conflict("store: the token hash of agent " + agent.id +
                            " belongs to another agent");
  }
  return sqlite_error(db, rc, operation);
}

// A read limit as SQLite takes it; anything beyond int64 means "no limit" anyway.
std::int64_t limit_for_sql(std::size_t limit) {
  constexpr auto kMaxLimit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMaxLimit));
}

using ConversationsByPk = std::vector<std::pair<std::int64_t, ConversationRecord>>;

// Adds up to `limit` conversations in `state` to `found`, with their pks.
Status list_in_state(Reader& reader, const std::string& state, std::int64_t limit,
                     ConversationsByPk& found) {
  Statement& list = reader.statements.list_conversations_in_state;
  ResetOnExit reset(list);
  list.bind(1, state);
  list.bind(2, limit);

  int rc;
  while ((rc = list.step()) == SQLITE_ROW) {
    auto& [pk, record] = found.emplace_back();
    pk = list.column_int64(kConversationPkColumn);
    read_conversation(list, record);
  }
  if (rc != SQLITE_DONE) return sqlite_error(reader.db.handle(), rc, "list conversations");
  return Status::ok();
}

// The `limit` oldest of `found`, which holds at most `limit` per state.
std::vector<ConversationRecord> oldest_first(ConversationsByPk found, std::size_t limit) {
  std::sort(found.begin(), found.end(),
            [](const auto& left, const auto& right) { return left.first < right.first; });
  if (found.size() > limit) found.resize(limit);

  std::vector<ConversationRecord> records;
  records.reserve(found.size());
  for (auto& [pk, record] : found) records.push_back(std::move(record));
  return records;
}

// Where the events' sequence stands in a migrated file (see WriterStatements::read_log_ids).
struct LogIds {
  std::int64_t turns_logged_from = 1;
  std::int64_t highest = 0;
};

Result<LogIds> read_log_ids(Connection& db, Statement& read) {
  ResetOnExit reset(read);
  const int rc = read.step();
  if (rc != SQLITE_ROW) return sqlite_error(db.handle(), rc, "read the events' sequence");
  if (read.column_int64(0) < 1) {
    return Status::internal("store: the mark 'turns_logged_from' is missing from store_marks");
  }
  return LogIds{read.column_int64(0), read.column_int64(1)};
}

Statement& event_list_for(ReaderStatements& statements, bool by_conversation, bool by_agent) {
  if (by_conversation && by_agent) return statements.list_conversation_agent_events;
  if (by_conversation) return statements.list_conversation_events;
  if (by_agent) return statements.list_agent_events;
  return statements.list_events;
}

// The one agent `get` finds for `key`, or NotFound with `missing` as the message.
Result<AgentRecord> read_one_agent(Reader& reader, Statement& get, const std::string& key,
                                   std::string missing) {
  ResetOnExit reset(get);
  get.bind(1, key);
  int rc = get.step();
  if (rc == SQLITE_DONE) return Status::not_found(std::move(missing));
  if (rc != SQLITE_ROW) return sqlite_error(reader.db.handle(), rc, "get agent");

  AgentRecord agent;
  read_agent(get, agent);
  return agent;
}

// A write's callback, and an append's follow-up, wrapped to run with the current request id.
template <class Op>
void carry_request_id(Op& op) {
  op.done = logging::with_current_request(std::move(op.done));
  if constexpr (requires { op.follow_up; }) {
    if (op.follow_up) op.follow_up = logging::with_current_request(std::move(op.follow_up));
  }
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
  // Before anything touches the file: a second server must not even migrate it.
  Result<InstanceLock> lock = InstanceLock::acquire(options.path);
  if (!lock) return lock.status();

  Result<Connection> writer_db = open_writer(options, clock);
  if (!writer_db) return with_path(writer_db.status(), options.path);
  Result<WriterStatements> writer = WriterStatements::prepare(*writer_db);
  if (!writer) return with_path(writer.status(), options.path);
  Result<bool> incremental = has_incremental_vacuum(*writer_db);
  if (!incremental) return with_path(incremental.status(), options.path);
  Result<LogIds> log_ids = read_log_ids(*writer_db, writer->read_log_ids);
  if (!log_ids) return with_path(log_ids.status(), options.path);
  Result<std::unique_ptr<ReaderPool>> readers =
      ReaderPool::open(options.path, options.read_connections, options.busy_timeout_ms);
  if (!readers) return with_path(readers.status(), options.path);
  Result<std::unique_ptr<Checkpointer>> checkpointer =
      Checkpointer::start(options.path, options.synchronous, options.busy_timeout_ms,
                          options.wal_checkpoint_frames);
  if (!checkpointer) return with_path(checkpointer.status(), options.path);

  std::unique_ptr<SqliteStore> store(
      new SqliteStore(options, clock, std::move(lock).value(), std::move(writer_db).value(),
                      std::move(writer).value(), std::move(readers).value(),
                      std::move(checkpointer).value()));
  store->incremental_vacuum_ = *incremental;
  store->turns_logged_from_ = log_ids->turns_logged_from;
  store->stored_log_id_ = log_ids->highest;
  store->next_log_id_ = log_ids->highest + 1;
  store->writer_thread_ = std::thread([raw = store.get()] { raw->run_writer(); });
  return store;
}

SqliteStore::SqliteStore(const StoreOptions& options, const Clock& clock, InstanceLock lock,
                         Connection writer_db, WriterStatements writer,
                         std::unique_ptr<ReaderPool> readers,
                         std::unique_ptr<Checkpointer> checkpointer)
    : options_(options),
      clock_(clock),
      lock_(std::move(lock)),
      writer_db_(std::move(writer_db)),
      writer_(std::move(writer)),
      readers_(std::move(readers)),
      conversations_(options.cached_conversations),
      checkpointer_(std::move(checkpointer)) {
  // Commits only signal the checkpoint thread; none of them runs a checkpoint itself.
  checkpointer_->attach(writer_db_);
}

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
  append.packed_evaluation = pack_evaluation(append.turn.evaluation_json);
  append.done = std::move(done);
  append.expected_state = std::move(request.expected_state);
  append.new_state = std::move(request.new_state);
  append.events = std::move(request.events);
  append.follow_up = std::move(request.follow_up);
  append.equivalent_content_hash = std::move(request.equivalent_content_hash);
  submit(std::move(op));
}

void SqliteStore::append_events(std::vector<EventRecord> events,
                                Callback<std::vector<EventRecord>> done) {
  WriteOp op(std::in_place_type<EventsOp>);
  EventsOp& append = std::get<EventsOp>(op);
  append.done = std::move(done);
  append.reply = std::move(events);
  submit(std::move(op));
}

void SqliteStore::update_conversation(ConversationUpdate update,
                                      Callback<ConversationUpdateOutcome> done) {
  WriteOp op(std::in_place_type<UpdateOp>);
  UpdateOp& change = std::get<UpdateOp>(op);
  change.reply.events = std::move(update.events);
  change.update = std::move(update);
  change.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::create_agent(AgentRecord agent, Callback<AgentRecord> done) {
  WriteOp op(std::in_place_type<CreateAgentOp>);
  CreateAgentOp& create = std::get<CreateAgentOp>(op);
  create.done = std::move(done);
  create.reply = std::move(agent);
  submit(std::move(op));
}

void SqliteStore::update_agent(AgentRecord agent, Callback<AgentRecord> done) {
  WriteOp op(std::in_place_type<UpdateAgentOp>);
  UpdateAgentOp& update = std::get<UpdateAgentOp>(op);
  update.done = std::move(done);
  update.reply = std::move(agent);
  submit(std::move(op));
}

void SqliteStore::erase_customer(ErasureRequest request, Callback<ErasureOutcome> done) {
  WriteOp op(std::in_place_type<EraseOp>);
  EraseOp& erase = std::get<EraseOp>(op);
  erase.request = std::move(request);
  erase.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::append_audit(AuditRecord record, Callback<AuditRecord> done) {
  WriteOp op(std::in_place_type<AuditOp>);
  AuditOp& append = std::get<AuditOp>(op);
  append.reply = std::move(record);
  append.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::run_retention(RetentionBatch batch, Callback<RetentionOutcome> done) {
  WriteOp op(std::in_place_type<RetentionOp>);
  RetentionOp& retire = std::get<RetentionOp>(op);
  retire.batch = batch;
  retire.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::reclaim_space(std::int64_t pages, Callback<std::int64_t> done) {
  WriteOp op(std::in_place_type<ReclaimOp>);
  ReclaimOp& reclaim = std::get<ReclaimOp>(op);
  reclaim.pages = pages;
  reclaim.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::put_cursor(std::string name, std::int64_t event_id, Callback<bool> done) {
  WriteOp op(std::in_place_type<CursorOp>);
  CursorOp& put = std::get<CursorOp>(op);
  put.name = std::move(name);
  put.event_id = event_id;
  put.done = std::move(done);
  submit(std::move(op));
}

void SqliteStore::probe_writable(Callback<bool> done) {
  submit(WriteOp(std::in_place_type<ProbeOp>, std::move(done)));
}

void SqliteStore::submit(WriteOp&& op) {
  assert(std::visit([](const auto& request) { return static_cast<bool>(request.done); }, op) &&
         "a write needs a callback");
  // The follow-up and the callback run on the writer thread with the request id of this
  // thread, so what they log names the request.
  if (!logging::current_request_id().empty()) {
    std::visit([](auto& request) { carry_request_id(request); }, op);
  }
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
    AppendTurnOutcome outcome;
    outcome.kind = op.kind;
    outcome.turn = op.committed ? *op.committed : std::move(op.turn);
    outcome.conversation_state = std::move(op.conversation_state);
    outcome.events = std::move(op.events);
    op.done(std::move(outcome));
  }
}

void SqliteStore::finish(ProbeOp& op, const Status& failure) {
  if (!failure.is_ok()) {
    op.done(failure);
  } else {
    op.done(true);
  }
}

template <class Op>
void SqliteStore::finish(Op& op, const Status& failure) {
  if (!failure.is_ok()) {
    op.done(failure);
  } else if (!op.status.is_ok()) {
    op.done(std::move(op.status));
  } else {
    op.done(std::move(op.reply));
  }
}

void SqliteStore::set_commit_observer(CommitObserver observer) {
  auto shared = observer ? std::make_shared<const CommitObserver>(std::move(observer)) : nullptr;
  std::lock_guard lock(mutex_);
  observer_ = std::move(shared);
}

void SqliteStore::set_change_observer(ChangeObserver observer) {
  auto shared = observer ? std::make_shared<const ChangeObserver>(std::move(observer)) : nullptr;
  std::lock_guard lock(mutex_);
  change_observer_ = std::move(shared);
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
  if (checkpointer_) {
    stats.checkpoints = checkpointer_->checkpoints();
    stats.writer_checkpoints = checkpointer_->writer_checkpoints();
  }
  stats.conversation_rows_behind = activity_.unflushed_count();
  stats.writer_cache_misses = writer_cache_misses_.load(std::memory_order_relaxed);
  stats.incremental_vacuum = incremental_vacuum_;
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
  set_thread_name("store-writer");
  schedule_as_batch_work();
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
  batch_change_observer_ = change_observer_;
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
  if (failure.is_ok() && !probes_only) refresh_cached_conversations();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  if (failure.is_ok() && checkpointer_) checkpointer_->checkpoint_if_due(writer_db_);
  record_batch(failure, probes_only, elapsed.count());
  if (!failure.is_ok()) log_failure(commit_failure_log_, failure);

  // The WAL still holds the pages as they were before an erasure: fold it into the database
  // and truncate it before anyone hears that the data is gone. Best effort: a reader holding
  // an old snapshot keeps the WAL until the next checkpoint.
  if (failure.is_ok() && checkpoint_after_batch_) {
    static_cast<void>(writer_db_.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  checkpoint_after_batch_ = false;
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
  batch_deletes_ = std::any_of(batch_.begin(), batch_.end(), [](const WriteOp& op) {
    return std::holds_alternative<EraseOp>(op) || std::holds_alternative<RetentionOp>(op);
  });
  batch_flushes_ = false;
  batch_ends_round_ = false;
  deleted_in_batch_.clear();
  batch_rows_written_.clear();
  batch_round_next_ = round_.next;
  const bool flush = flush_due();
  // Before this batch's turns: the round's mark is the newest turn the activity knows of.
  if (!flush && !round_.open && round_due()) {
    if (Status fatal = begin_round(); !fatal.is_ok()) return fatal;
  }
  for (WriteOp& op : batch_) {
    Status fatal = std::visit([this](auto& request) { return apply(request); }, op);
    if (!fatal.is_ok()) return fatal;
  }
  if (Status fatal = store_log_ids(); !fatal.is_ok()) return fatal;
  return write_heads(flush || batch_deletes_);
}

// Every batch commits, one of nothing but readiness probes too: their row has to reach the
// disk for the probe to mean that writes do (`probes_only` is kept for the statistics).
Status SqliteStore::finish_transaction(bool /*probes_only*/) {
  Statement& end = writer_.commit;
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
  // SQLite counts in an int; taking and resetting the count each batch keeps it from wrapping.
  int misses = 0;
  int unused = 0;
  if (sqlite3_db_status(writer_db_.handle(), SQLITE_DBSTATUS_CACHE_MISS, &misses, &unused, 1) ==
      SQLITE_OK) {
    writer_cache_misses_.fetch_add(static_cast<std::uint64_t>(misses), std::memory_order_relaxed);
  }
  if (!failure.is_ok()) {
    failed_commits_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (probes_only) return;

  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_requests_.fetch_add(batch_.size(), std::memory_order_relaxed);
  last_batch_size_.store(batch_.size(), std::memory_order_relaxed);
  if (batch_observer_) (*batch_observer_)(batch_.size(), seconds);
  if (batch_change_observer_) report_changes();
}

// Brings the cached conversation rows, the writer's committed heads and the activity up to
// the committed transaction, before anyone hears of it. Erasure and retention delete
// conversations by customer or age, which the heads do not tell, so a batch with either
// drops the whole cache and the committed heads.
//
// The activity goes first: a reader that reads a row after the cache's new generation has
// begun finds the newer values there.
void SqliteStore::refresh_cached_conversations() {
  constexpr std::size_t kMaxCommittedHeads = 16384;
  if (batch_deletes_ || committed_heads_.size() + heads_.size() > kMaxCommittedHeads) {
    committed_heads_.clear();
  }
  account_rows_written();  // before record(): a row written here lacks this batch's turns
  for (const auto& [id, head] : heads_) {
    if (head.dirty) activity_.record(id, {head.pk, head.last_seq, head.updated_at_ms});
    if (!batch_deletes_) committed_heads_[id] = CommittedHead{head.pk, head.last_seq, head.state};
  }
  if (batch_flushes_) {
    activity_.mark_flushed();
    round_ = RowRound{};
  }
  for (const WriteOp& op : batch_) {
    if (const auto* erase = std::get_if<EraseOp>(&op)) {
      activity_.forget(erase->reply.conversation_ids);
    } else if (const auto* retention = std::get_if<RetentionOp>(&op)) {
      activity_.forget(retention->reply.conversation_ids);
    }
  }
  conversations_.begin_commit();
  if (batch_deletes_) return conversations_.clear();
  for (const auto& [id, head] : heads_) {
    if (head.dirty) {
      conversations_.advance(id, head.last_seq, head.updated_at_ms, head.state,
                             head.metadata_json);
    }
  }
}

// Tells the change observer what the committed batch wrote, in event id order.
// The turns move into shared records: listeners that queue them keep one copy between them,
// and the batch's answers copy it once each, for the short time until they are sent.
void SqliteStore::report_changes() {
  CommittedChanges changes;
  for (WriteOp& op : batch_) {
    if (auto* append = std::get_if<AppendOp>(&op)) {
      if (!append->status.is_ok() || append->kind != AppendKind::kCreated) continue;
      append->committed = std::make_shared<const TurnRecord>(std::move(append->turn));
      changes.turns.push_back(append->committed);
      for (const auto& event : append->events) changes.events.push_back(&event);
    } else if (auto* events = std::get_if<EventsOp>(&op)) {
      if (!events->status.is_ok()) continue;
      for (const auto& event : events->reply) changes.events.push_back(&event);
    } else if (auto* update = std::get_if<UpdateOp>(&op)) {
      if (!update->status.is_ok()) continue;
      for (const auto& event : update->reply.events) changes.events.push_back(&event);
    }
  }
  if (changes.events.empty()) return;
  (*batch_change_observer_)(changes);
}

// Runs after the last batch: fold the WAL into the database so the next start reads one
// file, then close the writer's connection.
void SqliteStore::shut_down_writer() {
  // Rows written now need no catching up at the next start. Best effort: the turns hold
  // what this would write.
  if (activity_.unflushed_count() > 0 && writer_.begin.step() == SQLITE_DONE) {
    writer_.begin.reset();
    if (flush_activity().is_ok() && finish_transaction(/*probes_only=*/false).is_ok()) {
      activity_.mark_flushed();
    }
    roll_back();
  }
  writer_.begin.reset();
  // The final checkpoint must not find the checkpoint thread busy with one of its own.
  checkpointer_->stop();
  Checkpointer::detach(writer_db_);
  // Best effort: if a reader still holds a snapshot the WAL stays, which is safe.
  static_cast<void>(writer_db_.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  writer_ = WriterStatements{};
  writer_db_ = Connection{};
}

// ---- Applying one request inside the transaction ----------------------------------------
//
// apply() returns a non-OK Status only when the whole transaction is lost; a request's own
// failure (NotFound, Conflict, a statement SQLite undid) goes to op.status and the batch
// carries on. A request checks everything that can refuse it before its first write, and
// SQLite undoes a failed statement on its own, so a failed first write leaves nothing of
// the request behind. Once a request has written a row (a turn, then its events), any
// later failure loses the whole transaction: that keeps each request all-or-nothing
// without savepoints, at the price of failing the batch on errors that checks cannot
// foresee (I/O, a full disk).

// One line per second per kind of failure: a full disk fails every write, thousands a
// second, and an operator needs to see it, not each of them.
void SqliteStore::log_failure(LogThrottle& throttle, const Status& failure) const {
  if (std::uint64_t suppressed = 0; throttle.admit(suppressed)) {
    spdlog::error("{} (same failures since the last line: {})", failure.message(), suppressed);
  }
}

Status SqliteStore::request_failed(Status error, Status& request_status) const {
  // The expected outcomes (NotFound, Conflict) are the client's; anything else is ours.
  if (error.code() == StatusCode::kInternal) log_failure(request_failure_log_, error);
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
  if (Status invalid = check_new_state(op.new_state); !invalid.is_ok()) {
    op.status = std::move(invalid);
    return Status::ok();
  }
  Result<ConversationHead*> head = find_head(op.turn.conversation_id);
  if (!head) return request_failed(head.status(), op.status);
  if (*head == nullptr) {
    op.status = Status::not_found("store: no conversation " + op.turn.conversation_id);
    return Status::ok();
  }
  if (op.expected_state && *op.expected_state != (*head)->state) {
    return refuse_in_state(op, **head);
  }
  return write_append(op, **head);
}

// The turn first, as its insert may turn out to be a replay; then its events and the state.
Status SqliteStore::write_append(AppendOp& op, ConversationHead& head) {
  Status fatal = resolve_events(op.events, op.turn.conversation_id, op.status);
  if (fatal.is_ok() && op.status.is_ok()) fatal = insert_turn(op, head);
  if (!fatal.is_ok() || !op.status.is_ok()) return fatal;

  if (op.kind == AppendKind::kReplayed) {
    op.events.clear();
  } else {
    const bool state_moved = run_follow_up(op, head);
    fatal = insert_events(op.events, op.turn.created_at_ms, /*wrote_before=*/true, op.status);
    if (fatal.is_ok() && state_moved) fatal = set_turn_state(op);
    if (fatal.is_ok()) log_turn_created(op, head);
    if (fatal.is_ok() && op.new_state) head.state = *op.new_state;
  }
  op.conversation_state = head.state;
  return fatal;
}

// The follow-up's events belong to the turn's conversation, so they need no lookup. An empty
// state or event type in them is a broken caller, not bad input: the batch fails. True when
// it gave the conversation a state other than the one the turn's row was written with.
bool SqliteStore::run_follow_up(AppendOp& op, const ConversationHead& head) {
  if (!op.follow_up) return false;
  AppendFollowUp more;
  op.follow_up(op.turn, head.state, more);
  assert(!more.new_state || !more.new_state->empty());
  bool moved = false;
  if (more.new_state) {
    moved = *more.new_state != (op.new_state ? *op.new_state : head.state);
    op.new_state = std::move(more.new_state);
  }
  for (EventRecord& event : more.events) {
    assert(!event.type.empty());
    event.conversation_id = op.turn.conversation_id;
    op.events.push_back(std::move(event));
    event_pks_.push_back(head.pk);
  }
  return moved;
}

// The turn's row was written with the state the request asked for; its follow-up chose
// another (an escalation), which the turn's turn.created event must tell.
Status SqliteStore::set_turn_state(AppendOp& op) {
  Statement& update = writer_.set_turn_state;
  ResetOnExit reset(update);
  update.bind(1, op.turn_id);
  update.bind(2, *op.new_state);
  const int rc = update.step();
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "set the turn's state");
  return Status::ok();
}

// Every new turn is logged as a "turn.created" event, first among the append's events, so
// the event log alone orders everything a conversation's watchers see. The turn's row is that
// event (its id comes from the events' sequence before the append's events'); this is the
// record the feed and the answer carry, as the event lists read it from the row.
void SqliteStore::log_turn_created(AppendOp& op, const ConversationHead& head) {
  EventRecord created;
  created.id = op.turn_id;
  created.conversation_id = op.turn.conversation_id;
  created.type = kTurnCreatedEvent;
  created.created_at_ms = op.turn.created_at_ms;
  const std::string& state = op.new_state ? *op.new_state : head.state;
  std::string& data = created.data_json;
  data.reserve(48 + op.turn.role.size() + state.size());
  data = "{\"seq\":";
  data += std::to_string(op.turn.seq);
  data += ",\"role\":";
  json_util::append_quoted(data, op.turn.role);
  data += ",\"state\":";
  json_util::append_quoted(data, state);
  data += '}';
  op.events.insert(op.events.begin(), std::move(created));
}

// The conversation is not in the state the append expects. A retry of a stored turn is still
// answered from it (the original may itself have moved the state on); anything else is a
// Conflict. Nothing is written either way.
Status SqliteStore::refuse_in_state(AppendOp& op, const ConversationHead& head) {
  if (!op.turn.client_turn_id.empty()) {
    Result<bool> answered = answer_from_stored_turn(op, head.pk);
    if (!answered) return request_failed(answered.status(), op.status);
    if (*answered) {
      op.events.clear();
      op.conversation_state = head.state;
      return Status::ok();
    }
  }
  op.status = state_conflict(op.turn.conversation_id, head.state, *op.expected_state);
  return Status::ok();
}

// Taking the write lock proves nothing about writing (a read-only file, a full disk): the
// probe writes a row, and its batch commits like any other.
Status SqliteStore::apply(ProbeOp&) {
  Statement& put = writer_.put_cursor;
  ResetOnExit reset(put);
  put.bind(1, std::string_view(kReadinessProbeCursor));
  put.bind(2, clock_.now_ms());
  put.bind(3, clock_.now_ms());
  const int rc = put.step();
  if (rc == SQLITE_DONE) return Status::ok();
  return sqlite_error(writer_db_.handle(), rc, "readiness probe");
}

Status SqliteStore::apply(EventsOp& op) {
  Status fatal = resolve_events(op.reply, std::string(), op.status);
  if (!fatal.is_ok() || !op.status.is_ok()) return fatal;
  return insert_events(op.reply, clock_.now_ms(), /*wrote_before=*/false, op.status);
}

Status SqliteStore::apply(UpdateOp& op) {
  const ConversationUpdate& update = op.update;
  if (Status invalid = check_update(update); !invalid.is_ok()) {
    op.status = std::move(invalid);
    return Status::ok();
  }
  Result<ConversationHead*> head = find_head(update.id);
  if (!head) return request_failed(head.status(), op.status);
  if (*head == nullptr) {
    op.status = Status::not_found("store: no conversation " + update.id);
    return Status::ok();
  }
  if (update.expected_state && *update.expected_state != (*head)->state) {
    op.status = state_conflict(update.id, (*head)->state, *update.expected_state);
    return Status::ok();
  }
  return write_update(op, **head);
}

// The events are the only rows written here; the new state and metadata go into the head,
// which write_heads() stores. The reply is the stored row with the head laid over it.
Status SqliteStore::write_update(UpdateOp& op, ConversationHead& head) {
  ConversationUpdateOutcome& reply = op.reply;
  std::int64_t now_ms = clock_.now_ms();
  Status fatal = read_stored_conversation(head.pk, reply.record, op.status);
  if (fatal.is_ok() && op.status.is_ok()) {
    fatal = resolve_events(reply.events, op.update.id, op.status);
  }
  if (fatal.is_ok() && op.status.is_ok()) {
    fatal = insert_events(reply.events, now_ms, /*wrote_before=*/false, op.status);
  }
  if (!fatal.is_ok() || !op.status.is_ok()) return fatal;

  if (op.update.new_state) head.state = std::move(*op.update.new_state);
  if (op.update.metadata_json) head.metadata_json = std::move(*op.update.metadata_json);
  head.updated_at_ms = now_ms;
  head.dirty = true;

  reply.record.state = head.state;
  reply.record.last_seq = head.last_seq;
  reply.record.updated_at_ms = head.updated_at_ms;
  if (head.metadata_json) reply.record.metadata_json = *head.metadata_json;
  return Status::ok();
}

Status SqliteStore::read_stored_conversation(std::int64_t pk, ConversationRecord& record,
                                             Status& request_status) {
  Statement& get = writer_.get_conversation;
  ResetOnExit reset(get);
  get.bind(1, pk);
  int rc = get.step();
  if (rc == SQLITE_ROW) {
    read_conversation(get, record);
    return Status::ok();
  }
  Status error =
      rc == SQLITE_DONE
          ? Status::internal("store: conversation row " + std::to_string(pk) + " not found")
          : sqlite_error(writer_db_.handle(), rc, "get conversation");
  return request_failed(std::move(error), request_status);
}

Status SqliteStore::apply(CreateAgentOp& op) {
  AgentRecord& agent = op.reply;
  if (Status invalid = check_agent(agent); !invalid.is_ok()) {
    op.status = std::move(invalid);
    return Status::ok();
  }
  agent.created_at_ms = clock_.now_ms();
  agent.updated_at_ms = agent.created_at_ms;

  Statement& insert = writer_.insert_agent;
  ResetOnExit reset(insert);
  bind_agent(insert, agent);
  int rc = insert.step();
  if (rc == SQLITE_DONE) return Status::ok();
  return request_failed(agent_write_error(writer_db_.handle(), rc, agent, "insert agent"),
                        op.status);
}

Status SqliteStore::apply(UpdateAgentOp& op) {
  AgentRecord& agent = op.reply;
  if (Status invalid = check_agent(agent); !invalid.is_ok()) {
    op.status = std::move(invalid);
    return Status::ok();
  }
  agent.updated_at_ms = clock_.now_ms();

  Statement& update = writer_.update_agent;
  ResetOnExit reset(update);
  bind_agent(update, agent);
  int rc = update.step();
  if (rc == SQLITE_ROW) {
    // The first step made the change; the row returned carries the kept creation time.
    agent.created_at_ms = update.column_int64(0);
    return Status::ok();
  }
  if (rc == SQLITE_DONE) {
    op.status = Status::not_found("store: no agent " + agent.id);
    return Status::ok();
  }
  return request_failed(agent_write_error(writer_db_.handle(), rc, agent, "update agent"),
                        op.status);
}

Status SqliteStore::apply(CursorOp& op) {
  if (op.name.empty() || op.event_id < 0) {
    op.status = Status::invalid_argument("store: a cursor needs a name and an id >= 0");
    return Status::ok();
  }
  Statement& put = writer_.put_cursor;
  ResetOnExit reset(put);
  put.bind(1, op.name);
  put.bind(2, op.event_id);
  put.bind(3, clock_.now_ms());
  const int rc = put.step();
  if (rc == SQLITE_DONE) return Status::ok();
  return request_failed(sqlite_error(writer_db_.handle(), rc, "put cursor"), op.status);
}

// The conversation's head as of this transaction; nullptr when there is no such
// conversation. Taken from the last commit's heads, or read from the database, once per
// transaction; then kept in heads_.
Result<SqliteStore::ConversationHead*> SqliteStore::find_head(const std::string& conversation_id) {
  if (auto cached = heads_.find(conversation_id); cached != heads_.end()) return &cached->second;
  if (auto known = committed_heads_.find(conversation_id); known != committed_heads_.end()) {
    ConversationHead& head = heads_[conversation_id];
    head.pk = known->second.pk;
    head.last_seq = known->second.last_seq;
    head.state = known->second.state;
    head.stored_state = head.state;
    return &head;
  }

  Statement& find = writer_.find_conversation;
  ResetOnExit reset(find);
  find.bind(1, conversation_id);
  int rc = find.step();
  if (rc == SQLITE_DONE) return static_cast<ConversationHead*>(nullptr);
  if (rc != SQLITE_ROW) return sqlite_error(writer_db_.handle(), rc, "find conversation");

  ConversationHead& head = heads_[conversation_id];
  head.pk = find.column_int64(0);
  // The row may not count the newest turns yet; the activity table does, unless it still
  // holds a conversation this batch deleted (it forgets them once the batch commits).
  head.last_seq = find.column_int64(1);
  if (!deleted_in_batch_.contains(conversation_id)) {
    head.last_seq = std::max(head.last_seq, activity_.last_seq(conversation_id));
  }
  find.column_text(2, head.state);
  head.stored_state = head.state;
  return &head;
}

// A conversation this batch deleted: later requests of the batch must not find it among the
// heads, nor a new conversation under its id inherit its turn count.
void SqliteStore::forget_head(const std::string& conversation_id) {
  heads_.erase(conversation_id);
  committed_heads_.erase(conversation_id);
  deleted_in_batch_.insert(conversation_id);
}

// Inserts the turn as the conversation's next. The unique index on client_turn_id is the
// idempotency check: a duplicate fails the INSERT (SQLite undoes just that statement) and
// the stored turn then decides between a replay and a Conflict. A duplicate from earlier in
// the same batch is caught the same way, as it is in this very transaction.
Status SqliteStore::insert_turn(AppendOp& op, ConversationHead& head) {
  TurnRecord& turn = op.turn;
  turn.seq = head.last_seq + 1;
  turn.created_at_ms = clock_.now_ms();

  op.turn_id = next_log_id();

  Statement& insert = writer_.insert_turn;
  ResetOnExit reset(insert);
  bind_turn(insert, head.pk, op.turn_id, turn, op.packed_evaluation,
            op.new_state ? *op.new_state : head.state);
  int rc = insert.step();
  bool duplicate = rc == SQLITE_CONSTRAINT_UNIQUE && !turn.client_turn_id.empty();
  if (duplicate && writer_db_.in_transaction()) {
    Result<bool> answered = answer_from_stored_turn(op, head.pk);
    if (answered && *answered) return Status::ok();
    Status error = answered ? Status::internal("store: duplicate client turn " +
                                               op.turn.client_turn_id + " not found")
                            : answered.status();
    return request_failed(std::move(error), op.status);
  }
  if (rc != SQLITE_DONE) {
    return request_failed(sqlite_error(writer_db_.handle(), rc, "insert turn"), op.status);
  }

  head.last_seq = turn.seq;
  head.updated_at_ms = turn.created_at_ms;
  head.dirty = true;
  return Status::ok();
}

namespace {

// ": <members> differ(s) from the stored turn" for the content members whose stored text
// differs from the request's, so the client sees what its retry changed; "" when none does
// (a hash written by another spelling of the same content).
std::string differing_members(const TurnRecord& stored, const TurnRecord& sent) {
  std::string names;
  const auto compare = [&names](const char* name, const std::string& a, const std::string& b) {
    if (a == b) return;
    if (!names.empty()) names += ", ";
    names += name;
  };
  compare("role", stored.role, sent.role);
  compare("text", stored.text, sent.text);
  compare("bot", stored.bot_json, sent.bot_json);
  compare("actions", stored.actions_json, sent.actions_json);
  compare("metadata", stored.metadata_json, sent.metadata_json);
  if (names.empty()) return names;
  const bool one = names.find(',') == std::string::npos;
  return ": " + names + (one ? " differs" : " differ") + " from the stored turn";
}

}  // namespace

// Answers the append from the turn stored under its client_turn_id: a replay when the
// content matches, otherwise a Conflict in op.status. False when no such turn is stored.
Result<bool> SqliteStore::answer_from_stored_turn(AppendOp& op, std::int64_t pk) {
  Statement& find = writer_.find_client_turn;
  ResetOnExit reset(find);
  find.bind(1, pk);
  find.bind(2, op.turn.client_turn_id);
  int rc = find.step();
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) return sqlite_error(writer_db_.handle(), rc, "find client turn");

  find.column_text(kTurnContentHashColumn, scratch_);
  const bool same = scratch_ == op.turn.content_hash ||
                    (!op.equivalent_content_hash.empty() && scratch_ == op.equivalent_content_hash);
  // Read into a fresh record: the request's client_turn_id stays bound until the reset.
  TurnRecord stored;
  read_turn(find, stored);
  find.reset();
  if (!same) {
    op.status = Status::conflict("store: client turn " + op.turn.client_turn_id +
                                 " of conversation " + op.turn.conversation_id +
                                 " was stored with a different body" +
                                 differing_members(stored, op.turn));
    return true;
  }
  stored.conversation_id = std::move(op.turn.conversation_id);
  op.turn = std::move(stored);
  op.kind = AppendKind::kReplayed;
  return true;
}

// Checks a request's events before the request writes anything: an empty conversation_id
// becomes `conversation_id`, and each conversation named must exist. Leaves their pks in
// event_pks_ for insert_events. A bad event fails the request, not the transaction.
Status SqliteStore::resolve_events(std::vector<EventRecord>& events,
                                   const std::string& conversation_id, Status& request_status) {
  event_pks_.clear();
  for (EventRecord& event : events) {
    if (event.type.empty()) {
      request_status = Status::invalid_argument("store: event type is empty");
      return Status::ok();
    }
    if (event.conversation_id.empty()) event.conversation_id = conversation_id;
    Result<std::int64_t> pk = event_conversation_pk(event);
    if (!pk) return request_failed(pk.status(), request_status);
    event_pks_.push_back(*pk);
  }
  return Status::ok();
}

// The pk of the conversation an event names, 0 when it names none.
Result<std::int64_t> SqliteStore::event_conversation_pk(const EventRecord& event) {
  if (event.conversation_id.empty()) return std::int64_t{0};
  Result<ConversationHead*> head = find_head(event.conversation_id);
  if (!head) return head.status();
  if (*head == nullptr) {
    return Status::not_found("store: event " + event.type + " names unknown conversation " +
                             event.conversation_id);
  }
  return (*head)->pk;
}

// Inserts the events resolve_events checked, stamped `now_ms`, with the next ids of the
// events' sequence.
// With `wrote_before` the request has already written a row, so no failure can stay its own;
// nor can one after the first event.
Status SqliteStore::insert_events(std::vector<EventRecord>& events, std::int64_t now_ms,
                                  bool wrote_before, Status& request_status) {
  Statement& insert = writer_.insert_event;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EventRecord& event = events[i];
    event.created_at_ms = now_ms;
    event.id = next_log_id();
    ResetOnExit reset(insert);
    bind_event(insert, event_pks_[i], event);
    int rc = insert.step();
    if (rc != SQLITE_DONE) {
      Status error = sqlite_error(writer_db_.handle(), rc, "insert event");
      if (wrote_before || i > 0) return error;
      return request_failed(std::move(error), request_status);
    }
  }
  return Status::ok();
}

// At most one UPDATE per conversation per transaction, however many turns and updates it
// got. A new state or metadata is written now, with the turn count and time. A conversation
// that only got turns has those two columns written behind (see ConversationActivity): by
// the open round, a few rows a transaction, or by this transaction when `flush`, which
// writes every row behind. The turns are already in, so a failure here loses the whole
// transaction. A turn's UPDATE leaves state and metadata, and so the state index, alone.
Status SqliteStore::write_heads(bool flush) {
  for (const auto& [id, head] : heads_) {
    if (!head.dirty) continue;
    const bool touch_only = head.state == head.stored_state && !head.metadata_json;
    if (touch_only && !flush) continue;
    Statement& advance = touch_only ? writer_.touch_conversation : writer_.advance_conversation;
    ResetOnExit reset(advance);
    advance.bind(1, head.pk);
    advance.bind(2, head.last_seq);
    advance.bind(3, head.updated_at_ms);
    if (touch_only) {
      advance.bind(4, id);
    } else {
      advance.bind(4, head.state);
      // Metadata is never empty (check_update), so NULL can stand for "unchanged".
      advance.bind_text_or_null(5,
                                head.metadata_json ? *head.metadata_json : std::string_view());
    }
    int rc = advance.step();
    if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "advance conversation");
  }
  if (flush) return flush_activity();
  return round_.open ? continue_round() : Status::ok();
}

// Every row behind is written at once with a zero interval, and in a batch that deletes
// conversations: retention picks them by their rows' time of activity, and deleting the
// newest turns lets their ids be given again, so the mark must follow.
bool SqliteStore::flush_due() const {
  return batch_deletes_ || options_.conversation_rows_every_ms == 0;
}

// A round begins once the interval has passed since the last began, or sooner when many rows
// are behind: a round takes a hundredth of them a transaction, so the table stays bounded
// without one long commit.
bool SqliteStore::round_due() const {
  constexpr std::size_t kManyBehind = 50000;
  if (activity_.unflushed_count() >= kManyBehind) return true;
  return std::chrono::steady_clock::now() - round_began_ >=
         std::chrono::milliseconds(options_.conversation_rows_every_ms);
}

// Writes every row behind, and the mark that says every turn so far is counted in its row.
Status SqliteStore::flush_activity() {
  batch_flushes_ = true;
  for (const auto& [id, entry] : activity_.unflushed()) {
    if (Status fatal = write_activity(id, entry); !fatal.is_ok()) return fatal;
  }
  Statement& newest = writer_.max_turn_id;
  ResetOnExit reset(newest);
  if (int rc = newest.step(); rc != SQLITE_ROW) {
    return sqlite_error(writer_db_.handle(), rc, "find the newest turn");
  }
  return set_turns_mark(newest.column_int64(0));
}

// A round writes the rows that were behind when it began; every turn up to the newest then
// is counted once they are all written.
Status SqliteStore::begin_round() {
  Statement& newest = writer_.max_turn_id;
  ResetOnExit reset(newest);
  if (int rc = newest.step(); rc != SQLITE_ROW) {
    return sqlite_error(writer_db_.handle(), rc, "find the newest turn");
  }
  round_.open = true;
  round_.mark = newest.column_int64(0);
  round_.ids.clear();
  round_.next = 0;
  for (auto& [id, entry] : activity_.unflushed()) round_.ids.push_back(std::move(id));
  round_began_ = std::chrono::steady_clock::now();
  batch_round_next_ = 0;
  return Status::ok();
}

// Writes the round's next few rows, at least 16 a transaction and enough to end the round
// within about a hundred; ends the round with the last of them.
Status SqliteStore::continue_round() {
  const std::size_t per_batch = std::max<std::size_t>(16, round_.ids.size() / 100);
  const std::size_t end = std::min(round_.ids.size(), batch_round_next_ + per_batch);
  for (std::size_t i = batch_round_next_; i < end; ++i) {
    const std::string& id = round_.ids[i];
    std::optional<ConversationActivity::Entry> entry = activity_.current(id);
    if (!entry) continue;  // deleted since
    if (Status fatal = write_activity(id, *entry); !fatal.is_ok()) return fatal;
    batch_rows_written_.push_back(id);
  }
  batch_round_next_ = end;
  if (end < round_.ids.size()) return Status::ok();
  batch_ends_round_ = true;
  return set_turns_mark(round_.mark);
}

Status SqliteStore::write_activity(const std::string& id,
                                   const ConversationActivity::Entry& entry) {
  Statement& touch = writer_.touch_conversation;
  ResetOnExit reset(touch);
  touch.bind(1, entry.pk);
  touch.bind(2, entry.last_seq);
  touch.bind(3, entry.updated_at_ms);
  touch.bind(4, id);
  int rc = touch.step();
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "write conversation row");
  return Status::ok();
}

Status SqliteStore::set_turns_mark(std::int64_t turn_id) {
  Statement& mark = writer_.set_turns_mark;
  ResetOnExit reset(mark);
  mark.bind(1, turn_id);
  int rc = mark.step();
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "mark counted turns");
  return Status::ok();
}

// Keeps sqlite_sequence at the highest id this transaction gave out, so that no id is given
// out twice after a restart even when the newest turns are deleted before it. Once a
// transaction at most, and only when it gave out ids.
Status SqliteStore::store_log_ids() {
  const std::int64_t highest = next_log_id_ - 1;
  if (highest <= stored_log_id_) return Status::ok();
  Statement& store = writer_.store_log_ids;
  ResetOnExit reset(store);
  store.bind(1, highest);
  int rc = store.step();
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "store the events' sequence");
  stored_log_id_ = highest;
  return Status::ok();
}

// After a commit: what the round wrote counts, and the round moves on or ends.
void SqliteStore::account_rows_written() {
  if (batch_flushes_ || !round_.open) return;
  activity_.written(batch_rows_written_);
  round_.next = batch_round_next_;
  if (!batch_ends_round_) return;
  activity_.finish_round();
  round_ = RowRound{};
}

// ---- Reads -------------------------------------------------------------------------------

Result<ConversationRecord> SqliteStore::get_conversation(const std::string& id) {
  if (std::optional<ConversationRecord> cached = conversations_.find(id)) {
    return std::move(*cached);
  }
  const std::uint64_t generation = conversations_.generation();
  ReaderPool::Lease reader = readers_->acquire();
  Statement& get = reader->statements.get_conversation;
  ResetOnExit reset(get);
  get.bind(1, id);
  int rc = get.step();
  if (rc == SQLITE_DONE) return Status::not_found("store: no conversation " + id);
  if (rc != SQLITE_ROW) return sqlite_error(reader->db.handle(), rc, "get conversation");

  ConversationRecord record;
  read_conversation(get, record);
  activity_.overlay(record);
  conversations_.offer(record, generation);
  return record;
}

Result<std::vector<TurnRecord>> SqliteStore::list_turns(const std::string& conversation_id,
                                                        std::int64_t after_seq, std::size_t limit) {
  ReaderPool::Lease reader = readers_->acquire();
  Result<std::int64_t> pk = find_conversation_pk(*reader, conversation_id);
  if (!pk) return pk.status();

  Statement& list = reader->statements.list_turns;
  ResetOnExit reset(list);
  list.bind(1, *pk);
  list.bind(2, after_seq);
  list.bind(3, limit_for_sql(limit));

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

Result<std::vector<EventRecord>> SqliteStore::list_events(const EventQuery& query) {
  ReaderPool::Lease reader = readers_->acquire();
  std::int64_t pk = 0;
  if (!query.conversation_id.empty()) {
    Result<std::int64_t> found = find_conversation_pk(*reader, query.conversation_id);
    if (!found) return found.status();
    pk = *found;
  }

  Statement& list = event_list_for(reader->statements, pk != 0, !query.agent_id.empty());
  ResetOnExit reset(list);
  list.bind(1, pk);
  list.bind(2, query.agent_id);
  list.bind(3, query.after_id);
  list.bind(4, limit_for_sql(query.limit));
  // turn.created events are no agent's; only the lists without one read the turns.
  if (query.agent_id.empty()) list.bind(5, turns_logged_from_);

  std::vector<EventRecord> events;
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) read_event(list, events.emplace_back());
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, "list events");
  return events;
}

// One query per state, inside one snapshot so that a conversation changing state meanwhile
// is seen once; each reads at most `limit` rows, and the oldest of them are kept.
Result<std::vector<ConversationRecord>> SqliteStore::list_conversations_in_states(
    const std::vector<std::string>& states, std::size_t limit) {
  std::vector<std::string> wanted(states);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (wanted.empty() || limit == 0) return std::vector<ConversationRecord>{};

  ReaderPool::Lease reader = readers_->acquire();
  ReadSnapshot snapshot(*reader);
  if (Status status = snapshot.begin(); !status.is_ok()) return status;
  ConversationsByPk found;
  for (const std::string& state : wanted) {
    Status status = list_in_state(*reader, state, limit_for_sql(limit), found);
    if (!status.is_ok()) return status;
  }
  for (auto& [pk, record] : found) activity_.overlay(record);
  return oldest_first(std::move(found), limit);
}

Result<AgentRecord> SqliteStore::get_agent(const std::string& id) {
  ReaderPool::Lease reader = readers_->acquire();
  return read_one_agent(*reader, reader->statements.get_agent, id, "store: no agent " + id);
}

Result<AgentRecord> SqliteStore::get_agent_by_token_hash(const std::string& token_hash) {
  // Hashes are stored NULL when empty, so "" matches no agent, as it should.
  ReaderPool::Lease reader = readers_->acquire();
  return read_one_agent(*reader, reader->statements.get_agent_by_token_hash, token_hash,
                        "store: no agent has that token hash");
}

Result<std::vector<AgentRecord>> SqliteStore::list_agents() {
  ReaderPool::Lease reader = readers_->acquire();
  Statement& list = reader->statements.list_agents;
  ResetOnExit reset(list);

  std::vector<AgentRecord> agents;
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) read_agent(list, agents.emplace_back());
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, "list agents");
  return agents;
}

Result<std::int64_t> SqliteStore::get_cursor(const std::string& name) {
  ReaderPool::Lease reader = readers_->acquire();
  Statement& get = reader->statements.get_cursor;
  ResetOnExit reset(get);
  get.bind(1, name);
  const int rc = get.step();
  if (rc == SQLITE_DONE) return Status::not_found("store: no cursor " + name);
  if (rc != SQLITE_ROW) return sqlite_error(reader->db.handle(), rc, "get cursor");
  return get.column_int64(0);
}

}  // namespace handover::store
