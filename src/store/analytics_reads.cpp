// The reads behind the handover analytics: the conversations created in a window, found by
// a binary search over their integer keys, and their handover events and suggestions,
// optionally only those on some channels.
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <string>

#include "sqlite_store.hpp"

namespace handover::store {
namespace {

constexpr const char* kFirstFrom =
    "SELECT pk, created_at_ms FROM conversations WHERE pk >= ?1 ORDER BY pk LIMIT 1";

constexpr const char* kPerDay =
    "SELECT created_at_ms / 86400000, count(*) FROM conversations "
    "WHERE pk >= ?1 AND pk < ?2 AND created_at_ms >= ?3 AND created_at_ms < ?4 "
    "  AND (json_array_length(?5) = 0 OR channel IN (SELECT value FROM json_each(?5))) "
    "GROUP BY 1 ORDER BY 1";

// Only the small members of each event are read; the snapshot in handover.escalated stays
// in the database.
constexpr const char* kEvents = R"sql(
SELECT c.public_id, c.created_at_ms, e.type, e.created_at_ms,
  CASE e.type
    WHEN 'handover.escalated' THEN coalesce(json_extract(e.data_json, '$.reasons.suggested_by'),
                                            json_extract(e.data_json, '$.reasons.rule'), '')
    WHEN 'handover.requested' THEN coalesce(json_extract(e.data_json, '$.suggested_by'),
                                            json_extract(e.data_json, '$.rule'), '')
    ELSE '' END,
  CASE WHEN e.type LIKE 'handover.%' THEN coalesce(json_extract(e.data_json, '$.queue'), '')
       ELSE '' END,
  CASE e.type
    WHEN 'handover.escalated' THEN coalesce(json_extract(e.data_json, '$.reasons.fired'), '[]')
    WHEN 'handover.requested' THEN coalesce(json_extract(e.data_json, '$.reasons'), '[]')
    ELSE '[]' END,
  CASE WHEN e.type IN ('routing.accepted', 'routing.claimed')
       THEN coalesce(json_extract(e.data_json, '$.data.waited_ms'), -1) ELSE -1 END,
  CASE e.type
    WHEN 'routing.resolved' THEN coalesce(json_extract(e.data_json, '$.data.justified'), '')
    ELSE '' END,
  CASE e.type
    WHEN 'routing.no_agent' THEN coalesce(json_extract(e.data_json, '$.data.queued'), 1)
    ELSE 1 END,
  CASE e.type
    WHEN 'handover.rated' THEN coalesce(json_extract(e.data_json, '$.rating'), 0)
    ELSE 0 END,
  CASE e.type
    WHEN 'routing.cancelled' THEN coalesce(json_extract(e.data_json, '$.data.reason'), '')
    ELSE '' END
FROM conversations c JOIN events e ON e.conversation = c.pk
WHERE c.pk >= ?1 AND c.pk < ?2 AND c.created_at_ms >= ?3 AND c.created_at_ms < ?4
  AND (json_array_length(?5) = 0 OR c.channel IN (SELECT value FROM json_each(?5)))
  AND e.type IN ('handover.escalated', 'handover.requested', 'handover.rated', 'routing.accepted',
                 'routing.claimed', 'routing.resolved', 'routing.returned', 'routing.cancelled',
                 'routing.no_agent')
  AND json_valid(e.data_json)
ORDER BY c.pk, e.id)sql";

constexpr const char* kSuggestions = R"sql(
SELECT c.public_id, c.created_at_ms, t.created_at_ms,
  coalesce(json_extract(t.evaluation, '$.decision.rule'), ''),
  coalesce(json_extract(t.evaluation, '$.decision.queue'), '')
FROM conversations c
JOIN (SELECT conversation, seq, created_at_ms,
        turn_evaluation(evaluation_json, evaluation_packed, id) AS evaluation FROM turns) t
  ON t.conversation = c.pk
WHERE c.pk >= ?1 AND c.pk < ?2 AND c.created_at_ms >= ?3 AND c.created_at_ms < ?4
  AND (json_array_length(?5) = 0 OR c.channel IN (SELECT value FROM json_each(?5)))
  AND t.evaluation <> '' AND json_valid(t.evaluation)
  AND json_extract(t.evaluation, '$.decision.action') = 'suggest'
ORDER BY c.pk, t.seq)sql";

struct KeyRange {
  std::int64_t lo = 0;  // smallest pk
  std::int64_t hi = 0;  // largest pk + 1
};

Result<KeyRange> key_range(Connection& db) {
  Result<Statement> row = db.query_row(
      "SELECT coalesce(min(pk), 0), coalesce(max(pk), -1) "
      "FROM conversations");
  if (!row) return row.status();
  return KeyRange{row->column_int64(0), row->column_int64(1) + 1};
}

// The smallest key k such that the first conversation at or after k was created at or after
// `ms` (or there is none): where the window starting at `ms` begins in key order.
Result<std::int64_t> first_key_at(Connection& db, const KeyRange& keys, std::int64_t ms) {
  Result<Statement> probe = db.prepare(kFirstFrom);
  if (!probe) return probe.status();
  std::int64_t lo = keys.lo;
  std::int64_t hi = keys.hi;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    probe->bind(1, mid);
    const int rc = probe->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_error(db.handle(), rc, "analytics");
    const bool at_or_after = rc == SQLITE_DONE || probe->column_int64(1) >= ms;
    probe->reset();
    if (at_or_after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

// `channels_json` is bound without a copy: it must outlive the statement.
Result<Statement> prepare_window(Connection& db, const char* sql, std::int64_t lo_key,
                                 std::int64_t hi_key, const HandoverFactsQuery& query,
                                 const std::string& channels_json) {
  Result<Statement> statement = db.prepare(sql);
  if (!statement) return statement;
  statement->bind(1, lo_key);
  statement->bind(2, hi_key);
  statement->bind(3, query.from_ms);
  statement->bind(4, query.to_ms);
  statement->bind(5, channels_json);
  return statement;
}

// Steps `statement` to the end, calling `row` for each result row.
template <class Row>
Status each_row(Connection& db, Statement& statement, Row row) {
  int rc;
  while ((rc = statement.step()) == SQLITE_ROW) row(statement);
  if (rc != SQLITE_DONE) return sqlite_error(db.handle(), rc, "analytics");
  return Status::ok();
}

}  // namespace

Result<HandoverFacts> SqliteStore::read_handover_facts(const HandoverFactsQuery& query) {
  if (query.to_ms <= query.from_ms) {
    return Status::invalid_argument("store: the analytics window ends before it starts");
  }
  ReaderPool::Lease reader = readers_->acquire();
  ReadSnapshot snapshot(*reader);
  if (Status status = snapshot.begin(); !status.is_ok()) return status;
  Connection& db = reader->db;
  auto keys = key_range(db);
  if (!keys) return keys.status();
  auto lo = first_key_at(db, *keys, query.from_ms);
  if (!lo) return lo.status();
  auto hi = first_key_at(db, *keys, query.to_ms);
  if (!hi) return hi.status();

  // The channels as a JSON array: one bound value however many there are.
  const std::string channels = nlohmann::json(query.channels).dump();
  HandoverFacts facts;
  auto per_day = prepare_window(db, kPerDay, *lo, *hi, query, channels);
  if (!per_day) return per_day.status();
  Status status = each_row(db, *per_day, [&](const Statement& row) {
    facts.conversations_per_day.emplace_back(row.column_int64(0), row.column_int64(1));
  });
  if (!status.is_ok()) return status;

  auto events = prepare_window(db, kEvents, *lo, *hi, query, channels);
  if (!events) return events.status();
  status = each_row(db, *events, [&](const Statement& row) {
    HandoverEventFact& fact = facts.events.emplace_back();
    row.column_text(0, fact.conversation_id);
    fact.conversation_created_at_ms = row.column_int64(1);
    row.column_text(2, fact.type);
    fact.at_ms = row.column_int64(3);
    row.column_text(4, fact.rule);
    row.column_text(5, fact.queue);
    row.column_text(6, fact.fired_json);
    fact.waited_ms = row.column_int64(7);
    row.column_text(8, fact.justified);
    fact.queued = row.column_int64(9) != 0;
    fact.rating = static_cast<int>(row.column_int64(10));
    row.column_text(11, fact.reason);
  });
  if (!status.is_ok()) return status;

  auto suggestions = prepare_window(db, kSuggestions, *lo, *hi, query, channels);
  if (!suggestions) return suggestions.status();
  status = each_row(db, *suggestions, [&](const Statement& row) {
    SuggestionFact& fact = facts.suggestions.emplace_back();
    row.column_text(0, fact.conversation_id);
    fact.conversation_created_at_ms = row.column_int64(1);
    fact.at_ms = row.column_int64(2);
    row.column_text(3, fact.rule);
    row.column_text(4, fact.queue);
  });
  if (!status.is_ok()) return status;
  return facts;
}

}  // namespace handover::store
