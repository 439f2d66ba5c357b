// The prepared statements of the writer and reader connections, and the mapping between
// their rows and the store's records.
#pragma once

#include <cstdint>

#include "handover/store/store.hpp"
#include "sqlite.hpp"

namespace handover::store {

// Prepared once on the writer connection; used only by the writer thread.
struct WriterStatements {
  Statement begin;  // BEGIN IMMEDIATE
  Statement commit;
  Statement rollback;
  Statement insert_conversation;   // binds as bind_conversation
  Statement find_conversation;     // ?1 public id -> pk, last_seq, state
  Statement find_client_turn;      // ?1 pk, ?2 client_turn_id -> turn columns
  Statement insert_turn;           // binds as bind_turn
  Statement set_turn_state;        // ?1 turn id, ?2 the conversation's state after it
  // ?1 pk, ?2 last_seq, ?3 updated_at_ms, ?4 state, ?5 metadata_json (NULL keeps it)
  Statement advance_conversation;
  // ?1 pk, ?2 last_seq, ?3 updated_at_ms, ?4 public id: raises the two columns to these
  // values; a pk given to a newer conversation since (the public id differs) is left alone.
  Statement touch_conversation;
  // ?1 turn id: every turn up to it is counted in its conversation's row
  Statement set_turns_mark;
  Statement max_turn_id;  // -> id of the newest turn, 0 when none
  Statement get_conversation;  // ?1 pk -> conversation columns
  Statement insert_event;      // binds as bind_event
  // The events' sequence, which also numbers turns: ?1 the highest id given out.
  Statement store_log_ids;
  // -> the first turn that is its own turn.created event (0 before schema step 10), the
  // highest id given out so far
  Statement read_log_ids;
  Statement delete_customer;   // ?1 customer_id -> public id of each deleted conversation
  Statement insert_agent;      // binds as bind_agent
  Statement update_agent;      // binds as bind_agent -> created_at_ms
  Statement insert_audit;      // binds as bind_audit
  // Erasure, each ?1 customer_id.
  Statement find_busy_conversation;  // -> public id, state of one not in state 'bot'
  Statement count_customer_turns;    // -> count
  Statement count_customer_events;   // ?2 first turn that is its own event -> count
  Statement delete_customer_audit;
  // The same for one conversation, each ?1 its public id.
  Statement delete_one_conversation;  // -> its public id when it was deleted
  Statement find_busy_one;            // -> public id, state when not in state 'bot'
  Statement count_one_turns;          // -> count
  Statement count_one_events;         // ?2 first turn that is its own event -> count
  Statement delete_one_audit;
  // Retention, each ?1 cutoff_ms, ?2 limit.
  Statement keep_retired_turn_events;  // ?3 first turn that is its own event
  Statement retire_turns;
  Statement retire_conversations;  // -> public id of each deleted conversation
  Statement strip_snapshots;
  Statement strip_notes;
  Statement strip_event_texts;
  Statement retire_events;
  Statement retire_audit;
  Statement freelist_count;  // -> free pages in the file
  Statement put_cursor;        // ?1 name, ?2 event id, ?3 updated_at_ms

  static Result<WriterStatements> prepare(Connection& db);
};

// Prepared once per reader connection.
struct ReaderStatements {
  Statement get_conversation;      // ?1 public id -> conversation columns
  Statement find_conversation_pk;  // ?1 public id -> pk
  Statement list_turns;            // ?1 pk, ?2 after seq, ?3 limit -> turn columns
  Statement begin_read;            // BEGIN (a read snapshot for several statements)
  Statement end_read;              // ROLLBACK (ends it; nothing was written)
  // ?1 state, ?2 limit -> conversation columns, pk
  Statement list_conversations_in_state;
  // Each binds ?1 conversation pk, ?2 agent_id, ?3 after id, ?4 limit (ignoring the filters
  // it lacks) -> event columns. The two without an agent also bind ?5, the first turn that
  // is its own turn.created event.
  Statement list_events;
  Statement list_conversation_events;
  Statement list_agent_events;
  Statement list_conversation_agent_events;
  Statement get_agent;                // ?1 agent id -> agent columns
  Statement get_agent_by_token_hash;  // ?1 token hash -> agent columns
  Statement list_agents;              // -> agent columns, by id
  Statement list_customer_conversations;  // ?1 customer_id -> conversation columns, pk
  // See kReaderSql for their shared binding -> audit columns.
  Statement list_audit_by_customer;
  Statement list_audit_by_conversation;
  Statement list_audit;
  Statement get_cursor;               // ?1 name -> event id

  static Result<ReaderStatements> prepare(Connection& db);
};

// Binds every column of a new conversation row. `record` must outlive the step.
void bind_conversation(Statement& insert, const ConversationRecord& record);
// Reads the conversation columns of get_conversation's current row.
void read_conversation(const Statement& row, ConversationRecord& record);
// Where list_conversations_in_state puts the pk, after the conversation columns.
inline constexpr int kConversationPkColumn = 12;

// Binds every column of a new turn row: the evaluation as `packed_evaluation`
// (pack_evaluation() of turn.evaluation_json), which the row keeps in evaluation_packed, or
// as text in evaluation_json when that is "" (an evaluation too large to pack).
// The row's id is `id`, which is also its turn.created event's, and `state_after` the
// conversation's state once the turn is in. The views must outlive the step.
void bind_turn(Statement& insert, std::int64_t conversation_pk, std::int64_t id,
               const TurnRecord& turn, std::string_view packed_evaluation,
               std::string_view state_after);
// Reads the turn columns of the current row, the evaluation as JSON text however the row
// keeps it (turn_evaluation()); leaves turn.conversation_id as it is.
void read_turn(const Statement& row, TurnRecord& turn);
// Where read_turn finds content_hash, for a check that needs no full read.
inline constexpr int kTurnContentHashColumn = 8;

// Binds every column of a new event row, event.id included; a conversation_pk of 0 binds
// NULL (no pk is 0). `event` must outlive the step.
void bind_event(Statement& insert, std::int64_t conversation_pk, const EventRecord& event);
// Reads the event columns of the current row.
void read_event(const Statement& row, EventRecord& event);

// Binds the columns of a new audit row (?1 at_ms ... ?8 data_json). `record` must outlive
// the step.
void bind_audit(Statement& insert, const AuditRecord& record);
// Reads the audit columns of the current row.
void read_audit(const Statement& row, AuditRecord& record);

// Binds every column of an agent row (?1 id ... ?10 updated_at_ms). `agent` must outlive
// the step.
void bind_agent(Statement& statement, const AgentRecord& agent);
// Reads the agent columns of the current row.
void read_agent(const Statement& row, AgentRecord& agent);

}  // namespace handover::store
