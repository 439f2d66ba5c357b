// Durable store for conversations, turns, events and agents (SQLite, WAL, one writer thread).
//
// Writes go through a single writer thread that commits every request waiting at that
// moment in one transaction (group commit) and only then calls the completion callbacks.
// Reads use their own connections and never wait for the writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  // Conversation rows get_conversation keeps in memory (a few hundred bytes each); 0: none.
  std::size_t cached_conversations = 16384;
  // WAL frames (pages) after which a thread of the store folds the WAL back into the file.
  // More frames cost disk space for the WAL (about 4 KiB each, up to twice this many) and save
  // copying: a page rewritten by many commits is copied once.
  int wal_checkpoint_frames = 16000;
  // A conversation's newest turn and time of activity (last_seq, updated_at_ms) are written
  // to its row at most this often; reads see the newer values from memory meanwhile, and a
  // start after a crash takes them from the turns. 0: with every commit.
  int conversation_rows_every_ms = 1000;
  // Page cache of the writer's connection. Each new turn rewrites the newest index page of
  // its conversation, so the cache should hold one page (4 KiB) per conversation that is
  // active at a time; a miss reads the page back from the WAL or the file.
  int writer_cache_kib = 32 * 1024;
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
  std::int64_t updated_at_ms = 0;  // set by the store: on create, each appended turn and update
  std::int64_t last_seq = 0;  // seq of the newest turn, 0 when none
  std::string privacy_notice_version;  // the notice the user saw; "" when none was declared
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
  std::string content_hash;         // fingerprint of the client-supplied content; may be ""
                                    // when client_turn_id is empty (nothing can retry it)
  std::int64_t created_at_ms = 0;
};

// The client turn ids the server's own turns are stored under, each prefix followed by a
// number: the narrator's message for stored event 12 is "narrator:12", the built-in bot's
// reply to turn 7 "bot-reply:7". Clients and agents may not post turns with such ids: a turn
// that took one first would make the server's turn a replay with other content, and the
// server's turn would never be stored.
inline constexpr std::string_view kNarratorTurnIdPrefix = "narrator:";
inline constexpr std::string_view kBotReplyTurnIdPrefix = "bot-reply:";
inline constexpr std::string_view kBotUnavailableTurnIdPrefix = "bot-unavailable:";

// True when `id` starts with one of the prefixes above, in any letter case.
bool is_server_turn_id(std::string_view id);

// One entry of the event log: a routing transition or a change the customer sees. The log
// feeds wait-time metrics, the audit trail and resumable event streams.
struct EventRecord {
  std::int64_t id = 0;             // set by the store: global, strictly increasing, never reused
  std::string conversation_id;     // may be empty; when set, the conversation must exist
  std::string agent_id;            // may be empty; not checked against the agents
  std::string type;                // e.g. "handover.queued", "offer.accepted"; must not be empty
  std::string data_json = "{}";    // a JSON object
  std::int64_t created_at_ms = 0;  // set by the store from its Clock
};

// A conversation still with the bot whose newest turn's stored trigger evaluation decided to
// escalate, with no escalation logged since that turn: the escalation that was to follow the
// turn's commit never committed (the process stopped in between, or its write failed).
struct UnfinishedEscalation {
  ConversationRecord conversation;
  TurnRecord turn;  // the deciding turn (or the unanswered one), evaluation_json included
};

// Which events list_events returns: those with id > after_id matching every set filter.
struct EventQuery {
  std::int64_t after_id = 0;
  std::string conversation_id;  // empty: events of any conversation or none
  std::string agent_id;         // empty: events of any agent or none
  std::size_t limit = 1000;
};

// What an append's follow-up adds to the turn's own transaction.
struct AppendFollowUp {
  std::optional<std::string> new_state = std::nullopt;  // replaces the request's; not empty
  std::vector<EventRecord> events = {};  // about the turn's conversation; stamped like its events
};

// Runs on the store's writer thread inside the append's transaction, right after a new turn
// was inserted (never for a replay or a refused append), with the stored turn (seq and
// created_at_ms set) and the conversation's state before the append's new_state. What it
// puts in `out` commits with the turn or not at all. It must be quick, must not throw and
// must not wait for the store's writes; it may read through the readers (which do not see
// this transaction) and submit further writes, which land in a later transaction.
using AppendFollowUpFn =
    std::function<void(const TurnRecord& turn, const std::string& state, AppendFollowUp& out)>;

struct AppendTurnRequest {
  TurnRecord turn;  // seq and created_at_ms are assigned by the store
  // When set, the append fails with Conflict unless the conversation is in this state (e.g.
  // a bot turn is refused once a person has the conversation).
  std::optional<std::string> expected_state = std::nullopt;
  // When set (not empty), the conversation moves to this state with the turn.
  std::optional<std::string> new_state = std::nullopt;
  // Written with the turn and stamped with its created_at_ms; an empty conversation_id
  // becomes the turn's.
  std::vector<EventRecord> events = {};
  // Decides more writes once the turn is known to be new; see AppendFollowUpFn.
  AppendFollowUpFn follow_up = {};
  // When not empty, a stored turn with this content_hash is a replay too: the same content
  // as an earlier version hashed it (e.g. before explicit default values were dropped).
  std::string equivalent_content_hash = {};
};

enum class AppendKind {
  kCreated,   // a new turn was committed
  kReplayed,  // same client_turn_id and content_hash already stored; nothing written
};

struct AppendTurnOutcome {
  AppendKind kind = AppendKind::kCreated;
  TurnRecord turn;  // the stored turn (for kReplayed, the earlier one)
  std::string conversation_state;  // after the append, so new_state when it was applied
  std::vector<EventRecord> events = {};  // the stored events, with ids; empty for kReplayed
};

// A change of a conversation without a turn. Unset fields keep their value.
struct ConversationUpdate {
  std::string id;
  std::optional<std::string> expected_state = std::nullopt;  // Conflict when it differs
  std::optional<std::string> new_state = std::nullopt;       // must not be empty
  std::optional<std::string> metadata_json = std::nullopt;   // must not be empty
  std::vector<EventRecord> events = {};  // an empty conversation_id becomes `id`
};

struct ConversationUpdateOutcome {
  ConversationRecord record;             // as stored after the update
  std::vector<EventRecord> events = {};  // the stored events, with ids
};

// The cursor that probe_writable() writes: a row whose commit shows that writes reach the disk.
inline constexpr std::string_view kReadinessProbeCursor = "(readiness probe)";

// A human agent, managed through the admin endpoints. Only the hash of its token is kept.
struct AgentRecord {
  std::string id;  // public id, e.g. "a_..." or a slug chosen by an admin; unique
  std::string name;
  std::string display_name;
  std::string token_hash;  // SHA-256 hex; unique among agents; empty: the agent has no token
  std::string skills_json = "[]";     // a JSON array
  std::string languages_json = "[]";  // a JSON array
  int capacity = 1;                   // conversations at once; not negative
  bool disabled = false;
  std::int64_t created_at_ms = 0;  // set by the store on create
  std::int64_t updated_at_ms = 0;  // set by the store on create and on each update
};

// What the handover analytics read of the conversations created in [from_ms, to_ms): their
// number per UTC day, the handover and routing events they have (whenever those happened),
// and the turns whose trigger decision was a suggestion.
struct HandoverFactsQuery {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::vector<std::string> channels;  // when not empty, only conversations on these channels
};

struct HandoverEventFact {
  std::string conversation_id;
  std::int64_t conversation_created_at_ms = 0;
  std::string type;  // handover.escalated / .requested / .rated, routing.accepted, .claimed,
                     // .resolved, .returned, .cancelled, .no_agent
  std::int64_t at_ms = 0;       // when the event was stored
  std::string rule;             // escalations: the deciding rule ("" for a manual handover)
  std::string queue;            // escalations: the queue asked for
  std::string fired_json;       // escalations: the fired rules as a JSON array ("[]" when none)
  std::int64_t waited_ms = -1;  // accepted and claimed: the wait the router measured
  std::string justified;        // resolved: the agent's feedback (yes, no, too_late) or ""
  bool queued = true;           // no_agent: false when the conversation stayed with the bot
  int rating = 0;               // rated: the user's rating, 1 to 5
  std::string reason;           // cancelled: why the wait ended (back_to_bot, ended_by_admin)
};

struct SuggestionFact {
  std::string conversation_id;
  std::int64_t conversation_created_at_ms = 0;
  std::int64_t at_ms = 0;  // when the turn was stored
  std::string rule;
  std::string queue;
};

struct HandoverFacts {
  std::vector<std::pair<std::int64_t, std::int64_t>> conversations_per_day;  // (day, count),
                                                                             // day = ms / 86400000
  std::vector<HandoverEventFact> events;    // by conversation, then in stored order
  std::vector<SuggestionFact> suggestions;  // by conversation, then by turn
};

// One record of the access audit trail: who read or changed personal data, what, when and why.
struct AuditRecord {
  std::int64_t id = 0;           // set by the store: strictly increasing, never reused
  std::int64_t at_ms = 0;        // set by the store from its Clock
  std::string actor_kind;        // "agent" or "api_key"; must not be empty
  std::string actor_id;          // the agent id or the API key's name
  std::string action;            // e.g. "conversation.read", "customer.export"; not empty
  std::string reason;            // why it was allowed: "offered", "assigned", "admin", ...
  std::string conversation_id;   // may be empty; not checked against the conversations
  std::string customer_id;       // may be empty
  std::string data_json = "{}";  // a JSON object
};

// Which audit records list_audit returns: id > after_id, from_ms <= at_ms < to_ms, and the
// set filters, oldest first.
struct AuditQuery {
  std::string customer_id;
  std::string conversation_id;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = INT64_MAX;
  std::int64_t after_id = 0;
  std::size_t limit = 100;
};

// Erasure of everything stored about one customer, or about one conversation (GDPR Art. 17):
// exactly one of the two ids is set.
struct ErasureRequest {
  std::string customer_id;
  std::string conversation_id;  // a conversation of its own, with or without a customer id
  // The record of the erasure itself. Stored anonymised: its conversation and customer ids
  // are cleared, and the store adds the counts to data_json.
  AuditRecord audit;
};

struct ErasureOutcome {
  std::vector<std::string> conversation_ids;  // the erased conversations
  std::int64_t conversations = 0;
  std::int64_t turns = 0;
  std::int64_t events = 0;
  std::int64_t audit_records = 0;
  std::int64_t audit_id = 0;  // id of the erasure's own (anonymised) audit record
};

// The data classes the retention job removes, each by its own period.
enum class RetentionClass {
  kTurns,          // turns created before the cutoff
  kConversations,  // conversations idle (updated_at_ms) since before the cutoff, with all
  kSnapshots,      // the "snapshot" member of handover.escalated events, removed in place
  kFeedback,       // agents' free-text notes in routing and agent.unassigned events, blanked
  kEvents,         // events older than the cutoff of conversations idle since before it
  kAccessLog,      // audit records older than the cutoff
  // What users and agents wrote, copied into events created before the cutoff, stripped in
  // place: the turn of agent.turn (text blanked; actions, bot data and metadata removed;
  // "redacted": true added), the comment of handover.rated (blanked), and in the reasons of
  // handover.escalated and handover.requested the words the fired rules' evidence quotes and
  // the free-text reason of a handover asked for over the API (blanked; "redacted": true
  // added; rule ids, checks, cues and scores stay). Meant to run with the turns' cutoff, so
  // the copies go with the turns.
  kEventTexts,
};

// One batch of the retention job. Conversations not in state "bot" (waiting for or held by a
// person) are never touched, so routing can always replay what it needs.
struct RetentionBatch {
  RetentionClass data_class = RetentionClass::kTurns;
  std::int64_t cutoff_ms = 0;
  std::size_t limit = 500;  // rows changed at most
};

struct RetentionOutcome {
  std::int64_t rows = 0;                      // rows deleted or changed
  std::vector<std::string> conversation_ids;  // conversations deleted (kConversations)
};

// Everything stored about one customer, for an export (GDPR Art. 15 and 20).
struct CustomerExport {
  struct Conversation {
    ConversationRecord record;
    std::vector<TurnRecord> turns;
    std::vector<EventRecord> events;
  };
  std::vector<Conversation> conversations;  // oldest first
  std::vector<AuditRecord> audit;           // records naming the customer, oldest first
};

// Figures for /metrics, read without locks (monotonic counters and the last batch).
// Batches made only of probe_writable requests are not counted as commits.
struct StoreStats {
  std::uint64_t commits = 0;             // write transactions committed
  std::uint64_t committed_requests = 0;  // requests in those transactions
  std::uint64_t failed_commits = 0;      // transactions rolled back after an error
  std::uint64_t queue_depth = 0;         // writes waiting for the writer right now
  std::uint64_t last_batch_size = 0;     // requests in the most recent committed transaction
  std::uint64_t checkpoints = 0;         // WAL checkpoints run by the checkpoint thread
  std::uint64_t writer_checkpoints = 0;  // run by the writer itself, holding up commits
  // Conversations whose rows do not count their newest turns yet (written behind in rounds)
  std::uint64_t conversation_rows_behind = 0;
  // Pages the writer had to read because its cache did not hold them (new pages included)
  std::uint64_t writer_cache_misses = 0;
  bool incremental_vacuum = false;       // the file can give free pages back (auto_vacuum)
};

// Observer of each commit: batch size and commit latency (BEGIN to COMMIT, in seconds).
// Called on the writer thread after COMMIT returned and before the batch's callbacks run;
// not called for failed transactions. Must not block.
using CommitObserver = std::function<void(std::size_t batch_size, double seconds)>;

// Every new turn is logged with an event of this type, first among the append's events;
// its data: {"seq", "role", "state"} (the conversation's state after the append). A store
// may keep the event in the turn's own record; list_events returns it like any other, and it
// goes when its turn goes.
inline constexpr const char* kTurnCreatedEvent = "turn.created";

// What one committed transaction wrote: its events in id order and the turns it created.
// The pointers are valid only during the observer call.
struct CommittedChanges {
  std::vector<const EventRecord*> events;
  std::vector<std::shared_ptr<const TurnRecord>> turns;  // listeners may keep them
};
// Called on the writer thread after COMMIT, before the batch's callbacks run, for every
// transaction that stored at least one event. Must not block.
using ChangeObserver = std::function<void(const CommittedChanges& changes)>;

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
  // if content_hash (or equivalent_content_hash) matches and Conflict if it differs, naming
  // the members (role, text, bot, actions, metadata) whose stored text differs from the
  // request's; neither writes anything.
  //
  // With expected_state set and different from the conversation's state, the append fails
  // with Conflict naming both states and writes nothing, unless client_turn_id names a
  // stored turn (a retry), which is answered as above. With new_state set, a created turn
  // moves the conversation to it; its events are written too, all in one transaction. An
  // event naming an unknown conversation fails the append with NotFound, an empty type or
  // new_state with InvalidArgument; then nothing is written.
  virtual void append_turn(AppendTurnRequest request, Callback<AppendTurnOutcome> done) = 0;
  // append_events: writes the events with ids and created_at_ms = now and returns them in
  // the same order. Either all are written or none: NotFound when one names an unknown
  // conversation, InvalidArgument when one has an empty type.
  virtual void append_events(std::vector<EventRecord> events,
                             Callback<std::vector<EventRecord>> done) = 0;
  // update_conversation: applies the set fields and the events in one transaction, sets
  // updated_at_ms = now and returns the record as stored with the stored events. NotFound
  // for an unknown conversation (or one an event names); Conflict, naming both states, when
  // expected_state is set and differs; InvalidArgument for an empty id, new_state,
  // metadata_json or event type. A failed update writes nothing.
  virtual void update_conversation(ConversationUpdate update,
                                   Callback<ConversationUpdateOutcome> done) = 0;
  // create_agent: stores the agent with created_at_ms = updated_at_ms = now and returns it
  // as stored. Conflict when the id or the (non-empty) token hash is taken; InvalidArgument
  // for an empty id or a negative capacity.
  virtual void create_agent(AgentRecord agent, Callback<AgentRecord> done) = 0;
  // update_agent: replaces every field of the agent with that id except created_at_ms (kept)
  // and updated_at_ms (now), and returns it as stored. NotFound for an unknown id; Conflict
  // when another agent has the token hash; InvalidArgument as for create_agent.
  virtual void update_agent(AgentRecord agent, Callback<AgentRecord> done) = 0;
  // erase_customer: in one transaction, deletes every conversation of the customer (or the
  // one conversation request.conversation_id names) with its turns and events, and every
  // audit record naming the customer or one of those conversations, then writes
  // request.audit anonymised. Returns what went (all counts 0 when nothing was stored:
  // erasing twice is harmless). InvalidArgument unless exactly one id is given; Conflict,
  // writing nothing, while one of the conversations is not in state "bot" (a person has it
  // or it waits for one). Later writes naming those conversations get NotFound.
  virtual void erase_customer(ErasureRequest request, Callback<ErasureOutcome> done) = 0;
  // append_audit: stores the record with its id and at_ms = now and returns it.
  // InvalidArgument for an empty actor_kind or action.
  virtual void append_audit(AuditRecord record, Callback<AuditRecord> done) = 0;
  // run_retention: deletes or strips at most batch.limit rows of the class that are due
  // (see RetentionClass), oldest first, and returns how many. A caller runs batches until
  // one returns fewer than the limit; each is its own write, so other writes go between.
  virtual void run_retention(RetentionBatch batch, Callback<RetentionOutcome> done) = 0;
  // reclaim_space: gives up to `pages` free pages back to the file system (incremental
  // vacuum) and returns how many went; 0 when the file was not created with incremental
  // auto_vacuum (StoreStats::incremental_vacuum).
  virtual void reclaim_space(std::int64_t pages, Callback<std::int64_t> done) = 0;
  // put_cursor: stores `event_id` as the named cursor (how far a reader of the event log such
  // as a webhook endpoint has got), replacing its old value. InvalidArgument for an empty
  // name or a negative id.
  virtual void put_cursor(std::string name, std::int64_t event_id, Callback<bool> done) = 0;
  // Runs a write transaction that writes one row, the cursor kReadinessProbeCursor (set to
  // the time of the probe), and commits it: OK (true) when the database takes writes,
  // otherwise the error that stopped it (Unavailable while another process holds the write
  // lock beyond busy_timeout_ms, the I/O error of a read-only file or a full disk).
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
  // Events matching the query, oldest (lowest id) first, at most query.limit. Ids grow in
  // commit order, so a reader that resumes after the last id it saw misses nothing.
  // NotFound when query.conversation_id names an unknown conversation.
  virtual Result<std::vector<EventRecord>> list_events(const EventQuery& query) = 0;
  // Conversations whose state is one of `states`, oldest created first, at most `limit`,
  // read from one snapshot. Empty when `states` is.
  virtual Result<std::vector<ConversationRecord>> list_conversations_in_states(
      const std::vector<std::string>& states, std::size_t limit) = 0;
  // get_agent, get_agent_by_token_hash: NotFound when no agent matches (an empty hash
  // matches none).
  virtual Result<AgentRecord> get_agent(const std::string& id) = 0;
  virtual Result<AgentRecord> get_agent_by_token_hash(const std::string& token_hash) = 0;
  // Every agent, disabled ones included, ordered by id.
  virtual Result<std::vector<AgentRecord>> list_agents() = 0;
  // The facts behind GET /v1/analytics/handovers, read from one snapshot. The window is
  // found through the conversations' integer keys, which grow with their creation time.
  // InvalidArgument when to_ms <= from_ms.
  virtual Result<HandoverFacts> read_handover_facts(const HandoverFactsQuery& query) = 0;
  // Audit records matching the query, oldest (lowest id) first, at most query.limit.
  virtual Result<std::vector<AuditRecord>> list_audit(const AuditQuery& query) = 0;
  // Everything stored about the customer, read from one snapshot; empty when nothing is.
  // InvalidArgument for an empty customer id.
  virtual Result<CustomerExport> export_customer(const std::string& customer_id) = 0;
  // The cursor put_cursor stored under `name`; NotFound when there is none.
  virtual Result<std::int64_t> get_cursor(const std::string& name) = 0;
  // Conversations in state "bot" whose newest turn has a stored evaluation deciding
  // "escalate" and no handover.escalated or handover.requested event after that turn's
  // turn.created event; read from one snapshot, oldest created first, after the conversation
  // `after_id` ("" from the first), at most `limit`. A conversation whose turn.created event
  // of that turn is gone (retention) is not listed. Reads the newest turn of every
  // conversation with the bot (about a second per 100,000 of them on a 2-core machine), so it
  // is meant for start-up.
  virtual Result<std::vector<UnfinishedEscalation>> list_unfinished_escalations(
      const std::string& after_id, std::size_t limit) = 0;
  // Conversations in state "bot" whose newest turn is a user turn created at or after
  // `since_ms`: questions nobody has answered yet, as a bot connector would have when the
  // process stopped while asking. Each with that turn (evaluation_json included), oldest turn
  // first, at most `limit`, read from one snapshot. Meant for start-up.
  virtual Result<std::vector<UnfinishedEscalation>> list_unanswered_user_turns(
      std::int64_t since_ms, std::size_t limit) = 0;

  // Replaces the observer (an empty one removes it); applies from the next transaction.
  virtual void set_commit_observer(CommitObserver observer) = 0;
  // Replaces the change observer (an empty one removes it); applies from the next batch.
  virtual void set_change_observer(ChangeObserver observer) = 0;
  virtual StoreStats stats() const = 0;

  // Stops accepting writes, commits everything queued (callbacks included), checkpoints
  // the WAL and joins the writer thread. Idempotent; the destructor calls it. Writes
  // submitted afterwards fail with Unavailable.
  virtual void close() = 0;
};

}  // namespace handover::store
