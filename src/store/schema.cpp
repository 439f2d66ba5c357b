// Schema migrations: each step runs once, in order, inside the transaction that records it.
#include "schema.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <iterator>
#include <string>

#include "sqlite.hpp"

namespace handover::store {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Append new steps at the end; never edit a step that has shipped.
//
// Keys are integers where they pay: a conversation's public text id is looked up once per
// request through its unique index, and turns hang off the integer `pk`. Empty optional ids
// are stored as NULL so the partial indexes skip them.
constexpr Migration kMigrations[] = {
    {1, "conversations and turns", R"sql(
CREATE TABLE conversations (
  pk            INTEGER PRIMARY KEY,
  public_id     TEXT    NOT NULL UNIQUE,
  channel       TEXT    NOT NULL,
  language      TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  customer_id   TEXT    CHECK (customer_id <> ''),
  customer_json TEXT    NOT NULL DEFAULT '{}',
  metadata_json TEXT    NOT NULL DEFAULT '{}',
  token_hash    TEXT    NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  last_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
) STRICT;

CREATE INDEX conversations_by_customer ON conversations (customer_id)
  WHERE customer_id IS NOT NULL;

CREATE TABLE turns (
  conversation    INTEGER NOT NULL REFERENCES conversations (pk) ON DELETE CASCADE,
  seq             INTEGER NOT NULL CHECK (seq > 0),
  client_turn_id  TEXT    CHECK (client_turn_id <> ''),
  role            TEXT    NOT NULL,
  text            TEXT    NOT NULL,
  bot_json        TEXT    NOT NULL DEFAULT '',
  actions_json    TEXT    NOT NULL DEFAULT '',
  metadata_json   TEXT    NOT NULL DEFAULT '',
  evaluation_json TEXT    NOT NULL DEFAULT '',
  content_hash    TEXT    NOT NULL,
  created_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (conversation, seq)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX turns_by_client_turn_id ON turns (conversation, client_turn_id)
  WHERE client_turn_id IS NOT NULL;
)sql"},
    // Events hang off the conversation's integer key and go with it when it is deleted.
    // AUTOINCREMENT keeps ids from being reused after the newest events are deleted, which a
    // stream resuming "after id N" relies on. Agents are keyed by their public id, which
    // events carry as text so the audit trail needs no join to stay readable.
    {2, "events, agents and conversations by state", R"sql(
CREATE INDEX conversations_by_state ON conversations (state);

CREATE TABLE events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation  INTEGER REFERENCES conversations (pk) ON DELETE CASCADE,
  agent_id      TEXT    CHECK (agent_id <> ''),
  type          TEXT    NOT NULL CHECK (type <> ''),
  data_json     TEXT    NOT NULL DEFAULT '{}',
  created_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX events_by_conversation ON events (conversation, id);
CREATE INDEX events_by_agent ON events (agent_id, id) WHERE agent_id IS NOT NULL;

CREATE TABLE agents (
  agent_id       TEXT    PRIMARY KEY CHECK (agent_id <> ''),
  name           TEXT    NOT NULL,
  display_name   TEXT    NOT NULL,
  token_hash     TEXT    UNIQUE CHECK (token_hash <> ''),
  skills_json    TEXT    NOT NULL DEFAULT '[]',
  languages_json TEXT    NOT NULL DEFAULT '[]',
  capacity       INTEGER NOT NULL CHECK (capacity >= 0),
  disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql"},
    // Privacy: the access audit trail, the notice version a user saw, and the indexes the
    // retention job walks oldest first. The two partial indexes hold only what still has to
    // be stripped (snapshots kept with escalations, agents' notes), so a row leaves its index
    // once done and the job never scans it again. Audit records name conversations by their
    // public id, without a foreign key, so the trail outlives what it talks about.
    {3, "audit trail, privacy notice and retention indexes", R"sql(
ALTER TABLE conversations ADD COLUMN privacy_notice_version TEXT
  CHECK (privacy_notice_version <> '');

CREATE TABLE audit_log (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms           INTEGER NOT NULL,
  actor_kind      TEXT    NOT NULL CHECK (actor_kind <> ''),
  actor_id        TEXT    NOT NULL,
  action          TEXT    NOT NULL CHECK (action <> ''),
  reason          TEXT    NOT NULL,
  conversation_id TEXT    CHECK (conversation_id <> ''),
  customer_id     TEXT    CHECK (customer_id <> ''),
  data_json       TEXT    NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX audit_by_customer ON audit_log (customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX audit_by_conversation ON audit_log (conversation_id, id)
  WHERE conversation_id IS NOT NULL;
CREATE INDEX audit_by_age ON audit_log (at_ms);

CREATE INDEX turns_by_age ON turns (created_at_ms);
CREATE INDEX events_by_age ON events (created_at_ms);
CREATE INDEX conversations_by_idle ON conversations (updated_at_ms);
CREATE INDEX events_with_snapshot ON events (created_at_ms)
  WHERE type = 'handover.escalated' AND json_type(data_json, '$.snapshot') IS NOT NULL;
CREATE INDEX events_with_note ON events (created_at_ms)
  WHERE (type IN ('routing.resolved', 'routing.returned', 'routing.transferred')
         AND json_extract(data_json, '$.data.note') <> '')
     OR (type = 'agent.unassigned' AND json_extract(data_json, '$.note') <> '');
)sql"},
    // Where each reader of the event log that must survive a restart (an outbound webhook
    // endpoint) has got to: the id of the last event it is done with.
    {4, "delivery cursors", R"sql(
CREATE TABLE delivery_cursors (
  name          TEXT    PRIMARY KEY CHECK (name <> ''),
  event_id      INTEGER NOT NULL CHECK (event_id >= 0),
  updated_at_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql"},
    // Turns move to a rowid table. A turn with its evaluation is some 1.2 KB, more than the
    // 1,002 bytes a 4 KiB page of a WITHOUT ROWID table keeps in place, so every turn also took
    // an overflow page of its own: about 5 KB of file and two random page writes per turn. In a
    // rowid table a row of up to 4,061 bytes stays on its leaf, new rows fill the rightmost
    // leaf in turn, and the (conversation, seq) index holds only small entries.
    {5, "turns in a rowid table", R"sql(
CREATE TABLE turns_by_rowid (
  id              INTEGER PRIMARY KEY,
  conversation    INTEGER NOT NULL REFERENCES conversations (pk) ON DELETE CASCADE,
  seq             INTEGER NOT NULL CHECK (seq > 0),
  client_turn_id  TEXT    CHECK (client_turn_id <> ''),
  role            TEXT    NOT NULL,
  text            TEXT    NOT NULL,
  bot_json        TEXT    NOT NULL DEFAULT '',
  actions_json    TEXT    NOT NULL DEFAULT '',
  metadata_json   TEXT    NOT NULL DEFAULT '',
  evaluation_json TEXT    NOT NULL DEFAULT '',
  content_hash    TEXT    NOT NULL,
  created_at_ms   INTEGER NOT NULL
) STRICT;

INSERT INTO turns_by_rowid (conversation, seq, client_turn_id, role, text, bot_json,
                            actions_json, metadata_json, evaluation_json, content_hash,
                            created_at_ms)
  SELECT conversation, seq, client_turn_id, role, text, bot_json, actions_json, metadata_json,
         evaluation_json, content_hash, created_at_ms
  FROM turns ORDER BY created_at_ms, conversation, seq;

DROP TABLE turns;
ALTER TABLE turns_by_rowid RENAME TO turns;

CREATE UNIQUE INDEX turns_by_conversation ON turns (conversation, seq);
CREATE UNIQUE INDEX turns_by_client_turn_id ON turns (conversation, client_turn_id)
  WHERE client_turn_id IS NOT NULL;
CREATE INDEX turns_by_age ON turns (created_at_ms);
)sql"},
    // The same partial index of notes, with its list of types spelt as equalities. SQLite
    // codes `type IN (...)` in an index's WHERE clause as a temporary table that it builds and
    // drops again on every insert into events, a turn's turn.created included; the equalities
    // cost a few comparisons. The retention query that reads the index spells it the same way.
    {6, "notes index without a temporary table per event", R"sql(
DROP INDEX events_with_note;
CREATE INDEX events_with_note ON events (created_at_ms)
  WHERE ((type = 'routing.resolved' OR type = 'routing.returned' OR type = 'routing.transferred')
         AND json_extract(data_json, '$.data.note') <> '')
     OR (type = 'agent.unassigned' AND json_extract(data_json, '$.note') <> '');
)sql"},
    // A conversation row's last_seq and updated_at_ms are written at most once a second
    // instead of with every turn (see conversation_activity.hpp). The mark names the newest
    // turn whose conversation row already counts it; after a crash, the turns above it bring
    // their rows up to date at the next start. Every row counts every turn up to here.
    {7, "conversation rows written behind their turns", R"sql(
CREATE TABLE store_marks (
  name  TEXT    PRIMARY KEY CHECK (name <> ''),
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO store_marks (name, value)
  VALUES ('rows_count_turns_through', (SELECT coalesce(max(id), 0) FROM turns));
)sql"},
    // New turns keep their trigger evaluation packed (evaluation_packing.hpp): about 200 bytes
    // instead of 1 to 2 KB of JSON, which was most of a turn row. Rows written before keep
    // their text in evaluation_json; new rows leave it ''. turn_evaluation(evaluation_json,
    // evaluation_packed) reads either as JSON text.
    {8, "packed trigger evaluations", R"sql(
ALTER TABLE turns ADD COLUMN evaluation_packed BLOB;
)sql"},
    // New packed evaluations are written in format 2 (LZ4), which builds that know version 8
    // cannot read: they would serve those turns without their evaluations. The step changes
    // no table; its number makes such a build refuse the file, and the mark says what it
    // holds.
    {9, "packed evaluations in format 2", R"sql(
INSERT INTO store_marks (name, value) VALUES ('evaluations_packed_as_format', 2);
)sql"},
    // A new turn no longer gets a turn.created row in events: it is that event itself. Its id
    // comes from the events' sequence (AUTOINCREMENT's row in sqlite_sequence, which the
    // writer keeps at the highest id it gave out), the event's data is read from the row, and
    // state_after holds the conversation's state once the turn was in. The event row and its
    // two index entries were a third of a turn's writes. Turns from before keep their event
    // rows; 'turns_logged_from' is the first id of a turn that is its own event.
    {10, "turns that are their own turn.created events", R"sql(
ALTER TABLE turns ADD COLUMN state_after TEXT CHECK (state_after <> '');

INSERT INTO sqlite_sequence (name, seq)
  SELECT 'events', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
UPDATE sqlite_sequence
  SET seq = max(seq, (SELECT coalesce(max(id), 0) FROM turns),
                (SELECT coalesce(max(id), 0) FROM events))
  WHERE name = 'events';
INSERT INTO store_marks (name, value)
  VALUES ('turns_logged_from', (SELECT seq + 1 FROM sqlite_sequence WHERE name = 'events'));
)sql"},
    // Relayed turns (agent.turn) and rating comments copy what users and agents wrote; the
    // retention job strips the copies by the turns' period. Like the notes, the partial index
    // holds only those still to strip.
    {11, "index of texts copied into events", R"sql(
CREATE INDEX events_with_text ON events (created_at_ms)
  WHERE (type = 'agent.turn' AND json_type(data_json, '$.redacted') IS NULL)
     OR (type = 'handover.rated' AND json_extract(data_json, '$.comment') <> '');
)sql"},
    // Handover events keep why the conversation was handed over: the fired rules' evidence
    // quotes the user's words, and a handover asked for over the API has a free-text reason.
    // They are stripped by the turns' period too, and marked "redacted" like relayed turns,
    // since whether a trace still quotes anything cannot be told from an index. Checking the
    // mark on insert cost about 0.01 ms more for an escalation with a 200 KB snapshot (SQLite
    // 3.40; events_with_snapshot reads the same text). Building the index reads every event.
    {12, "index of texts copied into events, with handover reasons", R"sql(
DROP INDEX events_with_text;
CREATE INDEX events_with_text ON events (created_at_ms)
  WHERE ((type = 'agent.turn' OR type = 'handover.escalated' OR type = 'handover.requested')
         AND json_type(data_json, '$.redacted') IS NULL)
     OR (type = 'handover.rated' AND json_extract(data_json, '$.comment') <> '');
)sql"},
};

constexpr bool versions_are_consecutive() {
  int expected = 1;
  for (const Migration& migration : kMigrations) {
    if (migration.version != expected++) return false;
  }
  return true;
}

static_assert(versions_are_consecutive(), "migration versions must be 1, 2, 3, ...");
static_assert(kMigrations[std::size(kMigrations) - 1].version == kSchemaVersion,
              "kSchemaVersion must name the last migration");

constexpr const char* kCreateMigrationsTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  applied_at_ms INTEGER NOT NULL
))sql";

Result<std::int64_t> applied_version(Connection& db) {
  Result<Statement> row = db.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!row) return row.status();
  return row->column_int64(0);
}

Status record(Connection& db, const Migration& migration, std::int64_t now_ms) {
  Result<Statement> insert = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)");
  if (!insert) return insert.status();

  insert->bind(1, std::int64_t{migration.version});
  insert->bind(2, std::string_view(migration.name));
  insert->bind(3, now_ms);
  int rc = insert->step();
  if (rc != SQLITE_DONE) return sqlite_error(db.handle(), rc, "record schema migration");
  return Status::ok();
}

Status apply_pending(Connection& db, int target_version, std::int64_t now_ms,
                     int& applied_steps) {
  Status created = db.exec(kCreateMigrationsTable, "create schema_migrations");
  if (!created.is_ok()) return created;
  Result<std::int64_t> version = applied_version(db);
  if (!version) return version.status();
  if (*version > kSchemaVersion) {
    return Status::internal("the database has schema version " + std::to_string(*version) +
                            ", newer than version " + std::to_string(kSchemaVersion) +
                            " known to this build; refusing to open it (run a newer handover)");
  }

  for (const Migration& migration : kMigrations) {
    if (migration.version <= *version || migration.version > target_version) continue;
    // A step that copies a table takes a while on a large file, and the server listens only
    // afterwards: say so, so an operator does not take the silence for a hang. Creating a new
    // file is quick and not worth a line.
    const auto level = *version > 0 ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "store: schema migration {} ({}) started", migration.version,
                migration.name);
    const auto started = std::chrono::steady_clock::now();
    std::string operation = "schema migration " + std::to_string(migration.version);
    if (Status status = db.exec(migration.sql, operation); !status.is_ok()) return status;
    if (Status status = record(db, migration, now_ms); !status.is_ok()) return status;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    spdlog::log(level, "store: schema migration {} applied in {:.1f} s", migration.version,
                took.count());
    ++applied_steps;
  }
  return Status::ok();
}

Status migrate_to(Connection& db, int target_version, std::int64_t now_ms) {
  // A step that replaces a table renames the new one into place. With SQLite's legacy rename,
  // views an operator added that name the table keep naming it, instead of failing the step.
  if (Status status = db.exec("PRAGMA legacy_alter_table = ON"); !status.is_ok()) return status;
  // IMMEDIATE: two processes opening a fresh file must not both run step 1.
  Status status = db.exec("BEGIN IMMEDIATE");
  int applied_steps = 0;
  if (status.is_ok()) status = apply_pending(db, target_version, now_ms, applied_steps);
  if (status.is_ok()) status = db.exec("COMMIT");
  if (!status.is_ok() && db.in_transaction()) {
    // The first failure is what the operator needs; a failed rollback adds nothing to it.
    static_cast<void>(db.exec("ROLLBACK"));
  }
  static_cast<void>(db.exec("PRAGMA legacy_alter_table = OFF"));
  // A step that copies a table leaves a WAL as large as the copy; fold it into the file and
  // truncate it now rather than at the next shutdown. Best effort: a reader in another
  // process may hold it, and then the next checkpoints do it.
  if (status.is_ok() && applied_steps > 0) {
    static_cast<void>(db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }
  return status;
}

}  // namespace

Status migrate(Connection& db, std::int64_t now_ms) {
  return migrate_to(db, kSchemaVersion, now_ms);
}

Status migrate_for_test(Connection& db, int target_version, std::int64_t now_ms) {
  return migrate_to(db, target_version, now_ms);
}

}  // namespace handover::store
