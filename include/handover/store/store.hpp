// Durable store for conversations and turns (SQLite, WAL, one writer thread).
//
// Writes go through a single writer thread that commits every request waiting at that
// moment in one transaction (group commit) and only then calls the completion callbacks.
// Reads use their own connections and never wait for the writer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handover/util/status.hpp"

namespace handover {
class Clock;
}

namespace handover::store {

// Checked by Store::open; a bad value fails it with InvalidArgument.
struct StoreOptions {
  std::string path;                 // SQLite file; missing parent directories are created.
                                    // ":memory:" is not supported (readers need a file) and
                                    // URIs ("file:...") are refused
  std::string synchronous = "full";  // "full" or "normal"
  int busy_timeout_ms = 5000;
  int read_connections = 4;         // pool size for readers
  std::size_t max_batch = 512;      // most requests committed in one transaction
  std::size_t max_queue = 65536;    // pending writes beyond this are refused as Unavailable
};

// A conversation as stored. JSON-valued fields hold serialised JSON text.
struct ConversationRecord {
  std::string id;            // public id, e.g. "c_01hx..."; unique
  std::string channel;
  std::string language;
  std::string state;         // "bot" for new conversations
  std::string customer_id;   // may be empty
  std::string customer_json = "{}";
  std::string metadata_json = "{}";
  std::string token_hash;    // SHA-256 hex of the conversation token
  std::int64_t created_at_ms = 0;  // set by the store from its Clock on create
  std::int64_t updated_at_ms = 0;  // set by the store: on create and on each appended turn
  std::int64_t last_seq = 0;  // seq of the newest turn, 0 when none
};

struct TurnRecord {
  std::string conversation_id;
  std::int64_t seq = 0;             // 1, 2, 3, ... gap-free per conversation
  std::string client_turn_id;       // empty when the client sent none
  std::string role;                 // "user", "bot", "agent", "system"
  std::string text;
  std::string bot_json;             // "" or a JSON object
  std::string actions_json;         // "" or a JSON array
  std::string metadata_json;        // "" or a JSON object (e.g. order or cart value)
  std::string evaluation_json;      // "" or a JSON object (trigger evaluation)
  std::string content_hash;         // fingerprint of the client-supplied content
  std::int64_t created_at_ms = 0;
};

struct AppendTurnRequest {
  TurnRecord turn;  // seq and created_at_ms are assigned by the store
};

enum class AppendKind {
  kCreated,   // a new turn was committed
  kReplayed,  // same client_turn_id and content_hash already stored; nothing written
};

struct AppendTurnOutcome {
  AppendKind kind = AppendKind::kCreated;
  TurnRecord turn;  // the stored turn (for kReplayed, the earlier one)
  std::string conversation_state;
};

// Figures for /metrics, read without locks (monotonic counters and the last batch).
// Batches made only of probe_writable requests are rolled back, not committed, and are not
// counted as commits.
struct StoreStats {
  std::uint64_t commits = 0;             // write transactions committed
  std::uint64_t committed_requests = 0;  // requests in those transactions
  std::uint64_t failed_commits = 0;      // transactions rolled back after an error
  std::uint64_t queue_depth = 0;         // writes waiting for the writer right now
  std::uint64_t last_batch_size = 0;     // requests in the most recent committed transaction
};

// Observer of each commit: batch size and commit latency (BEGIN to COMMIT, in seconds).
// Called on the writer thread after COMMIT returned and before the batch's callbacks run;
// not called for failed transactions. Must not block.
using CommitObserver = std::function<void(std::size_t batch_size, double seconds)>;

template <class T>
using Callback = std::function<void(Result<T>)>;

class Store {
 public:
  virtual ~Store() = default;

  // Opens (creating if needed) the database, applies pending schema migrations and
  // starts the writer thread. Fails with a clear message on a bad path, a database
  // written by a newer version, or a corrupt file. `clock` must outlive the store.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options, const Clock& clock);

  // Writes. The callback runs on the writer thread after the transaction holding the
  // write has committed (or failed). Callers must not block in it, throw from it, or call
  // close() from it. Writes are applied in the order they were submitted.
  //
  // A write refused up front (queue full, or the store closed) gets Unavailable at once,
  // on the calling thread. When a transaction fails, every write in it gets the same
  // error (Unavailable if the database was busy, otherwise Internal) and none is applied.
  //
  // create_conversation: stores the record with created_at_ms = updated_at_ms = now,
  // last_seq = 0 and state "bot" when empty, and returns it as stored. Conflict when the
  // id exists, InvalidArgument when it is empty.
  virtual void create_conversation(ConversationRecord record,
                                   Callback<ConversationRecord> done) = 0;
  // append_turn: assigns the next seq of the conversation and created_at_ms = now, and
  // moves the conversation's last_seq and updated_at_ms along in the same transaction.
  // NotFound for an unknown conversation; when client_turn_id is set and already stored
  // (also by an earlier write of the same batch), returns kReplayed with the stored turn
  // if content_hash matches and Conflict if it differs; neither writes anything.
  virtual void append_turn(AppendTurnRequest request, Callback<AppendTurnOutcome> done) = 0;
  // Runs a write transaction that changes nothing: OK (true) when the database is writable,
  // otherwise the error that stopped it (e.g. Unavailable while another process holds the
  // write lock beyond busy_timeout_ms).
  virtual void probe_writable(Callback<bool> done) = 0;

  // Reads, synchronous, callable from any thread, also after close(). They use their own
  // connections and see the last committed state; they never wait for the writer. At most
  // read_connections run at once; more wait for a free connection.
  //
  // get_conversation: NotFound for an unknown id.
  virtual Result<ConversationRecord> get_conversation(const std::string& id) = 0;
  // Turns with seq > after_seq, oldest first, at most `limit`. NotFound for an unknown
  // conversation; an empty vector when it has no such turns.
  virtual Result<std::vector<TurnRecord>> list_turns(const std::string& conversation_id,
                                                     std::int64_t after_seq,
                                                     std::size_t limit) = 0;

  // Replaces the observer (an empty one removes it); applies from the next transaction.
  virtual void set_commit_observer(CommitObserver observer) = 0;
  virtual StoreStats stats() const = 0;

  // Stops accepting writes, commits everything queued (callbacks included), checkpoints
  // the WAL and joins the writer thread. Idempotent; the destructor calls it. Writes
  // submitted afterwards fail with Unavailable.
  virtual void close() = 0;
};

}  // namespace handover::store
