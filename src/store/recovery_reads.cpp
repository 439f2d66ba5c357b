// The reads behind resuming work at start-up: conversations with the bot whose newest turn
// decided to escalate and that were never handed over after it, and those whose newest turn
// is a user's question no bot has answered.
#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <limits>

#include "sqlite_store.hpp"

namespace handover::store {
namespace {

// The conversation's newest turn must be the last thing logged before any escalation. A turn
// since schema step 10 is its own turn.created event (?3 is the first such id); an older one
// has an event row, which must be the conversation's newest turn.created (retention may have
// deleted it, and then nothing says whether an escalation followed). conversations_by_state
// gives the candidates in pk order; CROSS JOIN and LEFT JOIN keep that order of the loops, so
// the newest turn's evaluation drops most conversations before their events are read, and an
// older turn's event is found walking back from the newest event. The newest turn is taken
// from the turns: the row's last_seq may not count it yet (conversation_activity.hpp).
constexpr const char* kUnfinished = R"sql(
SELECT c.public_id, c.channel, c.language, c.state, c.customer_id, c.customer_json,
  c.metadata_json, c.token_hash, c.created_at_ms, c.updated_at_ms, t.seq,
  c.privacy_notice_version, c.pk
FROM conversations AS c
CROSS JOIN turns AS t ON t.conversation = c.pk
  AND t.seq = (SELECT max(seq) FROM turns WHERE conversation = c.pk)
LEFT JOIN events AS logged ON t.id < ?3 AND logged.id = (
  SELECT id FROM events WHERE conversation = c.pk AND type = 'turn.created'
  ORDER BY id DESC LIMIT 1)
WHERE c.state = 'bot'
  AND c.pk > coalesce((SELECT pk FROM conversations WHERE public_id = ?1), 0)
  AND json_valid(turn_evaluation(t.evaluation_json, t.evaluation_packed, t.id))
  AND json_extract(turn_evaluation(t.evaluation_json, t.evaluation_packed, t.id),
                   '$.decision.action') = 'escalate'
  AND (t.id >= ?3 OR (json_valid(logged.data_json)
                      AND json_extract(logged.data_json, '$.seq') = t.seq))
  AND NOT EXISTS (
    SELECT 1 FROM events AS e
    WHERE e.conversation = c.pk AND e.id > coalesce(logged.id, t.id)
      AND e.type IN ('handover.escalated', 'handover.requested'))
ORDER BY c.pk
LIMIT ?2)sql";

// Conversations with the bot whose newest turn is a recent user turn. turns_by_age gives the
// recent turns; each is kept only when it is its conversation's newest.
constexpr const char* kUnanswered = R"sql(
SELECT c.public_id, c.channel, c.language, c.state, c.customer_id, c.customer_json,
  c.metadata_json, c.token_hash, c.created_at_ms, c.updated_at_ms, t.seq,
  c.privacy_notice_version, c.pk
FROM turns AS t
CROSS JOIN conversations AS c ON c.pk = t.conversation
WHERE t.created_at_ms >= ?1 AND t.role = 'user' AND c.state = 'bot'
  AND t.seq = (SELECT max(seq) FROM turns WHERE conversation = t.conversation)
ORDER BY t.created_at_ms, t.id
LIMIT ?2)sql";

std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

// The conversation's newest turn, read by its pk.
Status read_last_turn(Reader& reader, std::int64_t pk, UnfinishedEscalation& found) {
  Statement& list = reader.statements.list_turns;
  ResetOnExit reset(list);
  list.bind(1, pk);
  list.bind(2, found.conversation.last_seq - 1);
  list.bind(3, std::int64_t{1});
  const int rc = list.step();
  if (rc != SQLITE_ROW) return sqlite_error(reader.db.handle(), rc, "read the deciding turn");
  read_turn(list, found.turn);
  found.turn.conversation_id = found.conversation.id;
  return Status::ok();
}

}  // namespace

// Runs `sql` (whose rows are conversation columns with the newest turn's seq as last_seq,
// bound by `bind`) and reads each row's newest turn, all from one snapshot.
Result<std::vector<UnfinishedEscalation>> SqliteStore::list_with_newest_turn(
    const char* sql, const std::function<void(Statement&)>& bind, const char* what) {
  std::vector<UnfinishedEscalation> out;
  ReaderPool::Lease reader = readers_->acquire();
  ReadSnapshot snapshot(*reader);
  if (Status status = snapshot.begin(); !status.is_ok()) return status;
  Result<Statement> listed = reader->db.prepare(sql);
  if (!listed) return listed.status();
  bind(*listed);
  int rc;
  while ((rc = listed->step()) == SQLITE_ROW) {
    UnfinishedEscalation& found = out.emplace_back();
    read_conversation(*listed, found.conversation);
    activity_.overlay(found.conversation);
    const std::int64_t pk = listed->column_int64(kConversationPkColumn);
    // The row's last_seq is the turn's seq (column 10), which read_last_turn reads back.
    found.conversation.last_seq = listed->column_int64(10);
    if (Status status = read_last_turn(*reader, pk, found); !status.is_ok()) return status;
  }
  if (rc != SQLITE_DONE) return sqlite_error(reader->db.handle(), rc, what);
  return out;
}

Result<std::vector<UnfinishedEscalation>> SqliteStore::list_unfinished_escalations(
    const std::string& after_id, std::size_t limit) {
  if (limit == 0) return std::vector<UnfinishedEscalation>{};
  return list_with_newest_turn(
      kUnfinished,
      [&](Statement& statement) {
        statement.bind(1, after_id);
        statement.bind(2, sql_limit(limit));
        statement.bind(3, turns_logged_from_);
      },
      "list unfinished escalations");
}

Result<std::vector<UnfinishedEscalation>> SqliteStore::list_unanswered_user_turns(
    std::int64_t since_ms, std::size_t limit) {
  if (limit == 0) return std::vector<UnfinishedEscalation>{};
  return list_with_newest_turn(
      kUnanswered,
      [&](Statement& statement) {
        statement.bind(1, since_ms);
        statement.bind(2, sql_limit(limit));
      },
      "list unanswered user turns");
}

}  // namespace handover::store
