// Read-only export of conversations, turns and agent feedback from a database file.
#include "handover/store/database_export.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "evaluation_packing.hpp"
#include "schema.hpp"
#include "sqlite.hpp"
#include "statements.hpp"

namespace handover::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kConversations =
    "SELECT public_id, channel, language, state, customer_id, customer_json, metadata_json, "
    "token_hash, created_at_ms, updated_at_ms, last_seq, pk FROM conversations ORDER BY pk";

constexpr const char* kTurns =
    "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
    "turn_evaluation(evaluation_json, evaluation_packed, id), content_hash, created_at_ms "
    "FROM turns WHERE conversation = ?1 ORDER BY seq";

// A database that no server has opened since before kPackedEvaluationsVersion has no
// evaluation_packed column yet, and the export does not migrate what it reads.
constexpr const char* kTurnsBeforePackedEvaluations =
    "SELECT seq, client_turn_id, role, text, bot_json, actions_json, metadata_json, "
    "evaluation_json, content_hash, created_at_ms FROM turns WHERE conversation = ?1 "
    "ORDER BY seq";

// Each resolution with the latest escalation before it in its conversation, and the last
// turn stored before that escalation: by the ids of the events' sequence, which number turns
// from ?1 on (schema step 10), else by the turn.created rows of older turns, else by time.
constexpr const char* kFeedback = R"sql(
SELECT c.public_id,
  coalesce(json_extract(r.data_json, '$.agent_id'), ''),
  coalesce(json_extract(r.data_json, '$.data.justified'), ''),
  coalesce(json_extract(r.data_json, '$.data.reason_code'), ''),
  r.created_at_ms,
  coalesce(json_extract(h.data_json, '$.reasons.rule'), json_extract(h.data_json, '$.rule'), ''),
  coalesce(h.created_at_ms, 0),
  coalesce((SELECT max(t.seq) FROM turns t
            WHERE t.conversation = r.conversation AND t.id >= ?1 AND t.id < h.id),
           (SELECT max(json_extract(t.data_json, '$.seq')) FROM events t
            WHERE t.conversation = r.conversation AND t.type = 'turn.created' AND t.id < h.id),
           (SELECT max(t.seq) FROM turns t
            WHERE t.conversation = r.conversation AND t.created_at_ms <= h.created_at_ms), 0)
FROM events r
JOIN conversations c ON c.pk = r.conversation
LEFT JOIN events h ON h.id = (
  SELECT max(e.id) FROM events e
  WHERE e.conversation = r.conversation AND e.id < r.id
    AND e.type IN ('handover.escalated', 'handover.requested'))
WHERE r.type = 'routing.resolved' AND json_valid(r.data_json)
  AND (h.id IS NULL OR json_valid(h.data_json))
ORDER BY r.id)sql";

}  // namespace

struct DatabaseExport::Impl {
  Connection db;
  bool packed_evaluations = true;  // the schema has turns.evaluation_packed
  // The first turn that is its own turn.created event; none in older schemas.
  std::int64_t turns_logged_from = std::numeric_limits<std::int64_t>::max();
};

DatabaseExport::DatabaseExport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DatabaseExport::~DatabaseExport() = default;

Result<std::unique_ptr<DatabaseExport>> DatabaseExport::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::not_found(path + ": no such database file");
  }
  auto db = Connection::open(path, Connection::Mode::kReadOnly, kBusyTimeoutMs);
  if (!db) return db.status();
  auto version = db->query_row("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!version) return Status::internal(path + ": not a handover database");
  if (version->column_int64(0) > kSchemaVersion) {
    return Status::internal(path + ": schema version " + std::to_string(version->column_int64(0)) +
                            " is newer than this build knows (" + std::to_string(kSchemaVersion) +
                            ")");
  }
  if (int rc = define_evaluation_function(db->handle()); rc != SQLITE_OK) {
    return sqlite_error(db->handle(), rc, "define turn_evaluation()");
  }
  auto impl = std::make_unique<Impl>();
  impl->packed_evaluations = version->column_int64(0) >= kPackedEvaluationsVersion;
  if (version->column_int64(0) >= kTurnsLoggedVersion) {
    auto mark = db->query_row("SELECT value FROM store_marks WHERE name = 'turns_logged_from'");
    if (!mark) return Status::internal(path + ": the mark 'turns_logged_from' is missing");
    impl->turns_logged_from = mark->column_int64(0);
  }
  impl->db = std::move(db).value();
  return std::unique_ptr<DatabaseExport>(new DatabaseExport(std::move(impl)));
}

Status DatabaseExport::for_each_conversation(
    const std::function<Status(const ConversationRecord&, const std::vector<TurnRecord>&)>& each) {
  Connection& db = impl_->db;
  if (Status s = db.exec("BEGIN", "begin export"); !s.is_ok()) return s;
  auto conversations = db.prepare(kConversations);
  auto turns = db.prepare(impl_->packed_evaluations ? kTurns : kTurnsBeforePackedEvaluations);
  Status status = !conversations ? conversations.status() : turns.status();
  int rc = SQLITE_DONE;
  while (status.is_ok() && (rc = conversations->step()) == SQLITE_ROW) {
    ConversationRecord record;
    read_conversation(*conversations, record);
    std::vector<TurnRecord> list;
    turns->bind(1, conversations->column_int64(11));
    int turn_rc;
    while ((turn_rc = turns->step()) == SQLITE_ROW) {
      read_turn(*turns, list.emplace_back());
      list.back().conversation_id = record.id;
    }
    // The row may lag behind its newest turns if the server stopped between two rounds
    // (see conversation_activity.hpp); the turns are what counts.
    if (!list.empty()) {
      record.last_seq = std::max(record.last_seq, list.back().seq);
      record.updated_at_ms = std::max(record.updated_at_ms, list.back().created_at_ms);
    }
    turns->reset();
    if (turn_rc != SQLITE_DONE) status = sqlite_error(db.handle(), turn_rc, "export turns");
    if (status.is_ok()) status = each(record, list);
  }
  if (status.is_ok() && rc != SQLITE_DONE) status = sqlite_error(db.handle(), rc, "export");
  static_cast<void>(db.exec("COMMIT"));
  return status;
}

Result<std::vector<FeedbackRecord>> DatabaseExport::feedback() {
  Connection& db = impl_->db;
  auto query = db.prepare(kFeedback);
  if (!query) return query.status();
  query->bind(1, impl_->turns_logged_from);
  std::vector<FeedbackRecord> out;
  int rc;
  while ((rc = query->step()) == SQLITE_ROW) {
    FeedbackRecord& f = out.emplace_back();
    query->column_text(0, f.conversation_id);
    query->column_text(1, f.agent_id);
    query->column_text(2, f.justified);
    query->column_text(3, f.reason_code);
    f.resolved_at_ms = query->column_int64(4);
    query->column_text(5, f.rule);
    f.escalated_at_ms = query->column_int64(6);
    f.escalated_turn = query->column_int64(7);
  }
  if (rc != SQLITE_DONE) return sqlite_error(db.handle(), rc, "export feedback");
  return out;
}

}  // namespace handover::store
