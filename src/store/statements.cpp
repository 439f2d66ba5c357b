// SQL text of every statement the store runs, prepared once per connection.
#include "statements.hpp"

#include <utility>

namespace handover::store {
namespace {

template <class Statements>
using StatementSql = std::pair<Statement Statements::*, const char*>;

// find_client_turn, insert_turn and list_turns list the turn columns in the order that
// bind_turn and read_turn use.
constexpr StatementSql<WriterStatements> kWriterSql[] = {
    {&WriterStatements::begin, "BEGIN IMMEDIATE"},
    {&WriterStatements::commit, "COMMIT"},
    {&WriterStatements::rollback, "ROLLBACK"},
    {&WriterStatements::insert_conversation,
     "INSERT INTO conversations (public_id, channel, language, state, customer_id, "
     "customer_json, metadata_json, token_hash, created_at_ms, updated_at_ms, last_seq) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)"},
    {&WriterStatements::find_conversation,
     "SELECT pk, last_seq, state FROM conversations WHERE public_id = ?1"},
    {&WriterStatements::find_client_turn,
     "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
     "evaluation_json, content_hash, created_at_ms FROM turns "
     "WHERE conversation = ?1 AND client_turn_id = ?2"},
    {&WriterStatements::insert_turn,
     "INSERT INTO turns (conversation, seq, client_turn_id, role, text, bot_json, "
     "actions_json, metadata_json, evaluation_json, content_hash, created_at_ms) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
    {&WriterStatements::advance_conversation,
     "UPDATE conversations SET last_seq = ?2, updated_at_ms = ?3 WHERE pk = ?1"},
};

constexpr StatementSql<ReaderStatements> kReaderSql[] = {
    {&ReaderStatements::get_conversation,
     "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
     "token_hash, created_at_ms, updated_at_ms, last_seq FROM conversations "
     "WHERE public_id = ?1"},
    {&ReaderStatements::find_conversation_pk, "SELECT pk FROM conversations WHERE public_id = ?1"},
    {&ReaderStatements::list_turns,
     "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
     "evaluation_json, content_hash, created_at_ms FROM turns "
     "WHERE conversation = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"},
};

template <class Statements, std::size_t N>
Result<Statements> prepare_all(Connection& db, const StatementSql<Statements> (&table)[N]) {
  Statements statements;
  for (const auto& [member, sql] : table) {
    Result<Statement> prepared = db.prepare(sql);
    if (!prepared) return prepared.status();
    statements.*member = std::move(prepared).value();
  }
  return statements;
}

}  // namespace

Result<WriterStatements> WriterStatements::prepare(Connection& db) {
  return prepare_all(db, kWriterSql);
}

Result<ReaderStatements> ReaderStatements::prepare(Connection& db) {
  return prepare_all(db, kReaderSql);
}

void bind_conversation(Statement& insert, const ConversationRecord& record) {
  insert.bind(1, record.id);
  insert.bind(2, record.channel);
  insert.bind(3, record.language);
  insert.bind(4, record.state);
  insert.bind_text_or_null(5, record.customer_id);
  insert.bind(6, record.customer_json);
  insert.bind(7, record.metadata_json);
  insert.bind(8, record.token_hash);
  insert.bind(9, record.created_at_ms);
  insert.bind(10, record.updated_at_ms);
}

void read_conversation(const Statement& row, ConversationRecord& record) {
  row.column_text(0, record.id);
  row.column_text(1, record.channel);
  row.column_text(2, record.language);
  row.column_text(3, record.state);
  row.column_text(4, record.customer_id);
  row.column_text(5, record.customer_json);
  row.column_text(6, record.metadata_json);
  row.column_text(7, record.token_hash);
  record.created_at_ms = row.column_int64(8);
  record.updated_at_ms = row.column_int64(9);
  record.last_seq = row.column_int64(10);
}

void bind_turn(Statement& insert, std::int64_t conversation_pk, const TurnRecord& turn) {
  insert.bind(1, conversation_pk);
  insert.bind(2, turn.seq);
  insert.bind_text_or_null(3, turn.client_turn_id);
  insert.bind(4, turn.role);
  insert.bind(5, turn.text);
  insert.bind(6, turn.bot_json);
  insert.bind(7, turn.actions_json);
  insert.bind(8, turn.metadata_json);
  insert.bind(9, turn.evaluation_json);
  insert.bind(10, turn.content_hash);
  insert.bind(11, turn.created_at_ms);
}

void read_turn(const Statement& row, TurnRecord& turn) {
  turn.seq = row.column_int64(0);
  row.column_text(1, turn.client_turn_id);
  row.column_text(2, turn.role);
  row.column_text(3, turn.text);
  row.column_text(4, turn.bot_json);
  row.column_text(5, turn.actions_json);
  row.column_text(6, turn.metadata_json);
  row.column_text(7, turn.evaluation_json);
  row.column_text(8, turn.content_hash);
  turn.created_at_ms = row.column_int64(9);
}

}  // namespace handover::store
