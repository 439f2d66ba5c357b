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
  Statement advance_conversation;  // ?1 pk, ?2 last_seq, ?3 updated_at_ms

  static Result<WriterStatements> prepare(Connection& db);
};

// Prepared once per reader connection.
struct ReaderStatements {
  Statement get_conversation;      // ?1 public id -> conversation columns
  Statement find_conversation_pk;  // ?1 public id -> pk
  Statement list_turns;            // ?1 pk, ?2 after seq, ?3 limit -> turn columns

  static Result<ReaderStatements> prepare(Connection& db);
};

// Binds every column of a new conversation row. `record` must outlive the step.
void bind_conversation(Statement& insert, const ConversationRecord& record);
// Reads the conversation columns of get_conversation's current row.
void read_conversation(const Statement& row, ConversationRecord& record);

// Binds every column of a new turn row. `turn` must outlive the step.
void bind_turn(Statement& insert, std::int64_t conversation_pk, const TurnRecord& turn);
// Reads the turn columns of the current row; leaves turn.conversation_id as it is.
void read_turn(const Statement& row, TurnRecord& turn);
// Where read_turn finds content_hash, for a check that needs no full read.
inline constexpr int kTurnContentHashColumn = 8;

}  // namespace handover::store
