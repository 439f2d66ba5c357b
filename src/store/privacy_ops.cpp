// The store's privacy operations: the audit trail, erasure and export of a customer, and the
// retention batches with free-space reclaim. The writes run on the writer thread like every
// other write (see sqlite_store.cpp for the rules of apply()).
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "handover/util/clock.hpp"
#include "sqlite_store.hpp"

namespace handover::store {
namespace {

constexpr std::size_t kExportPage = 1000;

std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

std::string counts_json(const ErasureOutcome& outcome) {
  return "{\"conversations\":" + std::to_string(outcome.conversations) +
         ",\"turns\":" + std::to_string(outcome.turns) +
         ",\"events\":" + std::to_string(outcome.events) +
         ",\"audit_records\":" + std::to_string(outcome.audit_records) + "}";
}

Statement& audit_list_for(ReaderStatements& statements, const AuditQuery& query) {
  if (!query.customer_id.empty()) return statements.list_audit_by_customer;
  if (!query.conversation_id.empty()) return statements.list_audit_by_conversation;
  return statements.list_audit;
}

}  // namespace

// ---- Audit records -------------------------------------------------------------------------

Status SqliteStore::insert_audit(AuditRecord& record, Status& request_status) {
  if (record.actor_kind.empty() || record.action.empty()) {
    request_status = Status::invalid_argument("store: audit record without actor kind or action");
    return Status::ok();
  }
  if (record.data_json.empty()) record.data_json = "{}";
  record.at_ms = clock_.now_ms();

  Statement& insert = writer_.insert_audit;
  ResetOnExit reset(insert);
  bind_audit(insert, record);
  int rc = insert.step();
  if (rc != SQLITE_DONE) {
    return request_failed(sqlite_error(writer_db_.handle(), rc, "insert audit record"),
                          request_status);
  }
  record.id = writer_db_.last_insert_rowid();
  return Status::ok();
}

Status SqliteStore::apply(AuditOp& op) { return insert_audit(op.reply, op.status); }

// ---- Erasure -------------------------------------------------------------------------------

// The statements of an erasure: by customer id, or of one conversation by its id.
struct SqliteStore::EraseStatements {
  Statement& find_busy;
  Statement& count_turns;
  Statement& count_events;
  Statement& delete_audit;
  Statement& erase;
};

SqliteStore::EraseStatements SqliteStore::erase_statements(const ErasureRequest& request) {
  WriterStatements& w = writer_;
  if (!request.conversation_id.empty()) {
    return {w.find_busy_one, w.count_one_turns, w.count_one_events, w.delete_one_audit,
            w.delete_one_conversation};
  }
  return {w.find_busy_conversation, w.count_customer_turns, w.count_customer_events,
          w.delete_customer_audit, w.delete_customer};
}

Status SqliteStore::apply(EraseOp& op) {
  const ErasureRequest& request = op.request;
  if (request.customer_id.empty() == request.conversation_id.empty()) {
    op.status = Status::invalid_argument("store: erase needs a customer id or a conversation id");
    return Status::ok();
  }
  const std::string& key =
      request.customer_id.empty() ? request.conversation_id : request.customer_id;
  EraseStatements statements = erase_statements(request);
  Status fatal = refuse_busy(op, statements.find_busy, key);
  if (!fatal.is_ok() || !op.status.is_ok()) return fatal;

  Result<std::int64_t> turns = count_rows(statements.count_turns, key);
  if (!turns) return request_failed(turns.status(), op.status);
  // turn.created events of newer turns are the turns themselves (schema step 10).
  statements.count_events.bind(2, turns_logged_from_);
  Result<std::int64_t> events = count_rows(statements.count_events, key);
  if (!events) return request_failed(events.status(), op.status);
  op.reply.turns = *turns;
  op.reply.events = *events;
  return delete_erased_rows(op, statements, key);
}

// A conversation a person has (or is about to get) cannot vanish under the routing engine.
Status SqliteStore::refuse_busy(EraseOp& op, Statement& find, const std::string& key) {
  ResetOnExit reset(find);
  find.bind(1, key);
  int rc = find.step();
  if (rc == SQLITE_DONE) return Status::ok();
  if (rc != SQLITE_ROW) {
    return request_failed(sqlite_error(writer_db_.handle(), rc, "find busy conversation"),
                          op.status);
  }
  std::string id;
  std::string state;
  find.column_text(0, id);
  find.column_text(1, state);
  const char* whose = op.request.customer_id.empty() ? "" : " of the customer";
  op.status = Status::conflict("store: conversation " + id + whose + " is in state '" + state +
                               "'; erase it once it is back with the bot");
  return Status::ok();
}

Result<std::int64_t> SqliteStore::count_rows(Statement& count, const std::string& key) {
  ResetOnExit reset(count);
  count.bind(1, key);
  int rc = count.step();
  if (rc != SQLITE_ROW) return sqlite_error(writer_db_.handle(), rc, "count erased rows");
  return count.column_int64(0);
}

// Audit records first (they find the conversations by their ids), then the conversations with
// their turns and events, then the anonymised record of the erasure.
Status SqliteStore::delete_erased_rows(EraseOp& op, EraseStatements& statements,
                                       const std::string& key) {
  Statement& audit = statements.delete_audit;
  ResetOnExit reset_audit(audit);
  audit.bind(1, key);
  int rc = audit.step();
  if (rc != SQLITE_DONE) {
    return request_failed(sqlite_error(writer_db_.handle(), rc, "delete erased audit"),
                          op.status);
  }
  op.reply.audit_records = sqlite3_changes64(writer_db_.handle());

  // From here on rows are gone, so no failure can stay this request's own.
  Statement& erase = statements.erase;
  ResetOnExit reset(erase);
  erase.bind(1, key);
  while ((rc = erase.step()) == SQLITE_ROW) {
    std::string& id = op.reply.conversation_ids.emplace_back();
    erase.column_text(0, id);
    forget_head(id);
  }
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "delete erased rows");
  op.reply.conversations = static_cast<std::int64_t>(op.reply.conversation_ids.size());
  if (op.reply.conversations > 0 || op.reply.audit_records > 0) checkpoint_after_batch_ = true;

  AuditRecord& record = op.request.audit;
  record.conversation_id.clear();
  record.customer_id.clear();
  record.data_json = counts_json(op.reply);
  Status own = Status::ok();
  Status fatal = insert_audit(record, own);
  if (!fatal.is_ok()) return fatal;
  if (!own.is_ok()) return own;
  op.reply.audit_id = record.id;
  return Status::ok();
}

// ---- Retention -----------------------------------------------------------------------------

Status SqliteStore::apply(RetentionOp& op) {
  // Retention picks conversations by their rows' time of activity: the rows must be current.
  if (Status fatal = write_heads(/*flush=*/true); !fatal.is_ok()) return fatal;
  Statement* statement = nullptr;
  switch (op.batch.data_class) {
    case RetentionClass::kTurns:
      statement = &writer_.retire_turns;
      break;
    case RetentionClass::kConversations:
      statement = &writer_.retire_conversations;
      break;
    case RetentionClass::kSnapshots:
      statement = &writer_.strip_snapshots;
      break;
    case RetentionClass::kFeedback:
      statement = &writer_.strip_notes;
      break;
    case RetentionClass::kEvents:
      statement = &writer_.retire_events;
      break;
    case RetentionClass::kAccessLog:
      statement = &writer_.retire_audit;
      break;
    case RetentionClass::kEventTexts:
      statement = &writer_.strip_event_texts;
      break;
  }
  if (op.batch.data_class == RetentionClass::kTurns) {
    Statement& keep = writer_.keep_retired_turn_events;
    keep.bind(3, turns_logged_from_);  // kept: a reset leaves the bindings
    Result<std::int64_t> kept = step_retention(keep, op);
    if (!kept) return kept.status();
  }
  Result<std::int64_t> rows = step_retention(*statement, op);
  if (!rows) return rows.status();
  op.reply.rows = *rows;
  if (*rows > 0) retired_since_checkpoint_ = true;
  return Status::ok();
}

// Runs one retention statement. Its rows are written as it steps, so a failure loses the
// transaction rather than this request alone.
Result<std::int64_t> SqliteStore::step_retention(Statement& statement, RetentionOp& op) {
  ResetOnExit reset(statement);
  statement.bind(1, op.batch.cutoff_ms);
  statement.bind(2, sql_limit(op.batch.limit));
  int rc;
  while ((rc = statement.step()) == SQLITE_ROW) {
    std::string& id = op.reply.conversation_ids.emplace_back();
    statement.column_text(0, id);
    forget_head(id);
  }
  if (rc != SQLITE_DONE) return sqlite_error(writer_db_.handle(), rc, "retention batch");
  return sqlite3_changes64(writer_db_.handle());
}

Result<std::int64_t> SqliteStore::free_pages() {
  Statement& count = writer_.freelist_count;
  ResetOnExit reset(count);
  int rc = count.step();
  if (rc != SQLITE_ROW) return sqlite_error(writer_db_.handle(), rc, "freelist_count");
  return count.column_int64(0);
}

Status SqliteStore::apply(ReclaimOp& op) {
  // A retention run ends with this request: as after an erasure, the WAL that still holds
  // the deleted rows is folded in and truncated once the batch commits.
  if (retired_since_checkpoint_) {
    checkpoint_after_batch_ = true;
    retired_since_checkpoint_ = false;
  }
  if (!incremental_vacuum_ || op.pages <= 0) return Status::ok();
  Result<std::int64_t> before = free_pages();
  if (!before) return request_failed(before.status(), op.status);
  // PRAGMA arguments cannot be bound; the count is a number we made.
  const std::string sql = "PRAGMA incremental_vacuum(" + std::to_string(op.pages) + ")";
  if (Status status = writer_db_.exec(sql.c_str(), "incremental_vacuum"); !status.is_ok()) {
    return status;
  }
  Result<std::int64_t> after = free_pages();
  if (!after) return after.status();
  op.reply = std::max<std::int64_t>(0, *before - *after);
  return Status::ok();
}

// ---- Reads ---------------------------------------------------------------------------------

Result<std::vector<AuditRecord>> SqliteStore::list_audit(const AuditQuery& query) {
  ReaderPool::Lease reader = readers_->acquire();
  Statement& list = audit_list_for(reader->statements, query);
  ResetOnExit reset(list);
  list.bind(1, query.customer_id);
  list.bind(2, query.conversation_id);
  list.bind(3, query.from_ms);
  list.bind(4, query.to_ms);
  list.bind(5, query.after_id);
  list.bind(6, sql_limit(query.limit));

  std::vector<AuditRecord> records;
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) read_audit(list, records.emplace_back());
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, "list audit records");
  return records;
}

Status SqliteStore::export_conversation(Reader& reader, std::int64_t pk,
                                        CustomerExport::Conversation& out) {
  Statement& turns = reader.statements.list_turns;
  for (std::int64_t after = 0;;) {
    ResetOnExit reset(turns);
    turns.bind(1, pk);
    turns.bind(2, after);
    turns.bind(3, sql_limit(kExportPage));
    std::size_t read = 0;
    int rc;
    while ((rc = turns.step()) == SQLITE_ROW) {
      TurnRecord& turn = out.turns.emplace_back();
      turn.conversation_id = out.record.id;
      read_turn(turns, turn);
      after = turn.seq;
      ++read;
    }
    if (rc != SQLITE_DONE) return sqlite_error(reader.db.handle(), rc, "export turns");
    if (read < kExportPage) break;
  }
  Statement& events = reader.statements.list_conversation_events;
  for (std::int64_t after = 0;;) {
    ResetOnExit reset(events);
    events.bind(1, pk);
    events.bind(2, std::string_view());
    events.bind(3, after);
    events.bind(4, sql_limit(kExportPage));
    events.bind(5, turns_logged_from_);
    std::size_t read = 0;
    int rc;
    while ((rc = events.step()) == SQLITE_ROW) {
      read_event(events, out.events.emplace_back());
      after = out.events.back().id;
      ++read;
    }
    if (rc != SQLITE_DONE) return sqlite_error(reader.db.handle(), rc, "export events");
    if (read < kExportPage) break;
  }
  return Status::ok();
}

Result<CustomerExport> SqliteStore::export_customer(const std::string& customer_id) {
  if (customer_id.empty()) return Status::invalid_argument("store: customer id is empty");
  ReaderPool::Lease reader = readers_->acquire();
  Statement& begin = reader->statements.begin_read;
  int rc = begin.step();
  begin.reset();
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, "begin read");
  auto end_read = [&reader] {
    reader->statements.end_read.step();
    reader->statements.end_read.reset();
  };

  CustomerExport out;
  std::vector<std::int64_t> pks;
  {
    Statement& list = reader->statements.list_customer_conversations;
    ResetOnExit reset(list);
    list.bind(1, customer_id);
    while ((rc = list.step()) == SQLITE_ROW) {
      ConversationRecord& record = out.conversations.emplace_back().record;
      read_conversation(list, record);
      activity_.overlay(record);
      pks.push_back(list.column_int64(kConversationPkColumn));
    }
  }
  Status status = rc == SQLITE_DONE ? Status::ok()
                                    : sqlite_error(reader->db.handle(), rc, "export conversations");
  for (std::size_t i = 0; status.is_ok() && i < pks.size(); ++i) {
    status = export_conversation(*reader, pks[i], out.conversations[i]);
  }
  for (std::int64_t after = 0; status.is_ok();) {
    Statement& list = reader->statements.list_audit_by_customer;
    ResetOnExit reset(list);
    list.bind(1, customer_id);
    list.bind(2, std::string_view());
    list.bind(3, std::int64_t{0});
    list.bind(4, std::numeric_limits<std::int64_t>::max());
    list.bind(5, after);
    list.bind(6, sql_limit(kExportPage));
    std::size_t read = 0;
    while ((rc = list.step()) == SQLITE_ROW) {
      read_audit(list, out.audit.emplace_back());
      after = out.audit.back().id;
      ++read;
    }
    if (rc != SQLITE_DONE) status = sqlite_error(reader->db.handle(), rc, "export audit");
    if (read < kExportPage) break;
  }
  end_read();
  if (!status.is_ok()) return status;
  return out;
}

}  // namespace handover::store
