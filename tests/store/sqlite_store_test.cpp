// Tests of the SQLite store: records, seq assignment, idempotency, group commit, the write
// queue's limits, close, migrations and reads beside an open write transaction.
#include "sqlite_store.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handover/logging/request_context.hpp"
#include "handover/store/store.hpp"
#include "handover/util/clock.hpp"
#include "schema.hpp"
#include "sqlite.hpp"
#include "store_test_support.hpp"

namespace handover::store {
namespace {

ConversationRecord conversation(const std::string& id) {
  ConversationRecord record;
  record.id = id;
  record.channel = "web";
  record.language = "en";
  record.customer_id = "cust-1";
  record.customer_json = R"({"name":"Ada"})";
  record.metadata_json = R"({"page":"/billing"})";
  record.token_hash = "ab12";
  return record;
}

TurnRecord turn(const std::string& conversation_id, const std::string& text,
                const std::string& client_turn_id = "", const std::string& content_hash = "h") {
  TurnRecord record;
  record.conversation_id = conversation_id;
  record.client_turn_id = client_turn_id;
  record.role = "user";
  record.text = text;
  record.actions_json = "[]";
  record.metadata_json = R"({"cart":42})";
  record.evaluation_json = R"({"score":0.1})";
  record.content_hash = content_hash;
  return record;
}

std::vector<std::int64_t> seqs_of(const std::vector<TurnRecord>& turns) {
  std::vector<std::int64_t> seqs;
  for (const TurnRecord& record : turns) seqs.push_back(record.seq);
  return seqs;
}

class SqliteStoreTest : public StoreTestBase {
 protected:
  Result<ConversationRecord> create(const std::string& id) {
    Pending<ConversationRecord> pending;
    store_->create_conversation(conversation(id), pending.callback());
    return pending.get();
  }
  Pending<AppendTurnOutcome> append_async(TurnRecord record) {
    Pending<AppendTurnOutcome> pending;
    store_->append_turn(AppendTurnRequest{std::move(record)}, pending.callback());
    return pending;
  }
  Result<AppendTurnOutcome> append(TurnRecord record) {
    return append_async(std::move(record)).get();
  }
  std::vector<TurnRecord> all_turns(const std::string& id) {
    Result<std::vector<TurnRecord>> turns = store_->list_turns(id, 0, 1000000);
    EXPECT_TRUE(turns.is_ok()) << turns.status().to_string();
    return turns.is_ok() ? std::move(turns).value() : std::vector<TurnRecord>{};
  }
};

TEST_F(SqliteStoreTest, CreatesAndGetsConversation) {
  Result<ConversationRecord> created = create("c_1");

  ASSERT_TRUE(created.is_ok()) << created.status().to_string();
  EXPECT_EQ(created->state, "bot");
  EXPECT_EQ(created->created_at_ms, clock_.now_ms());
  EXPECT_EQ(created->updated_at_ms, clock_.now_ms());
  EXPECT_EQ(created->last_seq, 0);

  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->id, "c_1");
  EXPECT_EQ(got->channel, "web");
  EXPECT_EQ(got->language, "en");
  EXPECT_EQ(got->state, "bot");
  EXPECT_EQ(got->customer_id, "cust-1");
  EXPECT_EQ(got->customer_json, R"({"name":"Ada"})");
  EXPECT_EQ(got->metadata_json, R"({"page":"/billing"})");
  EXPECT_EQ(got->token_hash, "ab12");
  EXPECT_EQ(got->created_at_ms, clock_.now_ms());
}

// The change observer may keep the committed turns (the feed queues them for its listeners)
// while the append's answer carries its own copy of the same stored turn.
// The store's threads work behind the network threads (see schedule_as_batch_work()).
TEST_F(SqliteStoreTest, WriterAndCheckpointThreadsRunAsBatchWork) {
  ASSERT_TRUE(create("c1"));
  std::vector<std::string> batch;
  // The checkpoint thread names itself when it starts, which may be a moment after this.
  for (int attempt = 0; attempt < 200 && batch.size() < 2; ++attempt) {
    batch.clear();
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(entry.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name != "store-writer" && name != "store-ckpt") continue;
      const int tid = std::stoi(entry.path().filename().string());
      if (sched_getscheduler(tid) == SCHED_BATCH) batch.push_back(name);
    }
    if (batch.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::sort(batch.begin(), batch.end());
  EXPECT_EQ(batch, (std::vector<std::string>{"store-ckpt", "store-writer"}));
}

TEST_F(SqliteStoreTest, ChangeObserverKeepsTheCommittedTurnTheAnswerCopies) {
  ASSERT_TRUE(create("c_1").is_ok());
  std::mutex mutex;
  std::vector<std::shared_ptr<const TurnRecord>> kept;
  store_->set_change_observer([&](const CommittedChanges& changes) {
    std::lock_guard lock(mutex);
    kept.insert(kept.end(), changes.turns.begin(), changes.turns.end());
  });

  Result<AppendTurnOutcome> appended = append(turn("c_1", "where is my parcel?"));
  store_->set_change_observer(nullptr);

  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  std::lock_guard lock(mutex);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]->seq, appended->turn.seq);
  EXPECT_EQ(kept[0]->conversation_id, "c_1");
  EXPECT_EQ(kept[0]->text, appended->turn.text);
  EXPECT_EQ(kept[0]->evaluation_json, appended->turn.evaluation_json);
  EXPECT_EQ(appended->turn.text, "where is my parcel?");
}

// Two servers on one file would both route its conversations: the second store is refused
// before it touches the file, and may open once the first has closed.
TEST_F(SqliteStoreTest, RefusesASecondStoreOnTheSameFileUntilTheFirstCloses) {
  ASSERT_TRUE(create("c_1").is_ok());

  Result<std::unique_ptr<SqliteStore>> second = SqliteStore::open(options_, clock_);

  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(options_.path), std::string::npos)
      << second.status().message();
  store_.reset();
  Result<std::unique_ptr<SqliteStore>> after = SqliteStore::open(options_, clock_);
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_TRUE((*after)->get_conversation("c_1").is_ok());
}

// A symbolic or a hard link names the same database under another path: a second server
// through it must be refused just the same (through a hard link SQLite would even keep a
// WAL of its own beside the link).
TEST_F(SqliteStoreTest, RefusesASecondStoreThroughALinkToTheSameFile) {
  ASSERT_TRUE(create("c_1").is_ok());
  const std::string symlink = dir_.file("symlink.db");
  const std::string hardlink = dir_.file("hardlink.db");
  std::filesystem::create_symlink(options_.path, symlink);
  std::filesystem::create_hard_link(options_.path, hardlink);

  for (const std::string& path : {symlink, hardlink}) {
    SCOPED_TRACE(path);
    StoreOptions through = options_;
    through.path = path;
    Result<std::unique_ptr<SqliteStore>> second = SqliteStore::open(through, clock_);

    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(second.status().message().find("another handover server"), std::string::npos)
        << second.status().message();
  }
}

// Only the index on client turn ids tells of a client's reused id. Another constraint that
// fails (here turn ids taken behind the store's back, as a second writer would) is the
// store's own fault and must not read as a conflict the client caused.
TEST_F(SqliteStoreTest, AConstraintOtherThanTheClientTurnIdIsNoConflict) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(create("c_2").is_ok());
  ASSERT_TRUE(append(turn("c_1", "first", "ct-1")).is_ok());
  {
    RawDb other(options_.path);
    for (int k = 1; k <= 50; ++k) {
      other.exec("INSERT INTO turns (id, conversation, seq, role, text, content_hash, "
                 "created_at_ms) SELECT max(id) + 1, (SELECT pk FROM conversations WHERE "
                 "public_id = 'c_2'), " + std::to_string(100 + k) + ", 'user', 'x', 'h', 0 "
                 "FROM turns");
    }
  }

  Result<AppendTurnOutcome> appended = append(turn("c_1", "second", "ct-2"));

  ASSERT_FALSE(appended.is_ok());
  EXPECT_EQ(appended.status().code(), StatusCode::kInternal) << appended.status().to_string();
}

TEST_F(SqliteStoreTest, KeepsEmptyCustomerIdEmpty) {
  ConversationRecord record = conversation("c_1");
  record.customer_id.clear();
  Pending<ConversationRecord> pending;

  store_->create_conversation(record, pending.callback());

  ASSERT_TRUE(pending.get().is_ok());
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->customer_id, "");
}

TEST_F(SqliteStoreTest, CreateFailsWithConflictWhenIdExists) {
  ASSERT_TRUE(create("c_1").is_ok());

  Result<ConversationRecord> again = create("c_1");

  EXPECT_EQ(again.status().code(), StatusCode::kConflict);
}

TEST_F(SqliteStoreTest, GetFailsWithNotFoundForUnknownId) {
  Result<ConversationRecord> got = store_->get_conversation("c_missing");

  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, AppendAssignsSeqOneToN) {
  ASSERT_TRUE(create("c_1").is_ok());

  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 5; ++i) {
    clock_.advance_ms(10);
    Result<AppendTurnOutcome> appended = append(turn("c_1", "hello " + std::to_string(i)));
    ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
    EXPECT_EQ(appended->kind, AppendKind::kCreated);
    EXPECT_EQ(appended->turn.created_at_ms, clock_.now_ms());
    EXPECT_EQ(appended->conversation_state, "bot");
    seqs.push_back(appended->turn.seq);
  }

  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->last_seq, 5);
  EXPECT_EQ(got->updated_at_ms, clock_.now_ms());
  std::vector<TurnRecord> turns = all_turns("c_1");
  ASSERT_EQ(turns.size(), 5u);
  EXPECT_EQ(turns[2].text, "hello 2");
  EXPECT_EQ(turns[2].conversation_id, "c_1");
  EXPECT_EQ(turns[2].role, "user");
  EXPECT_EQ(turns[2].bot_json, "");
  EXPECT_EQ(turns[2].actions_json, "[]");
  EXPECT_EQ(turns[2].metadata_json, R"({"cart":42})");
  EXPECT_EQ(turns[2].evaluation_json, R"({"score":0.1})");
  EXPECT_EQ(turns[2].content_hash, "h");
  EXPECT_EQ(turns[2].seq, 3);
}

TEST_F(SqliteStoreTest, ConcurrentAppendsGetGapFreeSeqInSubmitOrder) {
  ASSERT_TRUE(create("c_1").is_ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::vector<Pending<AppendTurnOutcome>>> pending(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &pending] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        pending[t].push_back(append_async(turn("c_1", "text " + id, "ct-" + id)));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<std::int64_t> all;
  for (auto& from_thread : pending) {
    std::int64_t previous = 0;
    for (Pending<AppendTurnOutcome>& one : from_thread) {
      Result<AppendTurnOutcome> appended = one.get();
      ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
      EXPECT_GT(appended->turn.seq, previous) << "one thread's turns keep their order";
      previous = appended->turn.seq;
      all.push_back(previous);
    }
  }
  std::sort(all.begin(), all.end());
  std::vector<std::int64_t> expected(kThreads * kPerThread);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i + 1);
  EXPECT_EQ(all, expected);
  EXPECT_EQ(seqs_of(all_turns("c_1")), expected);
  EXPECT_EQ(store_->get_conversation("c_1")->last_seq, kThreads * kPerThread);
}

TEST_F(SqliteStoreTest, ReplaysStoredTurnWithSameClientTurnIdAndContent) {
  ASSERT_TRUE(create("c_1").is_ok());
  Result<AppendTurnOutcome> first = append(turn("c_1", "hi", "ct-1", "hash-1"));
  ASSERT_TRUE(first.is_ok());
  std::int64_t first_at = first->turn.created_at_ms;
  std::uint64_t commits = store_->stats().commits;

  clock_.advance_ms(1000);
  Result<AppendTurnOutcome> again = append(turn("c_1", "hi", "ct-1", "hash-1"));

  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->kind, AppendKind::kReplayed);
  EXPECT_EQ(again->turn.seq, 1);
  EXPECT_EQ(again->turn.created_at_ms, first_at);
  EXPECT_EQ(again->turn.client_turn_id, "ct-1");
  EXPECT_EQ(again->turn.text, "hi");
  EXPECT_EQ(again->turn.metadata_json, R"({"cart":42})");
  EXPECT_EQ(again->turn.content_hash, "hash-1");
  EXPECT_EQ(again->turn.conversation_id, "c_1");
  EXPECT_EQ(all_turns("c_1").size(), 1u);
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  EXPECT_EQ(got->last_seq, 1);
  EXPECT_EQ(got->updated_at_ms, first_at);
  EXPECT_EQ(store_->stats().commits, commits + 1);  // a transaction that wrote nothing
}

TEST_F(SqliteStoreTest, ConflictsOnSameClientTurnIdWithDifferentContent) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn("c_1", "hi", "ct-1", "hash-1")).is_ok());

  Result<AppendTurnOutcome> changed = append(turn("c_1", "bye", "ct-1", "hash-2"));

  EXPECT_EQ(changed.status().code(), StatusCode::kConflict);
  std::vector<TurnRecord> turns = all_turns("c_1");
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].text, "hi");
}

TEST_F(SqliteStoreTest, AllowsSameClientTurnIdInDifferentConversations) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(create("c_2").is_ok());
  ASSERT_TRUE(append(turn("c_1", "hi", "ct-1", "hash-1")).is_ok());

  Result<AppendTurnOutcome> other = append(turn("c_2", "hello", "ct-1", "hash-2"));

  ASSERT_TRUE(other.is_ok()) << other.status().to_string();
  EXPECT_EQ(other->kind, AppendKind::kCreated);
}

TEST_F(SqliteStoreTest, ResolvesDuplicateClientTurnIdsInsideOneBatch) {
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> original = append_async(turn("c_1", "hi", "ct-1", "hash-1"));
  Pending<AppendTurnOutcome> replay = append_async(turn("c_1", "hi", "ct-1", "hash-1"));
  Pending<AppendTurnOutcome> changed = append_async(turn("c_1", "bye", "ct-1", "hash-2"));
  Pending<AppendTurnOutcome> plain = append_async(turn("c_1", "more"));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  Result<AppendTurnOutcome> original_result = original.get();
  Result<AppendTurnOutcome> replay_result = replay.get();
  ASSERT_TRUE(original_result.is_ok());
  ASSERT_TRUE(replay_result.is_ok());
  EXPECT_EQ(original_result->kind, AppendKind::kCreated);
  EXPECT_EQ(original_result->turn.seq, 1);
  EXPECT_EQ(replay_result->kind, AppendKind::kReplayed);
  EXPECT_EQ(replay_result->turn.seq, 1);
  EXPECT_EQ(changed.get().status().code(), StatusCode::kConflict);
  Result<AppendTurnOutcome> plain_result = plain.get();
  ASSERT_TRUE(plain_result.is_ok());
  EXPECT_EQ(plain_result->turn.seq, 2);
  EXPECT_EQ(batches_.sizes().back(), 4u) << "all four were committed together";
  EXPECT_EQ(seqs_of(all_turns("c_1")), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SqliteStoreTest, AppendsToConversationsCreatedAndInterleavedInOneBatch) {
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<ConversationRecord> created;
  store_->create_conversation(conversation("c_2"), created.callback());
  std::vector<Pending<AppendTurnOutcome>> pending;
  for (int i = 0; i < 3; ++i) {
    pending.push_back(append_async(turn("c_1", "one")));
    pending.push_back(append_async(turn("c_2", "two")));
  }
  clock_.advance_ms(5);
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  ASSERT_TRUE(created.get().is_ok());
  for (Pending<AppendTurnOutcome>& one : pending) ASSERT_TRUE(one.get().is_ok());
  EXPECT_EQ(batches_.sizes().back(), 7u);
  for (const char* id : {"c_1", "c_2"}) {
    SCOPED_TRACE(id);
    Result<ConversationRecord> got = store_->get_conversation(id);
    ASSERT_TRUE(got.is_ok());
    EXPECT_EQ(got->last_seq, 3);
    EXPECT_EQ(got->updated_at_ms, clock_.now_ms());
    EXPECT_EQ(seqs_of(all_turns(id)), (std::vector<std::int64_t>{1, 2, 3}));
  }
}

TEST_F(SqliteStoreTest, AppendFailsWithNotFoundForUnknownConversation) {
  Result<AppendTurnOutcome> appended = append(turn("c_missing", "hi"));

  EXPECT_EQ(appended.status().code(), StatusCode::kNotFound);
}

TEST_F(SqliteStoreTest, FailedRequestsDoNotAbortTheRestOfTheirBatch) {
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> unknown = append_async(turn("c_missing", "hi"));
  Pending<ConversationRecord> duplicate;
  store_->create_conversation(conversation("c_1"), duplicate.callback());
  Pending<ConversationRecord> fresh;
  store_->create_conversation(conversation("c_2"), fresh.callback());
  Pending<AppendTurnOutcome> good = append_async(turn("c_1", "hi"));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_EQ(unknown.get().status().code(), StatusCode::kNotFound);
  EXPECT_EQ(duplicate.get().status().code(), StatusCode::kConflict);
  EXPECT_TRUE(fresh.get().is_ok());
  Result<AppendTurnOutcome> good_result = good.get();
  ASSERT_TRUE(good_result.is_ok()) << good_result.status().to_string();
  EXPECT_EQ(good_result->turn.seq, 1);
  EXPECT_EQ(batches_.sizes().back(), 4u);
  EXPECT_TRUE(store_->get_conversation("c_2").is_ok());
}

TEST_F(SqliteStoreTest, ListsTurnsAfterSeqUpToLimit) {
  ASSERT_TRUE(create("c_1").is_ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(turn("c_1", "t")).is_ok());
  struct Case {
    std::int64_t after_seq;
    std::size_t limit;
    std::vector<std::int64_t> expected;
  };
  const Case kCases[] = {
      {0, 3, {1, 2, 3}},
      {3, 4, {4, 5, 6, 7}},
      {8, 10, {9, 10}},
      {10, 5, {}},
      {2, 0, {}},
      {-5, 2, {1, 2}},
  };

  for (const Case& c : kCases) {
    SCOPED_TRACE("after " + std::to_string(c.after_seq) + " limit " + std::to_string(c.limit));
    Result<std::vector<TurnRecord>> turns = store_->list_turns("c_1", c.after_seq, c.limit);
    ASSERT_TRUE(turns.is_ok()) << turns.status().to_string();
    EXPECT_EQ(seqs_of(*turns), c.expected);
  }
}

TEST_F(SqliteStoreTest, ListTurnsFailsWithNotFoundForUnknownConversation) {
  ASSERT_TRUE(create("c_1").is_ok());

  Result<std::vector<TurnRecord>> unknown = store_->list_turns("c_missing", 0, 10);
  Result<std::vector<TurnRecord>> empty = store_->list_turns("c_1", 0, 10);

  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(SqliteStoreTest, KeepsDataAcrossCloseAndReopen) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn("c_1", "one", "ct-1", "hash-1")).is_ok());
  ASSERT_TRUE(append(turn("c_1", "two")).is_ok());

  reopen_store();

  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->last_seq, 2);
  std::vector<TurnRecord> turns = all_turns("c_1");
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].text, "one");
  EXPECT_EQ(turns[0].client_turn_id, "ct-1");
  EXPECT_EQ(turns[1].client_turn_id, "");
  Result<AppendTurnOutcome> replay = append(turn("c_1", "one", "ct-1", "hash-1"));
  ASSERT_TRUE(replay.is_ok());
  EXPECT_EQ(replay->kind, AppendKind::kReplayed);
  Result<AppendTurnOutcome> next = append(turn("c_1", "three"));
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(next->turn.seq, 3);
}

TEST_F(SqliteStoreTest, CloseCommitsEverythingQueued) {
  ASSERT_TRUE(create("c_1").is_ok());
  std::vector<Pending<AppendTurnOutcome>> pending;
  for (int i = 0; i < 50; ++i) pending.push_back(append_async(turn("c_1", "t")));

  store_->close();

  for (Pending<AppendTurnOutcome>& one : pending) {
    ASSERT_TRUE(one.ready()) << "close() returns after every callback ran";
    EXPECT_TRUE(one.get().is_ok());
  }
  reopen_store();
  EXPECT_EQ(store_->get_conversation("c_1")->last_seq, 50);
}

TEST_F(SqliteStoreTest, CheckpointsWalOnClose) {
  ASSERT_TRUE(create("c_1").is_ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(append(turn("c_1", std::string(500, 'x'))).is_ok());
  std::string wal = options_.path + "-wal";
  ASSERT_GT(std::filesystem::file_size(wal), 0u);

  store_->close();

  EXPECT_TRUE(!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0);
  EXPECT_EQ(store_->get_conversation("c_1")->last_seq, 20) << "reads still work after close";
}

// Commits never checkpoint themselves; the checkpoint thread copies the WAL into the database
// file once it passes its threshold, while the store stays open.
TEST_F(SqliteStoreTest, CheckpointsWalInTheBackgroundWhileOpen) {
  store_.reset();
  options_.wal_checkpoint_frames = 1000;
  open_store();
  ASSERT_TRUE(create("c_1").is_ok());
  const auto initial_size = std::filesystem::file_size(options_.path);
  std::vector<Pending<AppendTurnOutcome>> pending;

  // About one page per turn: well past the checkpoint threshold in a few commits.
  for (int i = 0; i < 2 * options_.wal_checkpoint_frames; ++i) {
    pending.push_back(append_async(turn("c_1", std::string(3000, 'x'))));
  }
  for (Pending<AppendTurnOutcome>& one : pending) ASSERT_TRUE(one.get().is_ok());

  // The checkpoint grows the file page by page as it copies: wait for most of it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::filesystem::file_size(options_.path) <= initial_size + 1'000'000 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(std::filesystem::file_size(options_.path), initial_size + 1'000'000)
      << "the turns reached the database file before close";
}

TEST_F(SqliteStoreTest, RefusesWritesAfterClose) {
  ASSERT_TRUE(create("c_1").is_ok());
  store_->close();
  store_->close();  // idempotent

  Pending<AppendTurnOutcome> appended = append_async(turn("c_1", "late"));
  Pending<ConversationRecord> created;
  store_->create_conversation(conversation("c_2"), created.callback());
  Pending<bool> probe;
  store_->probe_writable(probe.callback());

  ASSERT_TRUE(appended.ready()) << "refused at once, on the calling thread";
  EXPECT_EQ(appended.get().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(created.get().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(probe.get().status().code(), StatusCode::kUnavailable);
}

TEST_F(SqliteStoreTest, StoresSchemaVersionOnce) {
  reopen_store();
  store_->close();

  RawDb raw(options_.path);
  EXPECT_EQ(raw.query("SELECT max(version) FROM schema_migrations"),
            std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("SELECT count(*) FROM schema_migrations"), std::to_string(kSchemaVersion));
  EXPECT_EQ(raw.query("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, RefusesDatabaseWithNewerSchema) {
  store_.reset();
  {
    RawDb raw(options_.path);
    raw.exec("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (" +
             std::to_string(kSchemaVersion + 1) + ", 'from the future', 0)");
  }

  Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(options_, clock_);

  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal);
  EXPECT_NE(opened.status().message().find(std::to_string(kSchemaVersion + 1)), std::string::npos)
      << opened.status().to_string();
}

TEST_F(SqliteStoreTest, GroupCommitsWritesQueuedWhileWriterIsBusy) {
  ASSERT_TRUE(create("c_1").is_ok());
  StoreStats before = store_->stats();
  Pending<bool> held = hold_writer();

  std::vector<Pending<AppendTurnOutcome>> pending;
  for (int i = 0; i < 20; ++i) pending.push_back(append_async(turn("c_1", "t")));
  EXPECT_EQ(store_->stats().queue_depth, 20u);
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  for (Pending<AppendTurnOutcome>& one : pending) ASSERT_TRUE(one.get().is_ok());
  std::vector<std::size_t> sizes = batches_.sizes();
  EXPECT_EQ(sizes.back(), 20u);
  StoreStats after = store_->stats();
  // The held probe was alone in its transaction, which is rolled back, not committed.
  EXPECT_EQ(after.commits - before.commits, 1u);
  EXPECT_EQ(after.committed_requests - before.committed_requests, 20u);
  EXPECT_EQ(after.last_batch_size, 20u);
  EXPECT_EQ(after.queue_depth, 0u);
}

TEST_F(SqliteStoreTest, SplitsQueuedWritesIntoBatchesOfMaxBatch) {
  options_.max_batch = 3;
  reopen_store();
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  std::vector<Pending<AppendTurnOutcome>> pending;
  for (int i = 0; i < 7; ++i) pending.push_back(append_async(turn("c_1", "t")));
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  for (Pending<AppendTurnOutcome>& one : pending) ASSERT_TRUE(one.get().is_ok());
  // The create, then the held probe (not a commit), then the appends.
  EXPECT_EQ(batches_.sizes(), (std::vector<std::size_t>{1, 3, 3, 1}));
  EXPECT_EQ(seqs_of(all_turns("c_1")), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(SqliteStoreTest, RefusesWritesWhenQueueIsFull) {
  options_.max_queue = 2;
  reopen_store();
  ASSERT_TRUE(create("c_1").is_ok());
  Pending<bool> held = hold_writer();

  Pending<AppendTurnOutcome> first = append_async(turn("c_1", "a"));
  Pending<AppendTurnOutcome> second = append_async(turn("c_1", "b"));
  Pending<AppendTurnOutcome> third = append_async(turn("c_1", "c"));

  ASSERT_TRUE(third.ready()) << "refused at once, on the calling thread";
  EXPECT_EQ(third.get().status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(first.ready());
  gate_.release();
  ASSERT_TRUE(held.get().is_ok());
  EXPECT_TRUE(first.get().is_ok());
  EXPECT_TRUE(second.get().is_ok());
}

TEST_F(SqliteStoreTest, ReadsWhileWriteTransactionIsOpen) {
  ASSERT_TRUE(create("c_1").is_ok());
  ASSERT_TRUE(append(turn("c_1", "committed")).is_ok());
  store_->set_before_commit_for_test(gate_.hook());
  Pending<AppendTurnOutcome> in_flight = append_async(turn("c_1", "uncommitted"));
  gate_.wait_until_held();

  Result<ConversationRecord> during = store_->get_conversation("c_1");
  std::vector<TurnRecord> turns_during = all_turns("c_1");

  ASSERT_TRUE(during.is_ok()) << during.status().to_string();
  EXPECT_EQ(during->last_seq, 1);
  EXPECT_EQ(seqs_of(turns_during), (std::vector<std::int64_t>{1}));
  gate_.release();
  ASSERT_TRUE(in_flight.get().is_ok());
  EXPECT_EQ(seqs_of(all_turns("c_1")), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SqliteStoreTest, ReadsWhileAnotherConnectionHoldsTheWriteLock) {
  ASSERT_TRUE(create("c_1").is_ok());
  RawDb other(options_.path);
  other.exec("BEGIN IMMEDIATE");
  other.exec("UPDATE conversations SET last_seq = 99");

  Result<ConversationRecord> got = store_->get_conversation("c_1");

  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got->last_seq, 0);
  other.exec("ROLLBACK");
}

TEST_F(SqliteStoreTest, RollsBackWholeBatchWhenCommitFails) {
  ASSERT_TRUE(create("c_1").is_ok());
  int calls = 0;
  store_->set_before_commit_for_test([this, &calls](std::size_t) {
    if (calls++ == 0) return gate_.hold();
    return Status::internal("injected commit failure");
  });
  Pending<bool> held;
  store_->probe_writable(held.callback());
  gate_.wait_until_held();

  Pending<AppendTurnOutcome> appended = append_async(turn("c_1", "lost"));
  Pending<ConversationRecord> created;
  store_->create_conversation(conversation("c_2"), created.callback());
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_EQ(appended.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(created.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->stats().failed_commits, 1u);
  EXPECT_EQ(store_->get_conversation("c_2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_conversation("c_1")->last_seq, 0);
  store_->set_before_commit_for_test(nullptr);
  Result<AppendTurnOutcome> next = append(turn("c_1", "kept"));
  ASSERT_TRUE(next.is_ok());
  EXPECT_EQ(next->turn.seq, 1) << "the rolled-back turn left no gap";
}

// A full or failing disk may recover (space is freed, a volume grows): the client is told to
// retry, as for a busy database. Anything else unexpected is Internal.
TEST(SqliteError, AFullOrFailingDiskIsUnavailable) {
  struct Case {
    const char* name;
    int rc;
    StatusCode code;
  };
  const Case cases[] = {
      {"busy", SQLITE_BUSY, StatusCode::kUnavailable},
      {"full", SQLITE_FULL, StatusCode::kUnavailable},
      {"io error", SQLITE_IOERR, StatusCode::kUnavailable},
      {"io error on write", SQLITE_IOERR_WRITE, StatusCode::kUnavailable},
      {"io error on fsync", SQLITE_IOERR_FSYNC, StatusCode::kUnavailable},
      {"primary key", SQLITE_CONSTRAINT_PRIMARYKEY, StatusCode::kInternal},
      {"corrupt", SQLITE_CORRUPT, StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(sqlite_error(nullptr, c.rc, "COMMIT").code(), c.code);
  }
}

// Captures the default logger's records for the test's lifetime.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  std::size_t errors() const {
    const auto records = sink_->last_raw();
    return static_cast<std::size_t>(std::count_if(records.begin(), records.end(), [](auto& r) {
      return r.level == spdlog::level::err;
    }));
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Thousands of writes may fail a second on a full disk: the log says so once a second,
// not once per write and not never.
TEST_F(SqliteStoreTest, LogsFailedCommitsAtMostOncePerSecond) {
  ASSERT_TRUE(create("c_1").is_ok());
  store_->set_before_commit_for_test(
      [](std::size_t) { return Status::unavailable("injected: database or disk is full"); });
  LogCapture log;

  Result<AppendTurnOutcome> first = append(turn("c_1", "lost"));
  Result<AppendTurnOutcome> second = append(turn("c_1", "lost again"));
  store_->set_before_commit_for_test(nullptr);

  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->stats().failed_commits, 2u);
  EXPECT_EQ(log.errors(), 1u);
}

TEST_F(SqliteStoreTest, RollsBackWholeBatchWhenAStatementFailsHalfway) {
  ASSERT_TRUE(create("c_1").is_ok());
  RawDb other(options_.path);
  other.exec(
      "CREATE TRIGGER refuse_event BEFORE INSERT ON events "
      "BEGIN SELECT RAISE(ABORT, 'injected insert failure'); END");
  Pending<bool> held = hold_writer();

  Pending<ConversationRecord> created;
  store_->create_conversation(conversation("c_2"), created.callback());
  // The turn's row goes in first; the event that comes with it is refused.
  AppendTurnRequest request{turn("c_1", "half")};
  EventRecord noted;
  noted.type = "test.noted";
  request.events.push_back(noted);
  Pending<AppendTurnOutcome> appended;
  store_->append_turn(std::move(request), appended.callback());
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  EXPECT_EQ(created.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(appended.get().status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->get_conversation("c_2").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(all_turns("c_1").empty());
  other.exec("DROP TRIGGER refuse_event");
  Result<AppendTurnOutcome> next = append(turn("c_1", "whole"));
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_EQ(next->turn.seq, 1);
}

// What a write's follow-up and callback log on the writer thread must name the request that
// submitted the write.
TEST_F(SqliteStoreTest, FollowUpAndCallbackRunWithTheSubmittersRequestId) {
  ASSERT_TRUE(create("c_1").is_ok());
  std::string follow_up_id;  // written on the writer thread before the callback runs
  std::promise<std::string> callback_id;
  AppendTurnRequest request{turn("c_1", "hello")};
  request.follow_up = [&](const TurnRecord&, const std::string&, AppendFollowUp&) {
    follow_up_id = logging::current_request_id();
  };

  {
    logging::RequestScope scope("req-7");
    store_->append_turn(std::move(request), [&](Result<AppendTurnOutcome>) {
      callback_id.set_value(std::string(logging::current_request_id()));
    });
  }
  Pending<bool> unscoped;
  std::string unscoped_id = "unset";
  store_->probe_writable([&, done = unscoped.callback()](Result<bool> result) {
    unscoped_id = logging::current_request_id();
    done(std::move(result));
  });

  EXPECT_EQ(callback_id.get_future().get(), "req-7");
  EXPECT_EQ(follow_up_id, "req-7");
  ASSERT_TRUE(unscoped.get().is_ok());
  EXPECT_EQ(unscoped_id, "");
}

TEST_F(SqliteStoreTest, ProbeReportsWritableWithoutCountingACommit) {
  StoreStats before = store_->stats();
  Pending<bool> probe;

  store_->probe_writable(probe.callback());

  Result<bool> writable = probe.get();
  ASSERT_TRUE(writable.is_ok()) << writable.status().to_string();
  EXPECT_TRUE(*writable);
  EXPECT_EQ(store_->stats().commits, before.commits);
}

// A read-only file or a full disk lets the probe take the lock but not write: the probe
// writes a row and commits it, so it fails as writes do (a trigger stands in for the disk).
TEST_F(SqliteStoreTest, ProbeFailsWhenWritesFailAndCommitsItsRowOtherwise) {
  RawDb other(options_.path);
  other.exec(
      "CREATE TRIGGER refuse_probe BEFORE INSERT ON delivery_cursors "
      "BEGIN SELECT RAISE(ABORT, 'refused'); END");
  Pending<bool> refused;
  store_->probe_writable(refused.callback());
  Result<bool> refused_result = refused.get();
  other.exec("DROP TRIGGER refuse_probe");
  clock_.advance_ms(5);
  Pending<bool> accepted;
  store_->probe_writable(accepted.callback());
  Result<bool> accepted_result = accepted.get();

  EXPECT_FALSE(refused_result.is_ok());
  ASSERT_TRUE(accepted_result.is_ok()) << accepted_result.status().to_string();
  auto written = store_->get_cursor(std::string(kReadinessProbeCursor));
  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_EQ(*written, clock_.now_ms());
}

TEST_F(SqliteStoreTest, ProbeFailsWithUnavailableWhileAnotherWriterHoldsTheLock) {
  options_.busy_timeout_ms = 0;
  reopen_store();
  RawDb other(options_.path);
  other.exec("BEGIN IMMEDIATE");

  Pending<bool> blocked;
  store_->probe_writable(blocked.callback());
  Result<bool> blocked_result = blocked.get();
  other.exec("ROLLBACK");
  Pending<bool> free;
  store_->probe_writable(free.callback());

  EXPECT_EQ(blocked_result.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(free.get().is_ok());
}

TEST_F(SqliteStoreTest, CreatesMissingParentDirectories) {
  options_.path = dir_.file("data/nested/handover.db");

  Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(options_, clock_);

  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_TRUE(std::filesystem::exists(options_.path));
}

TEST_F(SqliteStoreTest, OpenFailsClearlyForUnusablePaths) {
  std::ofstream(dir_.file("plain-file")) << "not a directory";
  std::ofstream(dir_.file("garbage.db")) << std::string(8192, 'g');
  const std::string kPaths[] = {
      dir_.file("plain-file/handover.db"),  // parent is a file
      dir_.file("garbage.db"),              // not a SQLite database
      dir_.file(""),                        // a directory
  };

  for (const std::string& path : kPaths) {
    SCOPED_TRACE(path);
    options_.path = path;
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(options_, clock_);
    ASSERT_FALSE(opened.is_ok());
    EXPECT_EQ(opened.status().code(), StatusCode::kInternal);
    EXPECT_NE(opened.status().message().find(path), std::string::npos)
        << opened.status().to_string();
  }
}

TEST_F(SqliteStoreTest, OpenRejectsBadOptions) {
  struct Case {
    const char* name;
    void (*change)(StoreOptions&);
  };
  const Case kCases[] = {
      {"empty path", [](StoreOptions& o) { o.path.clear(); }},
      {"memory", [](StoreOptions& o) { o.path = ":memory:"; }},
      {"uri", [](StoreOptions& o) { o.path = "file:x.db?mode=memory"; }},
      {"synchronous", [](StoreOptions& o) { o.synchronous = "off"; }},
      {"busy timeout", [](StoreOptions& o) { o.busy_timeout_ms = -1; }},
      {"no readers", [](StoreOptions& o) { o.read_connections = 0; }},
      {"no batch", [](StoreOptions& o) { o.max_batch = 0; }},
      {"no queue", [](StoreOptions& o) { o.max_queue = 0; }},
      {"tiny writer cache", [](StoreOptions& o) { o.writer_cache_kib = 63; }},
  };

  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    StoreOptions options = options_;
    c.change(options);
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::open(options, clock_);
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  }
}

// Turns spread over many conversations each rewrite their conversation's newest pages. The
// writer's cache holds them all by default, so a second round of turns reads (almost) nothing
// back; a cache of 64 KiB has to read most of them again.
TEST_F(SqliteStoreTest, WriterCacheKeepsTheActiveConversationsPages) {
  constexpr int kConversations = 300;
  const auto misses_of_second_round = [this] {
    for (int c = 0; c < kConversations; ++c) {
      EXPECT_TRUE(create("c_" + std::to_string(c)).is_ok());
    }
    const std::string text(1500, 't');
    std::uint64_t before = 0;
    for (int round = 0; round < 2; ++round) {
      before = store_->stats().writer_cache_misses;
      std::vector<Pending<AppendTurnOutcome>> pending;
      for (int c = 0; c < kConversations; ++c) {
        pending.push_back(append_async(turn("c_" + std::to_string(c), text)));
      }
      for (Pending<AppendTurnOutcome>& one : pending) EXPECT_TRUE(one.get().is_ok());
    }
    return store_->stats().writer_cache_misses - before;
  };

  const std::uint64_t with_default = misses_of_second_round();
  TempDir other;
  options_.path = other.file("small-cache.db");
  options_.writer_cache_kib = 64;
  reopen_store();
  const std::uint64_t with_small = misses_of_second_round();

  EXPECT_GT(with_small, static_cast<std::uint64_t>(kConversations) / 2);
  EXPECT_LT(with_default * 10, with_small) << "default " << with_default << " small " << with_small;
}

TEST_F(SqliteStoreTest, AcceptsNormalSynchronous) {
  options_.synchronous = "normal";
  reopen_store();

  EXPECT_TRUE(create("c_1").is_ok());
}

// Under synchronous=normal a commit is visible before anything syncs the WAL, so the writer
// must hand every frame to the file at once (wal_append_vfs.hpp): readers see each turn whole.
TEST_F(SqliteStoreTest, UnderNormalSynchronousReadersSeeEveryCommitWhole) {
  options_.synchronous = "normal";
  reopen_store();
  ASSERT_TRUE(create("c_1").is_ok());

  for (int round = 0; round < 5; ++round) {
    const std::string text(3000, static_cast<char>('a' + round));
    std::vector<Pending<AppendTurnOutcome>> pending;
    for (int i = 0; i < 8; ++i) pending.push_back(append_async(turn("c_1", text)));
    for (Pending<AppendTurnOutcome>& one : pending) ASSERT_TRUE(one.get().is_ok());

    const std::vector<TurnRecord> turns = all_turns("c_1");
    ASSERT_EQ(turns.size(), static_cast<std::size_t>(8 * (round + 1)));
    EXPECT_EQ(turns.back().text, text);
  }
}

TEST(Store, OpensThroughTheStoreInterface) {
  TempDir dir;
  FakeClock clock;
  StoreOptions options;
  options.path = dir.file("handover.db");

  Result<std::unique_ptr<Store>> opened = Store::open(options, clock);

  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  Pending<bool> probe;
  (*opened)->probe_writable(probe.callback());
  EXPECT_TRUE(probe.get().is_ok());
}

}  // namespace
}  // namespace handover::store
