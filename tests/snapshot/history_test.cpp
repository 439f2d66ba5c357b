// History trimming: whole turns within the byte budget, the first user turn kept, one
// overlong turn cut at a code point boundary; and reading the turns of a 1,000-turn
// conversation from a real store in pages.
#include "history.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "handover/snapshot/snapshot.hpp"
#include "handover/util/clock.hpp"
#include "handover/util/utf8.hpp"
#include "snapshot/snapshot_test_support.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;
using testing::schema_errors;

// Multi-byte text: 2-byte (ä, é), 3-byte (€, 日本), 4-byte (📦, 😡) code points.
const std::string kMixed = "Grüße, café € 日本 📦😡 ";

std::string dumped(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::strict);
}

store::TurnRecord make_turn(std::int64_t seq, const std::string& role, std::string text) {
  store::TurnRecord t;
  t.conversation_id = "c_long";
  t.seq = seq;
  t.role = role;
  t.text = std::move(text);
  t.created_at_ms = testing::kStartMs + seq;
  return t;
}

// Turn 1 is the bot's greeting, turn 2 the first user turn; then users and bots alternate,
// each text a few repetitions of kMixed.
std::vector<store::TurnRecord> long_conversation(std::int64_t count) {
  std::vector<store::TurnRecord> turns;
  turns.push_back(make_turn(1, "bot", "Willkommen! Wie kann ich helfen?"));
  for (std::int64_t seq = 2; seq <= count; ++seq) {
    std::string text = "#" + std::to_string(seq) + " ";
    for (std::int64_t i = 0; i < 1 + seq % 4; ++i) text += kMixed;
    turns.push_back(make_turn(seq, seq % 2 == 0 ? "user" : "bot", std::move(text)));
  }
  return turns;
}

std::vector<const store::TurnRecord*> pointers(const std::vector<store::TurnRecord>& turns) {
  std::vector<const store::TurnRecord*> out;
  for (const auto& t : turns) out.push_back(&t);
  return out;
}

// Checks that every entry is a stored turn, whole (unless marked), and returns the seqs.
std::vector<std::int64_t> check_entries(const json& history,
                                        const std::vector<store::TurnRecord>& turns) {
  std::vector<std::int64_t> seqs;
  for (const auto& entry : history) {
    const std::int64_t seq = entry["seq"];
    seqs.push_back(seq);
    const std::string& original = turns.at(static_cast<std::size_t>(seq - 1)).text;
    const std::string text = entry["text"];
    EXPECT_TRUE(utf8::is_valid(text)) << "seq " << seq;
    if (entry.contains("text_truncated")) {
      EXPECT_TRUE(original.starts_with(text)) << "seq " << seq;
      EXPECT_EQ(entry["text_bytes"], original.size());
    } else {
      EXPECT_EQ(text, original) << "seq " << seq;
    }
  }
  return seqs;
}

TEST(History, AThousandMultiByteTurnsAreTrimmedAtWholeTurnsKeepingTheFirstUserTurn) {
  const auto turns = long_conversation(1000);
  store::ConversationRecord conversation;
  conversation.id = "c_long";
  conversation.language = "de";
  conversation.last_seq = 1000;
  SnapshotInput in;
  in.conversation = conversation;
  in.window.turns = turns;
  SnapshotOptions options;
  options.max_turns = 1000;
  options.max_bytes = 32 * 1024;

  const json s = build_snapshot(in, options);

  EXPECT_EQ(schema_errors(s), "");
  const json& history = s["history"];
  EXPECT_LE(dumped(history).size(), options.max_bytes);
  const auto seqs = check_entries(history, turns);
  ASSERT_GE(seqs.size(), 3u);
  EXPECT_EQ(seqs.front(), 2);  // the first user turn
  EXPECT_EQ(seqs.back(), 1000);
  for (std::size_t i = 2; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
  const json& trimmed = s["history_trimmed"];
  EXPECT_EQ(trimmed["omitted_turns"], 1000 - seqs.size());
  EXPECT_EQ(trimmed["by_turn_limit"], 0);
  EXPECT_EQ(trimmed["by_byte_limit"], 1000 - seqs.size());
  EXPECT_EQ(trimmed["truncated_turns"], 0);
  EXPECT_EQ(trimmed["first_user_turn_kept"], true);
  // Whole turns: one more of the oldest kept ones would not have fitted.
  const json next = history_entry(turns.at(static_cast<std::size_t>(seqs[1] - 2)));
  EXPECT_GT(dumped(history).size() + dumped(next).size() + 1, options.max_bytes);
}

TEST(History, TheTurnLimitCountsApartFromTheByteLimit) {
  const auto turns = long_conversation(1000);
  store::ConversationRecord conversation;
  conversation.id = "c_long";
  conversation.last_seq = 1000;
  SnapshotInput in;
  in.conversation = conversation;
  in.window.turns.assign(turns.end() - 100, turns.end());
  in.window.first_user_turn = turns[1];
  SnapshotOptions options;
  options.max_turns = 100;
  options.max_bytes = 1024 * 1024;

  const json s = build_snapshot(in, options);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["history"].size(), 101u);
  EXPECT_EQ(s["history"][0]["seq"], 2);
  EXPECT_EQ(s["history"][1]["seq"], 901);
  EXPECT_EQ(s["history_trimmed"]["by_turn_limit"], 899);
  EXPECT_EQ(s["history_trimmed"]["by_byte_limit"], 0);
  EXPECT_EQ(s["history_trimmed"]["omitted_turns"], 899);
}

TEST(History, AnExactFitKeepsEverythingAndOneByteLessDropsTheOldestTurn) {
  const auto turns = long_conversation(12);
  json all = json::array();
  for (const auto& t : turns) all.push_back(history_entry(t));
  const std::size_t exact = dumped(all).size();

  const TrimmedHistory fits = trim_history(pointers(turns), &turns[1], exact);
  const TrimmedHistory short_by_one = trim_history(pointers(turns), &turns[1], exact - 1);

  EXPECT_EQ(fits.turns, all);
  EXPECT_EQ(fits.omitted, 0u);
  EXPECT_EQ(short_by_one.omitted, 1u);
  EXPECT_EQ(short_by_one.turns[0]["seq"], 2);  // seq 1, the oldest, went
  EXPECT_LE(dumped(short_by_one.turns).size(), exact - 1);
}

TEST(History, TheFirstUserTurnGoesWhenItDoesNotFit) {
  std::vector<store::TurnRecord> turns = {make_turn(1, "user", std::string(3000, 'a')),
                                          make_turn(2, "bot", "Short answer."),
                                          make_turn(3, "user", "Short question?")};

  const TrimmedHistory h = trim_history(pointers(turns), &turns[0], 1024);

  EXPECT_FALSE(h.first_user_turn_kept);
  EXPECT_EQ(h.omitted, 1u);
  ASSERT_EQ(h.turns.size(), 2u);
  EXPECT_EQ(h.turns[0]["seq"], 2);
}

TEST(History, AnOverlongNewestTurnIsCutAtACodePointBoundaryForEveryBudget) {
  std::string text;
  while (text.size() < 4000) text += kMixed + "\"quoted\"\n";
  const std::vector<store::TurnRecord> turns = {make_turn(7, "user", text)};

  for (std::size_t budget = 1024; budget < 1024 + 64; ++budget) {
    SCOPED_TRACE(budget);

    const TrimmedHistory h = trim_history(pointers(turns), &turns[0], budget);

    ASSERT_EQ(h.turns.size(), 1u);
    const json& entry = h.turns[0];
    const std::string cut = entry["text"];
    EXPECT_EQ(h.truncated, 1u);
    EXPECT_EQ(entry["text_truncated"], true);
    EXPECT_EQ(entry["text_bytes"], text.size());
    EXPECT_TRUE(utf8::is_valid(cut));
    EXPECT_TRUE(text.starts_with(cut));
    EXPECT_LE(dumped(h.turns).size(), budget);
    // As long as it may be: the next code point would not have fitted.
    json longer = entry;
    const std::size_t next = utf8::safe_prefix_length(text, cut.size() + 4);
    longer["text"] = text.substr(0, next);
    EXPECT_GT(dumped(json::array({longer})).size(), budget);
  }
}

TEST(History, ATruncatedSnapshotIsSchemaValidAndSaysSo) {
  store::ConversationRecord conversation;
  conversation.id = "c_long";
  conversation.last_seq = 1;
  SnapshotInput in;
  in.conversation = conversation;
  std::string text;
  while (text.size() < 5000) text += kMixed;
  in.window.turns = {make_turn(1, "user", text)};
  SnapshotOptions options;
  options.max_bytes = 1024;

  const json s = build_snapshot(in, options);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["history_trimmed"]["truncated_turns"], 1);
  EXPECT_EQ(s["history_trimmed"]["omitted_turns"], 0);
  EXPECT_EQ(s["history"][0]["text_truncated"], true);
}

// ---- Reading the window from a store ----------------------------------------------------

// Counts list_turns calls on the way to a real store.
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& inner) : inner_(inner) {}

  int list_turns_calls = 0;
  std::size_t turns_read = 0;

  Result<std::vector<store::TurnRecord>> list_turns(const std::string& id, std::int64_t after,
                                                    std::size_t limit) override {
    ++list_turns_calls;
    auto page = inner_.list_turns(id, after, limit);
    if (page) turns_read += page->size();
    return page;
  }

  void create_conversation(store::ConversationRecord r,
                           store::Callback<store::ConversationRecord> d) override {
    inner_.create_conversation(std::move(r), std::move(d));
  }
  void append_turn(store::AppendTurnRequest r,
                   store::Callback<store::AppendTurnOutcome> d) override {
    inner_.append_turn(std::move(r), std::move(d));
  }
  void append_events(std::vector<store::EventRecord> e,
                     store::Callback<std::vector<store::EventRecord>> d) override {
    inner_.append_events(std::move(e), std::move(d));
  }
  void update_conversation(store::ConversationUpdate u,
                           store::Callback<store::ConversationUpdateOutcome> d) override {
    inner_.update_conversation(std::move(u), std::move(d));
  }
  void create_agent(store::AgentRecord a, store::Callback<store::AgentRecord> d) override {
    inner_.create_agent(std::move(a), std::move(d));
  }
  void update_agent(store::AgentRecord a, store::Callback<store::AgentRecord> d) override {
    inner_.update_agent(std::move(a), std::move(d));
  }
  void erase_customer(store::ErasureRequest r, store::Callback<store::ErasureOutcome> d) override {
    inner_.erase_customer(std::move(r), std::move(d));
  }
  void append_audit(store::AuditRecord r, store::Callback<store::AuditRecord> d) override {
    inner_.append_audit(std::move(r), std::move(d));
  }
  void run_retention(store::RetentionBatch b,
                     store::Callback<store::RetentionOutcome> d) override {
    inner_.run_retention(b, std::move(d));
  }
  void reclaim_space(std::int64_t pages, store::Callback<std::int64_t> d) override {
    inner_.reclaim_space(pages, std::move(d));
  }
  Result<std::vector<store::AuditRecord>> list_audit(const store::AuditQuery& q) override {
    return inner_.list_audit(q);
  }
  Result<store::CustomerExport> export_customer(const std::string& id) override {
    return inner_.export_customer(id);
  }
  void put_cursor(std::string name, std::int64_t id, store::Callback<bool> d) override {
    inner_.put_cursor(std::move(name), id, std::move(d));
  }
  void probe_writable(store::Callback<bool> d) override { inner_.probe_writable(std::move(d)); }
  Result<store::ConversationRecord> get_conversation(const std::string& id) override {
    return inner_.get_conversation(id);
  }
  Result<std::vector<store::EventRecord>> list_events(const store::EventQuery& q) override {
    return inner_.list_events(q);
  }
  Result<std::vector<store::ConversationRecord>> list_conversations_in_states(
      const std::vector<std::string>& states, std::size_t limit) override {
    return inner_.list_conversations_in_states(states, limit);
  }
  Result<store::AgentRecord> get_agent(const std::string& id) override {
    return inner_.get_agent(id);
  }
  Result<store::AgentRecord> get_agent_by_token_hash(const std::string& hash) override {
    return inner_.get_agent_by_token_hash(hash);
  }
  Result<std::vector<store::AgentRecord>> list_agents() override { return inner_.list_agents(); }
  Result<std::int64_t> get_cursor(const std::string& name) override {
    return inner_.get_cursor(name);
  }
  Result<std::vector<store::UnfinishedEscalation>> list_unfinished_escalations(
      const std::string& after_id, std::size_t limit) override {
    return inner_.list_unfinished_escalations(after_id, limit);
  }
  Result<std::vector<store::UnfinishedEscalation>> list_unanswered_user_turns(
      std::int64_t since_ms, std::size_t limit) override {
    return inner_.list_unanswered_user_turns(since_ms, limit);
  }
  void set_commit_observer(store::CommitObserver o) override {
    inner_.set_commit_observer(std::move(o));
  }
  Result<store::HandoverFacts> read_handover_facts(
      const store::HandoverFactsQuery& query) override {
    return inner_.read_handover_facts(query);
  }
  void set_change_observer(store::ChangeObserver o) override {
    inner_.set_change_observer(std::move(o));
  }
  store::StoreStats stats() const override { return inner_.stats(); }
  void close() override { inner_.close(); }

 private:
  store::Store& inner_;
};

class StoredWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "snap_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store::StoreOptions options;
    options.path = dir_ + "/snapshot.db";
    auto opened = store::Store::open(options, clock_);
    ASSERT_TRUE(opened) << opened.status().to_string();
    store_ = std::move(opened).value();
    counting_ = std::make_unique<CountingStore>(*store_);
    fill(1000);
  }
  void TearDown() override {
    counting_.reset();
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // A conversation of `count` turns as long_conversation() has them.
  void fill(std::int64_t count) {
    store::ConversationRecord record;
    record.id = "c_long";
    record.language = "de";
    std::promise<void> created;
    store_->create_conversation(record, [&](auto r) {
      EXPECT_TRUE(r);
      created.set_value();
    });
    created.get_future().wait();
    turns_ = long_conversation(count);
    std::promise<void> last;
    for (std::size_t i = 0; i < turns_.size(); ++i) {
      store::AppendTurnRequest request;
      request.turn = turns_[i];
      const bool is_last = i + 1 == turns_.size();
      store_->append_turn(std::move(request), [&last, is_last](auto r) {
        EXPECT_TRUE(r);
        if (is_last) last.set_value();
      });
    }
    last.get_future().wait();
    conversation_ = *store_->get_conversation("c_long");
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<CountingStore> counting_;
  std::vector<store::TurnRecord> turns_;
  store::ConversationRecord conversation_;
};

TEST_F(StoredWindowTest, ReadsTheNewestTurnsAndTheFirstUserTurnInFewPages) {
  SnapshotOptions options;
  options.max_turns = 200;

  auto window = read_turn_window(*counting_, conversation_, options);

  ASSERT_TRUE(window) << window.status().to_string();
  ASSERT_EQ(window->turns.size(), 200u);
  EXPECT_EQ(window->turns.front().seq, 801);
  EXPECT_EQ(window->turns.back().seq, 1000);
  ASSERT_TRUE(window->first_user_turn.has_value());
  EXPECT_EQ(window->first_user_turn->seq, 2);
  EXPECT_EQ(counting_->list_turns_calls, 2);  // one page of the window, one of the head
  EXPECT_LT(counting_->turns_read, 300u);
}

TEST_F(StoredWindowTest, AWindowOverTheWholeConversationNeedsNoSeparateFirstTurn) {
  SnapshotOptions options;
  options.max_turns = 1000;

  auto window = read_turn_window(*counting_, conversation_, options);

  ASSERT_TRUE(window) << window.status().to_string();
  EXPECT_EQ(window->turns.size(), 1000u);
  EXPECT_FALSE(window->first_user_turn.has_value());
  EXPECT_EQ(counting_->list_turns_calls, 2);  // two pages of 500
}

TEST_F(StoredWindowTest, TurnsAfterTheDecidingOneAreNotRead) {
  SnapshotOptions options;
  options.max_turns = 10;
  store::ConversationRecord decided = conversation_;
  decided.last_seq = 500;  // turns 501.. came in after the decision

  auto window = read_turn_window(*counting_, decided, options);

  ASSERT_TRUE(window) << window.status().to_string();
  EXPECT_EQ(window->turns.front().seq, 491);
  EXPECT_EQ(window->turns.back().seq, 500);
}

TEST_F(StoredWindowTest, ASnapshotOfTheStoredThousandTurnsIsTrimmedAndValid) {
  SnapshotOptions options;
  options.max_turns = 1000;
  options.max_bytes = 16 * 1024;
  auto window = read_turn_window(*counting_, conversation_, options);
  ASSERT_TRUE(window) << window.status().to_string();
  SnapshotInput in;
  in.conversation = conversation_;
  in.window = std::move(*window);

  const json s = build_snapshot(in, options);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_LE(dumped(s["history"]).size(), options.max_bytes);
  const auto seqs = check_entries(s["history"], turns_);
  EXPECT_EQ(seqs.front(), 2);
  EXPECT_EQ(seqs.back(), 1000);
  EXPECT_EQ(s["history_trimmed"]["omitted_turns"], 1000 - seqs.size());
  EXPECT_TRUE(utf8::is_valid(dumped(s)));
}

TEST_F(StoredWindowTest, AnUnknownConversationIsTheStoresError) {
  store::ConversationRecord unknown = conversation_;
  unknown.id = "c_nobody";

  auto window = read_turn_window(*counting_, unknown, {});

  ASSERT_FALSE(window);
  EXPECT_EQ(window.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace handover::snapshot
