// Tests of conversation rows written behind their turns: the activity table on its own, and
// the store keeping last_seq and updated_at_ms right for readers, the writer, retention and a
// start after a crash while the rows lag behind.
#include "conversation_activity.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "handover/store/store.hpp"
#include "sqlite_store.hpp"
#include "store_test_support.hpp"

namespace handover::store {
namespace {

// A row of conversation `id` as a reader found it, with the activity laid over it.
ConversationRecord overlaid(const ConversationActivity& activity, const std::string& id,
                            std::int64_t last_seq, std::int64_t updated_at_ms) {
  ConversationRecord record;
  record.id = id;
  record.last_seq = last_seq;
  record.updated_at_ms = updated_at_ms;
  activity.overlay(record);
  return record;
}

TEST(ConversationActivityTest, KeepsTheNewestValuesAndLaysThemOverOlderRows) {
  ConversationActivity activity;
  activity.record("c_1", {7, 3, 1000});
  activity.record("c_1", {7, 2, 900});  // an older value never wins

  EXPECT_EQ(activity.last_seq("c_1"), 3);
  EXPECT_EQ(activity.last_seq("c_2"), 0);
  ConversationRecord stale = overlaid(activity, "c_1", 1, 500);
  EXPECT_EQ(stale.last_seq, 3);
  EXPECT_EQ(stale.updated_at_ms, 1000);
  ConversationRecord newer = overlaid(activity, "c_1", 5, 2000);
  EXPECT_EQ(newer.last_seq, 5);
  EXPECT_EQ(newer.updated_at_ms, 2000);
}

TEST(ConversationActivityTest, KeepsAFlushedEntryUntilTheFlushAfterIt) {
  ConversationActivity activity;
  activity.record("c_1", {1, 4, 100});
  activity.record("c_2", {2, 1, 100});
  ASSERT_EQ(activity.unflushed_count(), 2u);
  ASSERT_EQ(activity.unflushed().size(), 2u);

  activity.mark_flushed();
  EXPECT_EQ(activity.unflushed_count(), 0u);
  EXPECT_TRUE(activity.unflushed().empty());
  EXPECT_EQ(activity.last_seq("c_1"), 4);  // a reader's row may predate that flush

  activity.record("c_2", {2, 2, 200});  // unflushed again
  EXPECT_EQ(activity.unflushed_count(), 1u);
  activity.mark_flushed();
  EXPECT_EQ(activity.last_seq("c_1"), 0);  // written one flush ago and untouched since
  EXPECT_EQ(activity.last_seq("c_2"), 2);
  EXPECT_EQ(activity.size(), 1u);
}

class ConversationRowsTest : public StoreTestBase {
 protected:
  void SetUp() override {
    options_.path = dir_.file("handover.db");
    options_.cached_conversations = 0;  // every read goes to the database
    options_.conversation_rows_every_ms = 3'600'000;
    open_store();
  }

  void create(const std::string& id) {
    ConversationRecord record;
    record.id = id;
    record.customer_id = "cust-1";  // for the customer's export
    create_stored(std::move(record));
  }
  Pending<AppendTurnOutcome> append_async(const std::string& id, const std::string& text) {
    TurnRecord turn;
    turn.conversation_id = id;
    turn.role = "user";
    turn.text = text;
    turn.content_hash = "h";
    Pending<AppendTurnOutcome> appended;
    store_->append_turn(AppendTurnRequest{std::move(turn)}, appended.callback());
    return appended;
  }
  std::int64_t append(const std::string& id, const std::string& text) {
    Result<AppendTurnOutcome> outcome = append_async(id, text).get();
    EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    return outcome.is_ok() ? outcome->turn.seq : -1;
  }
  std::string row_column(const std::string& path, const std::string& id,
                         const std::string& column) {
    RawDb raw(path);
    return raw.query("SELECT " + column + " FROM conversations WHERE public_id = '" + id + "'");
  }
};

TEST_F(ConversationRowsTest, ReadsAndNumbersTurnsFromTheActivityWhileTheRowLags) {
  create("c_1");
  clock_.advance_ms(5000);
  ASSERT_EQ(append("c_1", "one"), 1);
  ASSERT_EQ(append("c_1", "two"), 2);
  // The row still says what the create wrote; the next turn is numbered from the activity.
  EXPECT_EQ(row_column(options_.path, "c_1", "last_seq"), "0");
  EXPECT_EQ(store_->stats().conversation_rows_behind, 1u);
  EXPECT_EQ(append("c_1", "three"), 3);

  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->last_seq, 3);
  EXPECT_EQ(got->updated_at_ms, clock_.now_ms());

  Result<std::vector<ConversationRecord>> listed =
      store_->list_conversations_in_states({"bot"}, 10);
  ASSERT_TRUE(listed.is_ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().last_seq, 3);

  Result<CustomerExport> exported = store_->export_customer("cust-1");
  ASSERT_TRUE(exported.is_ok());
  ASSERT_EQ(exported->conversations.size(), 1u);
  EXPECT_EQ(exported->conversations.front().record.last_seq, 3);
}

TEST_F(ConversationRowsTest, CloseWritesTheRowsBehind) {
  create("c_1");
  ASSERT_EQ(append("c_1", "one"), 1);
  ASSERT_EQ(append("c_1", "two"), 2);
  store_.reset();
  EXPECT_EQ(row_column(options_.path, "c_1", "last_seq"), "2");
  EXPECT_EQ(row_column(options_.path, "c_1", "updated_at_ms"), std::to_string(clock_.now_ms()));
}

TEST_F(ConversationRowsTest, AStartAfterACrashBringsTheRowsUpToTheirTurns) {
  create("c_1");
  create("c_2");
  clock_.advance_ms(60'000);
  ASSERT_EQ(append("c_1", "one"), 1);
  ASSERT_EQ(append("c_1", "two"), 2);
  ASSERT_EQ(append("c_2", "one"), 1);
  ASSERT_EQ(row_column(options_.path, "c_1", "last_seq"), "0");

  // The files as a crash would leave them: the turns committed, the rows behind.
  const std::string crashed = dir_.file("crashed.db");
  std::filesystem::copy_file(options_.path, crashed);
  std::filesystem::copy_file(options_.path + "-wal", crashed + "-wal");
  store_.reset();

  options_.path = crashed;
  open_store();
  EXPECT_EQ(row_column(crashed, "c_1", "last_seq"), "2");
  EXPECT_EQ(row_column(crashed, "c_2", "last_seq"), "1");
  EXPECT_EQ(row_column(crashed, "c_1", "updated_at_ms"), std::to_string(clock_.now_ms()));
  EXPECT_EQ(append("c_1", "three"), 3);
}

TEST_F(ConversationRowsTest, RetentionKeepsAConversationWhoseNewestTurnTheRowLacks) {
  constexpr std::int64_t kDay = 86'400'000;
  create("c_old");
  create("c_back");
  clock_.advance_ms(40 * kDay);
  ASSERT_EQ(append("c_back", "I am back"), 1);  // only the activity knows of this yet

  Pending<RetentionOutcome> retired;
  store_->run_retention({RetentionClass::kConversations, clock_.now_ms() - 30 * kDay, 10},
                        retired.callback());
  Result<RetentionOutcome> outcome = retired.get();
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->conversation_ids, std::vector<std::string>{"c_old"});
  EXPECT_TRUE(store_->get_conversation("c_back").is_ok());
  // A batch that deletes writes every row behind.
  EXPECT_EQ(row_column(options_.path, "c_back", "last_seq"), "1");
}

TEST_F(ConversationRowsTest, AConversationCreatedAgainUnderAnErasedIdStartsAtTurnOne) {
  create("c_1");
  ASSERT_EQ(append("c_1", "one"), 1);
  ASSERT_EQ(append("c_1", "two"), 2);
  Result<ErasureOutcome> outcome = erase_async("cust-1").get();
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  ASSERT_EQ(outcome->conversation_ids, std::vector<std::string>{"c_1"});

  // Neither the writer's heads nor the activity may carry the erased conversation's count.
  create("c_1");
  EXPECT_EQ(append("c_1", "first again"), 1);
  Result<ConversationRecord> got = store_->get_conversation("c_1");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->last_seq, 1);
}

TEST_F(ConversationRowsTest, RoundsWriteTheRowsBehindAFewATransactionAndMoveTheMark) {
  store_.reset();
  options_.conversation_rows_every_ms = 1;
  open_store();
  constexpr int kConversations = 40;  // more than one transaction's share of a round
  for (int i = 0; i < kConversations; ++i) create("c_" + std::to_string(i));
  for (int i = 0; i < kConversations; ++i) ASSERT_EQ(append("c_" + std::to_string(i), "hi"), 1);

  // Later commits carry the round on; a new round begins at most once a millisecond.
  RawDb raw(options_.path);
  const std::string written =
      "SELECT count(*) FROM conversations WHERE last_seq = 1 AND public_id <> 'c_0'";
  std::int64_t seq = 1;
  for (int i = 0; i < 500 && raw.query(written) != std::to_string(kConversations - 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(append("c_0", "more"), ++seq);
  }
  EXPECT_EQ(raw.query(written), std::to_string(kConversations - 1));
  // The mark counts at least the first turns of them all.
  const std::int64_t mark = std::stoll(
      raw.query("SELECT value FROM store_marks WHERE name = 'rows_count_turns_through'"));
  EXPECT_GE(mark, std::stoll(raw.query("SELECT max(id) FROM turns WHERE seq = 1")));
}

TEST_F(ConversationRowsTest, TurnsQueuedBehindAnErasureInOneBatchSeeItsDeletions) {
  create("c_1");
  ASSERT_EQ(append("c_1", "one"), 1);
  ASSERT_EQ(append("c_1", "two"), 2);
  Pending<bool> held = hold_writer();

  // One batch: the erasure, a turn for the erased conversation, the same id created again
  // and a turn for it.
  Pending<ErasureOutcome> erased = erase_async("cust-1");
  Pending<AppendTurnOutcome> to_erased = append_async("c_1", "too late");
  ConversationRecord again;
  again.id = "c_1";
  Pending<ConversationRecord> created;
  store_->create_conversation(std::move(again), created.callback());
  Pending<AppendTurnOutcome> to_new = append_async("c_1", "first again");
  store_->set_before_commit_for_test({});
  gate_.release();

  ASSERT_TRUE(held.get().is_ok());
  ASSERT_TRUE(erased.get().is_ok());
  EXPECT_EQ(to_erased.get().status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(created.get().is_ok());
  Result<AppendTurnOutcome> first = to_new.get();
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->turn.seq, 1);
}

TEST_F(ConversationRowsTest, ManyRowsBehindStartARoundBeforeTheInterval) {
  constexpr std::size_t kMany = 50000;
  std::vector<Pending<ConversationRecord>> created(kMany);
  for (std::size_t i = 0; i < kMany; ++i) {
    ConversationRecord record;
    record.id = "c_" + std::to_string(i);
    store_->create_conversation(std::move(record), created[i].callback());
  }
  for (auto& pending : created) ASSERT_TRUE(pending.get().is_ok());
  std::vector<Pending<AppendTurnOutcome>> appended;
  appended.reserve(kMany);
  for (std::size_t i = 0; i < kMany; ++i) {
    appended.push_back(append_async("c_" + std::to_string(i), "hi"));
  }
  for (auto& pending : appended) ASSERT_TRUE(pending.get().is_ok());
  ASSERT_EQ(store_->stats().conversation_rows_behind, kMany);

  // The interval is an hour, yet the next transactions begin a round and write a hundredth
  // of the rows each.
  for (int i = 0; i < 4; ++i) ASSERT_GT(append("c_0", "more"), 1);
  const std::uint64_t behind = store_->stats().conversation_rows_behind;
  EXPECT_LE(behind, kMany - 3 * kMany / 100);
  RawDb raw(options_.path);
  EXPECT_GE(std::stoll(raw.query("SELECT count(*) FROM conversations WHERE last_seq = 1")),
            static_cast<long long>(3 * kMany / 100));
}

TEST_F(ConversationRowsTest, AZeroIntervalWritesTheRowWithEveryCommit) {
  store_.reset();
  options_.conversation_rows_every_ms = 0;
  open_store();
  create("c_1");
  ASSERT_EQ(append("c_1", "one"), 1);
  EXPECT_EQ(row_column(options_.path, "c_1", "last_seq"), "1");
}

TEST_F(ConversationRowsTest, ANegativeIntervalIsRefused) {
  StoreOptions options = options_;
  options.path = dir_.file("other.db");
  options.conversation_rows_every_ms = -1;
  EXPECT_EQ(SqliteStore::open(options, clock_).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace handover::store
