// SqliteStore: the Store behind Store::open. Private to the store module and its tests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "batch_queue.hpp"
#include "checkpointer.hpp"
#include "conversation_activity.hpp"
#include "conversation_cache.hpp"
#include "handover/store/store.hpp"
#include "handover/util/log_throttle.hpp"
#include "instance_lock.hpp"
#include "reader_pool.hpp"
#include "sqlite.hpp"
#include "statements.hpp"

namespace handover::store {

// Thread-safe: every public method may be called from any thread, except that close() and
// the destructor must not be called from a write callback (they wait for the writer).
class SqliteStore final : public Store {
 public:
  // Runs on the writer thread inside each write transaction, after the batch is applied
  // and before COMMIT. A non-OK result fails the commit as if SQLite had refused it.
  using BeforeCommitHook = std::function<Status(std::size_t batch_size)>;

  // See Store::open. `clock` must outlive the store.
  static Result<std::unique_ptr<SqliteStore>> open(const StoreOptions& options, const Clock& clock);
  ~SqliteStore() override;

  void create_conversation(ConversationRecord record, Callback<ConversationRecord> done) override;
  void append_turn(AppendTurnRequest request, Callback<AppendTurnOutcome> done) override;
  void append_events(std::vector<EventRecord> events,
                     Callback<std::vector<EventRecord>> done) override;
  void update_conversation(ConversationUpdate update,
                           Callback<ConversationUpdateOutcome> done) override;
  void create_agent(AgentRecord agent, Callback<AgentRecord> done) override;
  void update_agent(AgentRecord agent, Callback<AgentRecord> done) override;
  void erase_customer(ErasureRequest request, Callback<ErasureOutcome> done) override;
  void append_audit(AuditRecord record, Callback<AuditRecord> done) override;
  void run_retention(RetentionBatch batch, Callback<RetentionOutcome> done) override;
  void reclaim_space(std::int64_t pages, Callback<std::int64_t> done) override;
  void put_cursor(std::string name, std::int64_t event_id, Callback<bool> done) override;
  void probe_writable(Callback<bool> done) override;

  Result<ConversationRecord> get_conversation(const std::string& id) override;
  Result<std::vector<TurnRecord>> list_turns(const std::string& conversation_id,
                                             std::int64_t after_seq, std::size_t limit) override;
  Result<std::vector<EventRecord>> list_events(const EventQuery& query) override;
  Result<std::vector<ConversationRecord>> list_conversations_in_states(
      const std::vector<std::string>& states, std::size_t limit) override;
  Result<AgentRecord> get_agent(const std::string& id) override;
  Result<AgentRecord> get_agent_by_token_hash(const std::string& token_hash) override;
  Result<std::vector<AgentRecord>> list_agents() override;
  Result<HandoverFacts> read_handover_facts(const HandoverFactsQuery& query) override;
  Result<std::vector<AuditRecord>> list_audit(const AuditQuery& query) override;
  Result<CustomerExport> export_customer(const std::string& customer_id) override;
  Result<std::int64_t> get_cursor(const std::string& name) override;
  Result<std::vector<UnfinishedEscalation>> list_unfinished_escalations(
      const std::string& after_id, std::size_t limit) override;
  Result<std::vector<UnfinishedEscalation>> list_unanswered_user_turns(
      std::int64_t since_ms, std::size_t limit) override;

  void set_commit_observer(CommitObserver observer) override;
  void set_change_observer(ChangeObserver observer) override;
  StoreStats stats() const override;
  void close() override;

  // Lets a test hold a write transaction open, or fail a commit. Applies from the next
  // batch on; an empty hook removes it.
  void set_before_commit_for_test(BeforeCommitHook hook);

 private:
  // A queued write. `status` is the request's own outcome inside the transaction; it is
  // reported only if the transaction commits.
  struct CreateOp {
    ConversationRecord record;
    Callback<ConversationRecord> done;
    Status status;
  };
  struct AppendOp {
    TurnRecord turn;  // the request; replaced by the stored turn on a replay
    // turn.evaluation_json packed by the caller's thread, so the writer only stores it.
    std::string packed_evaluation;
    std::string equivalent_content_hash;  // see AppendTurnRequest
    Callback<AppendTurnOutcome> done;
    Status status;
    AppendKind kind = AppendKind::kCreated;
    std::int64_t turn_id = 0;  // of the new row, which is also its turn.created event's
    std::string conversation_state;
    std::optional<std::string> expected_state;
    std::optional<std::string> new_state;
    std::vector<EventRecord> events;  // the request's; stored in place, cleared on a replay
    AppendFollowUpFn follow_up;
    // After the commit, the stored turn as the change observer shares it; `turn` is then
    // empty and the answer copies this.
    std::shared_ptr<const TurnRecord> committed;
  };
  struct ProbeOp {
    Callback<bool> done;
    Status status;
  };
  // The writes below answer with their `reply`, which starts out as the request where the
  // two share a type and is completed in place.
  struct EventsOp {
    Callback<std::vector<EventRecord>> done;
    Status status;
    std::vector<EventRecord> reply;
  };
  struct UpdateOp {
    ConversationUpdate update;  // its events are moved to reply.events
    Callback<ConversationUpdateOutcome> done;
    Status status;
    ConversationUpdateOutcome reply;
  };
  struct CreateAgentOp {
    Callback<AgentRecord> done;
    Status status;
    AgentRecord reply;
  };
  struct UpdateAgentOp {
    Callback<AgentRecord> done;
    Status status;
    AgentRecord reply;
  };
  struct EraseOp {
    ErasureRequest request;
    Callback<ErasureOutcome> done;
    Status status;
    ErasureOutcome reply;
  };
  struct AuditOp {
    Callback<AuditRecord> done;
    Status status;
    AuditRecord reply;
  };
  struct RetentionOp {
    RetentionBatch batch;
    Callback<RetentionOutcome> done;
    Status status;
    RetentionOutcome reply;
  };
  struct ReclaimOp {
    std::int64_t pages = 0;
    Callback<std::int64_t> done;
    Status status;
    std::int64_t reply = 0;  // pages given back
  };
  struct CursorOp {
    std::string name;
    std::int64_t event_id = 0;
    Callback<bool> done;
    Status status;
    bool reply = true;
  };
  using WriteOp = std::variant<CreateOp, AppendOp, ProbeOp, EventsOp, UpdateOp, CreateAgentOp,
                               UpdateAgentOp, EraseOp, AuditOp, RetentionOp, ReclaimOp,
                               CursorOp>;

  // What the writer knows of a conversation during one transaction. Appends and updates
  // change it here; write_heads() stores it once per conversation before COMMIT.
  struct ConversationHead {
    std::int64_t pk = 0;
    std::int64_t last_seq = 0;
    std::int64_t updated_at_ms = 0;
    std::string state;
    std::string stored_state;  // as the row holds it, so an unchanged state is not rewritten
    std::optional<std::string> metadata_json;  // set when an update replaced it
    bool dirty = false;  // a turn was added or the conversation updated in this transaction
  };

  // A conversation's head as the last commit left it.
  struct CommittedHead {
    std::int64_t pk = 0;
    std::int64_t last_seq = 0;
    std::string state;
  };

  SqliteStore(const StoreOptions& options, const Clock& clock, InstanceLock lock,
              Connection writer_db, WriterStatements writer, std::unique_ptr<ReaderPool> readers,
              std::unique_ptr<Checkpointer> checkpointer);

  void submit(WriteOp&& op);
  static void finish(CreateOp& op, const Status& failure);
  static void finish(AppendOp& op, const Status& failure);
  static void finish(ProbeOp& op, const Status& failure);
  template <class Op>
  static void finish(Op& op, const Status& failure);  // the writes answering with `reply`

  // Writer thread.
  void run_writer();
  bool take_batch();
  void run_batch();
  Status write_batch(bool probes_only);
  Status apply_batch();
  Status apply(CreateOp& op);
  Status apply(AppendOp& op);
  Status apply(ProbeOp& op);
  Status apply(EventsOp& op);
  Status apply(UpdateOp& op);
  Status apply(CreateAgentOp& op);
  Status apply(UpdateAgentOp& op);
  // Privacy writes (privacy_ops.cpp).
  Status apply(EraseOp& op);
  Status apply(AuditOp& op);
  Status apply(RetentionOp& op);
  Status apply(ReclaimOp& op);
  struct EraseStatements;
  EraseStatements erase_statements(const ErasureRequest& request);
  Status refuse_busy(EraseOp& op, Statement& find, const std::string& key);
  Result<std::vector<UnfinishedEscalation>> list_with_newest_turn(
      const char* sql, const std::function<void(Statement&)>& bind, const char* what);
  Result<std::int64_t> count_rows(Statement& count, const std::string& key);
  Status delete_erased_rows(EraseOp& op, EraseStatements& statements, const std::string& key);
  Status insert_audit(AuditRecord& record, Status& request_status);
  Result<std::int64_t> step_retention(Statement& statement, RetentionOp& op);
  Result<std::int64_t> free_pages();
  Status apply(CursorOp& op);
  Result<ConversationHead*> find_head(const std::string& conversation_id);
  void forget_head(const std::string& conversation_id);
  Status refuse_in_state(AppendOp& op, const ConversationHead& head);
  bool run_follow_up(AppendOp& op, const ConversationHead& head);
  Status set_turn_state(AppendOp& op);
  void log_turn_created(AppendOp& op, const ConversationHead& head);
  Status insert_turn(AppendOp& op, ConversationHead& head);
  Result<bool> answer_from_stored_turn(AppendOp& op, std::int64_t pk);
  Status write_append(AppendOp& op, ConversationHead& head);
  Status write_update(UpdateOp& op, ConversationHead& head);
  Status read_stored_conversation(std::int64_t pk, ConversationRecord& record,
                                  Status& request_status);
  Status resolve_events(std::vector<EventRecord>& events, const std::string& conversation_id,
                        Status& request_status);
  Result<std::int64_t> event_conversation_pk(const EventRecord& event);
  Status insert_events(std::vector<EventRecord>& events, std::int64_t now_ms, bool wrote_before,
                       Status& request_status);
  Status write_heads(bool flush);
  bool flush_due() const;
  bool round_due() const;
  Status flush_activity();
  Status begin_round();
  Status continue_round();
  Status write_activity(const std::string& id, const ConversationActivity::Entry& entry);
  Status set_turns_mark(std::int64_t turn_id);
  std::int64_t next_log_id() { return next_log_id_++; }
  Status store_log_ids();
  void account_rows_written();
  Status request_failed(Status error, Status& request_status) const;
  void log_failure(LogThrottle& throttle, const Status& failure) const;
  Status finish_transaction(bool probes_only);
  void roll_back();
  void record_batch(const Status& failure, bool probes_only, double seconds);
  void report_changes();
  void refresh_cached_conversations();
  void shut_down_writer();

  Result<std::int64_t> find_conversation_pk(Reader& reader, const std::string& id);
  Status export_conversation(Reader& reader, std::int64_t pk, CustomerExport::Conversation& out);

  const StoreOptions options_;
  const Clock& clock_;
  InstanceLock lock_;  // first in, last out: held until every connection has closed

  // Writer thread only (and open(), before the thread starts).
  Connection writer_db_;
  WriterStatements writer_;
  std::vector<WriteOp> batch_;
  std::shared_ptr<const CommitObserver> batch_observer_;
  std::shared_ptr<const ChangeObserver> batch_change_observer_;
  std::shared_ptr<const BeforeCommitHook> batch_hook_;
  std::unordered_map<std::string, ConversationHead> heads_;  // of the current transaction
  // The heads of recent transactions, so that find_head need not read the row again.
  // Dropped whole after a batch that deletes conversations, and when full.
  std::unordered_map<std::string, CommittedHead> committed_heads_;
  std::unordered_set<std::string> deleted_in_batch_;  // conversations this batch deleted
  std::string scratch_;                  // reused for stored content hashes and deleted ids
  std::vector<std::int64_t> event_pks_;  // from resolve_events to insert_events
  bool checkpoint_after_batch_ = false;  // an erasure in this batch deleted rows
  bool retired_since_checkpoint_ = false;  // retention deleted rows since its last reclaim
  bool batch_deletes_ = false;           // the batch holds an erasure or retention
  // The events' sequence, which numbers new turns too (schema step 10): the next id to give
  // out, and the highest one sqlite_sequence holds. Ids a rolled-back batch gave out are
  // skipped, never given out again.
  std::int64_t next_log_id_ = 1;
  std::int64_t stored_log_id_ = 0;

  // Conversation rows written behind their turns, a round at a time (ConversationActivity).
  struct RowRound {
    bool open = false;
    std::vector<std::string> ids;  // the conversations behind when the round began
    std::size_t next = 0;          // ids[next] is the next row to write
    std::int64_t mark = 0;         // the newest turn then; counted once the round ends
  };
  RowRound round_;
  std::chrono::steady_clock::time_point round_began_ = std::chrono::steady_clock::now();
  // What this batch did of it, applied once it commits.
  std::vector<std::string> batch_rows_written_;
  std::size_t batch_round_next_ = 0;
  bool batch_ends_round_ = false;
  bool batch_flushes_ = false;  // the batch writes every row behind and ends any round

  std::unique_ptr<ReaderPool> readers_;
  ConversationCache conversations_;  // in front of the readers for get_conversation
  ConversationActivity activity_;    // what the conversation rows do not hold yet
  std::unique_ptr<Checkpointer> checkpointer_;  // stopped by the writer thread as it ends

  std::mutex mutex_;
  std::condition_variable work_ready_;
  BatchQueue<WriteOp> queue_;                       // guarded by mutex_
  bool closing_ = false;                            // guarded by mutex_
  std::shared_ptr<const CommitObserver> observer_;  // guarded by mutex_
  std::shared_ptr<const ChangeObserver> change_observer_;  // guarded by mutex_
  std::shared_ptr<const BeforeCommitHook> hook_;    // guarded by mutex_

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> committed_requests_{0};
  std::atomic<std::uint64_t> failed_commits_{0};
  mutable LogThrottle commit_failure_log_;
  mutable LogThrottle request_failure_log_;
  std::atomic<std::uint64_t> queue_depth_{0};
  std::atomic<std::uint64_t> last_batch_size_{0};
  std::atomic<std::uint64_t> writer_cache_misses_{0};
  bool incremental_vacuum_ = false;  // set by open(), read-only afterwards
  // The first turn that is its own turn.created event; set by open(), read-only afterwards.
  std::int64_t turns_logged_from_ = 1;

  std::mutex join_mutex_;  // serialises close()
  std::thread writer_thread_;
};

}  // namespace handover::store
