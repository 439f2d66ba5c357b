// The reference for the store benchmark: a plain SQLite program appending turns to the same
// two tables the server uses, in transactions of the same batch size, with WAL and
// synchronous=FULL. It keeps each conversation's last seq in memory and writes one UPDATE per
// conversation per transaction, as the server's writer does. It does not link our store.
//
// Usage: plain_sqlite DB TEXTS TURNS CONVERSATIONS BATCH   -> one JSON line on stdout
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "turn_rows.hpp"

namespace {

// The conversations and turns tables as schema migrations 1 and 5 leave them.
constexpr const char* kSchema = R"sql(
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
CREATE UNIQUE INDEX turns_by_conversation ON turns (conversation, seq);
CREATE UNIQUE INDEX turns_by_client_turn_id ON turns (conversation, client_turn_id)
  WHERE client_turn_id IS NOT NULL;
CREATE INDEX conversations_by_state ON conversations (state);
)sql";

sqlite3* db = nullptr;

void check(int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::fprintf(stderr, "plain_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
  std::exit(1);
}

sqlite3_stmt* prepare(const char* sql) {
  sqlite3_stmt* statement = nullptr;
  check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr), sql);
  return statement;
}

void run(sqlite3_stmt* statement, const char* what) {
  check(sqlite3_step(statement), what);
  sqlite3_reset(statement);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void create_conversations(std::size_t count) {
  sqlite3_stmt* insert = prepare(
      "INSERT INTO conversations (public_id, channel, language, state, token_hash, "
      "created_at_ms, updated_at_ms) VALUES (?1, 'web', 'en', 'bot', ?2, ?3, ?3)");
  check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), "begin");
  for (std::size_t i = 0; i < count; ++i) {
    const std::string id = "c_bench" + std::to_string(i);
    const std::string token = handover::bench::fingerprint(id, i);
    sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, token.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert, 3, now_ms());
    run(insert, "insert conversation");
  }
  check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
  sqlite3_finalize(insert);
}

}  // namespace

int main(int argc, char** argv) {
  handover::bench::StoreRun args;
  if (!handover::bench::parse_store_run(argc, argv, "plain_sqlite", args)) return 2;
  const std::vector<std::string>& texts = args.texts;
  const std::size_t turns = args.turns;
  const std::size_t conversations = args.conversations;
  const std::size_t batch = args.batch;

  check(sqlite3_open(args.db.c_str(), &db), "open");
  check(sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", nullptr, nullptr,
                     nullptr),
        "pragmas");
  check(sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr), "schema");
  create_conversations(conversations);

  sqlite3_stmt* begin = prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = prepare("COMMIT");
  sqlite3_stmt* insert = prepare(
      "INSERT INTO turns (conversation, seq, client_turn_id, role, text, bot_json, "
      "actions_json, metadata_json, evaluation_json, content_hash, created_at_ms) "
      "VALUES (?1, ?2, NULL, 'user', ?3, '', '', '', ?4, ?5, ?6)");
  sqlite3_stmt* advance =
      prepare("UPDATE conversations SET last_seq = ?2, updated_at_ms = ?3 WHERE pk = ?1");
  std::vector<std::int64_t> last_seq(conversations, 0);

  const auto started = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < turns;) {
    run(begin, "begin");
    std::map<std::size_t, std::int64_t> touched;  // conversation -> updated_at_ms
    for (std::size_t i = 0; i < batch && done < turns; ++i, ++done) {
      const handover::bench::TurnRow row = handover::bench::turn_row(texts, conversations, done);
      const std::int64_t at = now_ms();
      sqlite3_bind_int64(insert, 1, static_cast<std::int64_t>(row.conversation) + 1);
      sqlite3_bind_int64(insert, 2, ++last_seq[row.conversation]);
      sqlite3_bind_text(insert, 3, row.text->data(), static_cast<int>(row.text->size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, handover::bench::kEvaluationJson, -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 5, row.content_hash.data(),
                        static_cast<int>(row.content_hash.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert, 6, at);
      run(insert, "insert turn");
      touched[row.conversation] = at;
    }
    for (const auto& [conversation, at] : touched) {
      sqlite3_bind_int64(advance, 1, static_cast<std::int64_t>(conversation) + 1);
      sqlite3_bind_int64(advance, 2, last_seq[conversation]);
      sqlite3_bind_int64(advance, 3, at);
      run(advance, "advance conversation");
    }
    run(commit, "commit");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  for (sqlite3_stmt* s : {begin, commit, insert, advance}) sqlite3_finalize(s);
  sqlite3_close(db);
  std::printf("{\"turns\":%zu,\"batch\":%zu,\"seconds\":%.3f,\"rate\":%.1f}\n", turns, batch,
              seconds, static_cast<double>(turns) / seconds);
  return 0;
}
