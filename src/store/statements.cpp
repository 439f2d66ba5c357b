// SQL text of every statement the store runs, prepared once per connection.
#include "statements.hpp"

#include <utility>

namespace handover::store {
namespace {

// A turn stored since schema step 10 is its own turn.created event (store.hpp,
// kTurnCreatedEvent): its id is the event's, and these columns, in read_event's order, are
// the event's row. SqliteStore::log_turn_created writes the same data for the feed.
#define HANDOVER_TURN_CREATED_DATA                                                        \
  "'{\"seq\":' || t.seq || ',\"role\":' || json_quote(t.role) || ',\"state\":' || " \
  "json_quote(t.state_after) || '}'"
#define HANDOVER_TURN_CREATED_COLUMNS \
  "t.id, c.public_id, NULL, 'turn.created', " HANDOVER_TURN_CREATED_DATA ", t.created_at_ms"

// The turns a retention batch deletes (?1 cutoff_ms, ?2 limit), oldest first.
#define HANDOVER_TURNS_TO_RETIRE                                           \
  "SELECT t.id FROM turns AS t JOIN conversations AS c ON c.pk = t.conversation " \
  "WHERE t.created_at_ms < ?1 AND +c.state = 'bot' ORDER BY t.created_at_ms LIMIT ?2"

template <class Statements>
using StatementSql = std::pair<Statement Statements::*, const char*>;

// find_client_turn, insert_turn and list_turns list the turn columns in the order that
// bind_turn and read_turn use; the event and agent statements follow bind_event, read_event,
// bind_agent and read_agent likewise. Parameters a statement does not use may still be bound
// (SQLite numbers them up to the highest one in the text), which lets the four event lists
// share one binding.
constexpr StatementSql<WriterStatements> kWriterSql[] = {
    {&WriterStatements::begin, "BEGIN IMMEDIATE"},
    {&WriterStatements::commit, "COMMIT"},
    {&WriterStatements::rollback, "ROLLBACK"},
    {&WriterStatements::insert_conversation,
     "INSERT INTO conversations (public_id, channel, language, state, customer_id, "
     "customer_json, metadata_json, token_hash, created_at_ms, updated_at_ms, last_seq, "
     "privacy_notice_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)"},
    {&WriterStatements::find_conversation,
     "SELECT pk, last_seq, state FROM conversations WHERE public_id = ?1"},
    {&WriterStatements::find_client_turn,
     "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
     "turn_evaluation(evaluation_json, evaluation_packed, id), content_hash, created_at_ms "
     "FROM turns "
     "WHERE conversation = ?1 AND client_turn_id = ?2"},
    {&WriterStatements::insert_turn,
     "INSERT INTO turns (conversation, seq, client_turn_id, role, text, bot_json, "
     "actions_json, metadata_json, evaluation_json, content_hash, created_at_ms, "
     "evaluation_packed, id, state_after) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?12, ?10, ?11, ?9, ?13, ?14)"},
    {&WriterStatements::set_turn_state, "UPDATE turns SET state_after = ?2 WHERE id = ?1"},
    {&WriterStatements::advance_conversation,
     "UPDATE conversations SET last_seq = ?2, updated_at_ms = ?3, state = ?4, "
     "metadata_json = coalesce(?5, metadata_json) WHERE pk = ?1"},
    {&WriterStatements::touch_conversation,
     "UPDATE conversations SET last_seq = max(last_seq, ?2), "
     "updated_at_ms = max(updated_at_ms, ?3) WHERE pk = ?1 AND public_id = ?4"},
    {&WriterStatements::set_turns_mark,
     "UPDATE store_marks SET value = ?1 WHERE name = 'rows_count_turns_through'"},
    {&WriterStatements::max_turn_id, "SELECT coalesce(max(id), 0) FROM turns"},
    {&WriterStatements::get_conversation,
     "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
     "token_hash, created_at_ms, updated_at_ms, last_seq, privacy_notice_version FROM "
     "conversations WHERE pk = ?1"},
    {&WriterStatements::insert_event,
     "INSERT INTO events (id, conversation, agent_id, type, data_json, created_at_ms) "
     "VALUES (?6, ?1, ?2, ?3, ?4, ?5)"},
    // AUTOINCREMENT keeps the highest event id ever given out here; the writer gives out the
    // ids of turns (see kTurnCreatedColumns) from the same sequence and stores its end with
    // each transaction, so an id is never given out twice, whatever is deleted later.
    {&WriterStatements::store_log_ids,
     "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'events' AND seq < ?1"},
    {&WriterStatements::read_log_ids,
     "SELECT coalesce((SELECT value FROM store_marks WHERE name = 'turns_logged_from'), 0), "
     "max((SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'), "
     "(SELECT coalesce(max(id), 0) FROM turns), (SELECT coalesce(max(id), 0) FROM events))"},
    // Turns and events go with their conversation (ON DELETE CASCADE).
    {&WriterStatements::delete_customer,
     "DELETE FROM conversations WHERE customer_id = ?1 RETURNING public_id"},
    {&WriterStatements::insert_audit,
     "INSERT INTO audit_log (at_ms, actor_kind, actor_id, action, reason, conversation_id, "
     "customer_id, data_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    {&WriterStatements::find_busy_conversation,
     "SELECT public_id, state FROM conversations WHERE customer_id = ?1 AND state <> 'bot' "
     "LIMIT 1"},
    {&WriterStatements::count_customer_turns,
     "SELECT count(*) FROM turns WHERE conversation IN "
     "(SELECT pk FROM conversations WHERE customer_id = ?1)"},
    {&WriterStatements::count_customer_events,
     "SELECT (SELECT count(*) FROM events WHERE conversation IN "
     "(SELECT pk FROM conversations WHERE customer_id = ?1)) + "
     "(SELECT count(*) FROM turns WHERE id >= ?2 AND conversation IN "
     "(SELECT pk FROM conversations WHERE customer_id = ?1))"},
    {&WriterStatements::delete_customer_audit,
     "DELETE FROM audit_log WHERE customer_id = ?1 OR conversation_id IN "
     "(SELECT public_id FROM conversations WHERE customer_id = ?1)"},
    {&WriterStatements::delete_one_conversation,
     "DELETE FROM conversations WHERE public_id = ?1 RETURNING public_id"},
    {&WriterStatements::find_busy_one,
     "SELECT public_id, state FROM conversations WHERE public_id = ?1 AND state <> 'bot'"},
    {&WriterStatements::count_one_turns,
     "SELECT count(*) FROM turns WHERE conversation = "
     "(SELECT pk FROM conversations WHERE public_id = ?1)"},
    {&WriterStatements::count_one_events,
     "SELECT (SELECT count(*) FROM events WHERE conversation = "
     "(SELECT pk FROM conversations WHERE public_id = ?1)) + "
     "(SELECT count(*) FROM turns WHERE id >= ?2 AND conversation = "
     "(SELECT pk FROM conversations WHERE public_id = ?1))"},
    {&WriterStatements::delete_one_audit, "DELETE FROM audit_log WHERE conversation_id = ?1"},
    // Retention: each takes ?1 cutoff_ms, ?2 limit. Only conversations in state 'bot' are
    // touched; the rows go oldest first through the *_by_age, *_by_idle and partial indexes
    // (the unary '+' keeps the planner off the state index, which nearly every row matches).
    // A turn that is its own turn.created event (?3 the first such id) leaves the event
    // behind as a row, which then follows the events' retention as before schema step 10.
    {&WriterStatements::keep_retired_turn_events,
     "INSERT INTO events (id, conversation, agent_id, type, data_json, created_at_ms) "
     "SELECT t.id, t.conversation, NULL, 'turn.created', " HANDOVER_TURN_CREATED_DATA ", "
     "t.created_at_ms FROM turns AS t WHERE t.id >= ?3 AND t.id IN (" HANDOVER_TURNS_TO_RETIRE
     ")"},
    {&WriterStatements::retire_turns,
     "DELETE FROM turns WHERE id IN (" HANDOVER_TURNS_TO_RETIRE ")"},
    {&WriterStatements::retire_conversations,
     "DELETE FROM conversations WHERE pk IN (SELECT pk FROM conversations "
     "WHERE updated_at_ms < ?1 AND +state = 'bot' ORDER BY updated_at_ms LIMIT ?2) "
     "RETURNING public_id"},
    {&WriterStatements::strip_snapshots,
     "UPDATE events SET data_json = json_remove(data_json, '$.snapshot') WHERE id IN "
     "(SELECT e.id FROM events AS e LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE e.type = 'handover.escalated' AND json_type(e.data_json, '$.snapshot') IS NOT NULL "
     "AND e.created_at_ms < ?1 AND (c.pk IS NULL OR c.state = 'bot') "
     "ORDER BY e.created_at_ms LIMIT ?2)"},
    {&WriterStatements::strip_notes,
     "UPDATE events SET data_json = CASE WHEN type = 'agent.unassigned' "
     "THEN json_set(data_json, '$.note', '') ELSE json_set(data_json, '$.data.note', '') END "
     "WHERE id IN (SELECT e.id FROM events AS e "
     "LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE (((e.type = 'routing.resolved' OR e.type = 'routing.returned' "
     "OR e.type = 'routing.transferred') AND json_extract(e.data_json, '$.data.note') <> '') "
     "OR (e.type = 'agent.unassigned' AND json_extract(e.data_json, '$.note') <> '')) "
     "AND e.created_at_ms < ?1 AND (c.pk IS NULL OR c.state = 'bot') "
     "ORDER BY e.created_at_ms LIMIT ?2)"},
    // The condition on the types is the one of the partial index events_with_text (schema
    // step 12), spelt the same way so that the planner reads the index.
    {&WriterStatements::strip_event_texts,
     "UPDATE events SET data_json = CASE type WHEN 'agent.turn' "
     "THEN json_set(json_remove(data_json, '$.turn.actions', '$.turn.bot', '$.turn.metadata'), "
     "'$.turn.text', '', '$.redacted', json('true')) "
     "WHEN 'handover.rated' THEN json_set(data_json, '$.comment', '') "
     "ELSE json_set(CASE WHEN json_type(data_json, '$.reasons') IN ('object', 'array') "
     "THEN json_set(data_json, '$.reasons', "
     "json(handover_reasons_stripped(json_extract(data_json, '$.reasons')))) "
     "ELSE data_json END, '$.redacted', json('true')) END "
     "WHERE id IN (SELECT e.id FROM events AS e "
     "LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE (((e.type = 'agent.turn' OR e.type = 'handover.escalated' "
     "OR e.type = 'handover.requested') AND json_type(e.data_json, '$.redacted') IS NULL) "
     "OR (e.type = 'handover.rated' AND json_extract(e.data_json, '$.comment') <> '')) "
     "AND e.created_at_ms < ?1 AND (c.pk IS NULL OR c.state = 'bot') "
     "ORDER BY e.created_at_ms LIMIT ?2)"},
    {&WriterStatements::retire_events,
     "DELETE FROM events WHERE id IN (SELECT e.id FROM events AS e "
     "LEFT JOIN conversations AS c ON c.pk = e.conversation WHERE e.created_at_ms < ?1 "
     "AND (e.conversation IS NULL OR (c.state = 'bot' AND c.updated_at_ms < ?1)) "
     "ORDER BY e.created_at_ms LIMIT ?2)"},
    {&WriterStatements::retire_audit,
     "DELETE FROM audit_log WHERE id IN "
     "(SELECT id FROM audit_log WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)"},
    {&WriterStatements::freelist_count, "PRAGMA freelist_count"},
    {&WriterStatements::insert_agent,
     "INSERT INTO agents (agent_id, name, display_name, token_hash, skills_json, "
     "languages_json, capacity, disabled, created_at_ms, updated_at_ms) "
     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
    {&WriterStatements::update_agent,
     "UPDATE agents SET name = ?2, display_name = ?3, token_hash = ?4, skills_json = ?5, "
     "languages_json = ?6, capacity = ?7, disabled = ?8, updated_at_ms = ?10 "
     "WHERE agent_id = ?1 RETURNING created_at_ms"},
    {&WriterStatements::put_cursor,
     "INSERT INTO delivery_cursors (name, event_id, updated_at_ms) VALUES (?1, ?2, ?3) "
     "ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id, "
     "updated_at_ms = excluded.updated_at_ms"},
};

constexpr StatementSql<ReaderStatements> kReaderSql[] = {
    {&ReaderStatements::list_customer_conversations,
     "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
     "token_hash, created_at_ms, updated_at_ms, last_seq, privacy_notice_version, pk "
     "FROM conversations WHERE customer_id = ?1 ORDER BY pk"},
    // Each binds ?1 customer_id, ?2 conversation_id ('' for any), ?3 from_ms, ?4 to_ms,
    // ?5 after id, ?6 limit -> audit columns.
    {&ReaderStatements::list_audit_by_customer,
     "SELECT id, at_ms, actor_kind, actor_id, action, reason, conversation_id, customer_id, "
     "data_json FROM audit_log WHERE customer_id = ?1 AND (?2 = '' OR conversation_id = ?2) "
     "AND at_ms >= ?3 AND at_ms < ?4 AND id > ?5 ORDER BY id LIMIT ?6"},
    {&ReaderStatements::list_audit_by_conversation,
     "SELECT id, at_ms, actor_kind, actor_id, action, reason, conversation_id, customer_id, "
     "data_json FROM audit_log WHERE conversation_id = ?2 "
     "AND at_ms >= ?3 AND at_ms < ?4 AND id > ?5 ORDER BY id LIMIT ?6"},
    {&ReaderStatements::list_audit,
     "SELECT id, at_ms, actor_kind, actor_id, action, reason, conversation_id, customer_id, "
     "data_json FROM audit_log WHERE at_ms >= ?3 AND at_ms < ?4 AND id > ?5 "
     "ORDER BY id LIMIT ?6"},
    {&ReaderStatements::get_conversation,
     "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
     "token_hash, created_at_ms, updated_at_ms, last_seq, privacy_notice_version "
     "FROM conversations WHERE public_id = ?1"},
    {&ReaderStatements::find_conversation_pk, "SELECT pk FROM conversations WHERE public_id = ?1"},
    {&ReaderStatements::list_turns,
     "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
     "turn_evaluation(evaluation_json, evaluation_packed, id), content_hash, created_at_ms "
     "FROM turns "
     "WHERE conversation = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"},
    {&ReaderStatements::begin_read, "BEGIN"},
    {&ReaderStatements::end_read, "ROLLBACK"},
    {&ReaderStatements::list_conversations_in_state,
     "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
     "token_hash, created_at_ms, updated_at_ms, last_seq, privacy_notice_version, pk "
     "FROM conversations WHERE state = ?1 ORDER BY pk LIMIT ?2"},
    // The two lists that can hold turn.created events merge the event rows with the turns
    // that are their own events (?5, see kTurnCreatedEvent); agents' lists hold none.
    {&ReaderStatements::list_events,
     "SELECT e.id, c.public_id, e.agent_id, e.type, e.data_json, e.created_at_ms "
     "FROM events AS e LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE e.id > ?3 "
     "UNION ALL SELECT " HANDOVER_TURN_CREATED_COLUMNS " "
     "FROM turns AS t JOIN conversations AS c ON c.pk = t.conversation "
     "WHERE t.id > max(?3, ?5 - 1) ORDER BY 1 LIMIT ?4"},
    {&ReaderStatements::list_conversation_events,
     "SELECT e.id, c.public_id, e.agent_id, e.type, e.data_json, e.created_at_ms "
     "FROM events AS e LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE e.conversation = ?1 AND e.id > ?3 "
     "UNION ALL SELECT " HANDOVER_TURN_CREATED_COLUMNS " "
     "FROM turns AS t JOIN conversations AS c ON c.pk = t.conversation "
     "WHERE t.conversation = ?1 AND t.id > max(?3, ?5 - 1) ORDER BY 1 LIMIT ?4"},
    {&ReaderStatements::list_agent_events,
     "SELECT e.id, c.public_id, e.agent_id, e.type, e.data_json, e.created_at_ms "
     "FROM events AS e LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE e.agent_id = ?2 AND e.id > ?3 ORDER BY e.id LIMIT ?4"},
    {&ReaderStatements::list_conversation_agent_events,
     "SELECT e.id, c.public_id, e.agent_id, e.type, e.data_json, e.created_at_ms "
     "FROM events AS e LEFT JOIN conversations AS c ON c.pk = e.conversation "
     "WHERE e.conversation = ?1 AND e.agent_id = ?2 AND e.id > ?3 ORDER BY e.id LIMIT ?4"},
    {&ReaderStatements::get_agent,
     "SELECT agent_id, name, display_name, token_hash, skills_json, languages_json, capacity, "
     "disabled, created_at_ms, updated_at_ms FROM agents WHERE agent_id = ?1"},
    {&ReaderStatements::get_agent_by_token_hash,
     "SELECT agent_id, name, display_name, token_hash, skills_json, languages_json, capacity, "
     "disabled, created_at_ms, updated_at_ms FROM agents WHERE token_hash = ?1"},
    {&ReaderStatements::list_agents,
     "SELECT agent_id, name, display_name, token_hash, skills_json, languages_json, capacity, "
     "disabled, created_at_ms, updated_at_ms FROM agents ORDER BY agent_id"},
    {&ReaderStatements::get_cursor, "SELECT event_id FROM delivery_cursors WHERE name = ?1"},
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
  insert.bind_text_or_null(11, record.privacy_notice_version);
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
  row.column_text(11, record.privacy_notice_version);
}

void bind_turn(Statement& insert, std::int64_t conversation_pk, std::int64_t id,
               const TurnRecord& turn, std::string_view packed_evaluation,
               std::string_view state_after) {
  insert.bind(1, conversation_pk);
  insert.bind(2, turn.seq);
  insert.bind_text_or_null(3, turn.client_turn_id);
  insert.bind(4, turn.role);
  insert.bind(5, turn.text);
  insert.bind(6, turn.bot_json);
  insert.bind(7, turn.actions_json);
  insert.bind(8, turn.metadata_json);
  insert.bind_blob_or_null(9, packed_evaluation);
  // An evaluation too large to pack stays text.
  insert.bind(12, packed_evaluation.empty() ? std::string_view(turn.evaluation_json)
                                            : std::string_view());
  insert.bind(10, turn.content_hash);
  insert.bind(11, turn.created_at_ms);
  insert.bind(13, id);
  insert.bind(14, state_after);
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

void bind_event(Statement& insert, std::int64_t conversation_pk, const EventRecord& event) {
  if (conversation_pk != 0) {
    insert.bind(1, conversation_pk);
  } else {
    insert.bind_null(1);
  }
  insert.bind_text_or_null(2, event.agent_id);
  insert.bind(3, event.type);
  insert.bind(4, event.data_json);
  insert.bind(5, event.created_at_ms);
  insert.bind(6, event.id);
}

void read_event(const Statement& row, EventRecord& event) {
  event.id = row.column_int64(0);
  row.column_text(1, event.conversation_id);
  row.column_text(2, event.agent_id);
  row.column_text(3, event.type);
  row.column_text(4, event.data_json);
  event.created_at_ms = row.column_int64(5);
}

void bind_audit(Statement& insert, const AuditRecord& record) {
  insert.bind(1, record.at_ms);
  insert.bind(2, record.actor_kind);
  insert.bind(3, record.actor_id);
  insert.bind(4, record.action);
  insert.bind(5, record.reason);
  insert.bind_text_or_null(6, record.conversation_id);
  insert.bind_text_or_null(7, record.customer_id);
  insert.bind(8, record.data_json);
}

void read_audit(const Statement& row, AuditRecord& record) {
  record.id = row.column_int64(0);
  record.at_ms = row.column_int64(1);
  row.column_text(2, record.actor_kind);
  row.column_text(3, record.actor_id);
  row.column_text(4, record.action);
  row.column_text(5, record.reason);
  row.column_text(6, record.conversation_id);
  row.column_text(7, record.customer_id);
  row.column_text(8, record.data_json);
}

void bind_agent(Statement& statement, const AgentRecord& agent) {
  statement.bind(1, agent.id);
  statement.bind(2, agent.name);
  statement.bind(3, agent.display_name);
  statement.bind_text_or_null(4, agent.token_hash);
  statement.bind(5, agent.skills_json);
  statement.bind(6, agent.languages_json);
  statement.bind(7, std::int64_t{agent.capacity});
  statement.bind(8, std::int64_t{agent.disabled ? 1 : 0});
  statement.bind(9, agent.created_at_ms);
  statement.bind(10, agent.updated_at_ms);
}

void read_agent(const Statement& row, AgentRecord& agent) {
  row.column_text(0, agent.id);
  row.column_text(1, agent.name);
  row.column_text(2, agent.display_name);
  row.column_text(3, agent.token_hash);
  row.column_text(4, agent.skills_json);
  row.column_text(5, agent.languages_json);
  agent.capacity = static_cast<int>(row.column_int64(6));
  agent.disabled = row.column_int64(7) != 0;
  agent.created_at_ms = row.column_int64(8);
  agent.updated_at_ms = row.column_int64(9);
}

}  // namespace handover::store
