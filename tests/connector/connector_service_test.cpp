// The connector worker with a scripted bot and poster: what it asks, what it posts, and when
// it keeps quiet.
#include "handover/connector/connector.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include "handover/metrics/registry.hpp"

namespace handover::connector {
namespace {

using nlohmann::json;

// Records posted turns and answers with a scripted outcome.
class FakePoster final : public api::TurnPoster {
 public:
  void post(api::ServerTurn turn,
            std::function<void(Result<api::ServerTurnResult>)> done) override {
    Result<api::ServerTurnResult> outcome = api::ServerTurnResult{0, state_after};
    {
      std::lock_guard lock(mu);
      posted.push_back(turn);
      if (conflict_after >= 0 && static_cast<int>(posted.size()) > conflict_after) {
        outcome = Status::conflict("a person has the conversation");
      } else {
        outcome = api::ServerTurnResult{static_cast<std::int64_t>(posted.size()), state_after};
      }
    }
    done(std::move(outcome));
  }

  std::vector<api::ServerTurn> turns() {
    std::lock_guard lock(mu);
    return posted;
  }

  std::mutex mu;
  std::vector<api::ServerTurn> posted;
  std::string state_after = "bot";
  int conflict_after = -1;  // posts beyond this many get Conflict; -1: never
};

// Answers with fixed replies, or fails, and remembers what it was asked.
class FakeBot final : public Bot {
 public:
  void ask(BotQuestion question, BotCallback done) override {
    {
      std::lock_guard lock(mu);
      asked.push_back(question);
    }
    if (down) return done(Status::unavailable("connection refused"));
    std::vector<BotReply> out = replies;
    for (auto& reply : out) reply.text += " #" + std::to_string(question.seq);
    done(std::move(out));
  }

  std::vector<BotQuestion> questions() {
    std::lock_guard lock(mu);
    return asked;
  }

  std::mutex mu;
  std::vector<BotQuestion> asked;
  std::vector<BotReply> replies;
  bool down = false;
};

feed::Event user_turn(const std::string& conversation, std::int64_t seq, const std::string& text,
                      const std::string& state = "bot", const std::string& role = "user") {
  feed::Event e;
  e.id = seq * 10;
  e.type = feed::kTurnCreated;
  e.conversation_id = conversation;
  e.data = {{"state", state}};
  auto turn = std::make_shared<store::TurnRecord>();
  turn->conversation_id = conversation;
  turn->seq = seq;
  turn->role = role;
  turn->text = text;
  e.turn = std::move(turn);
  return e;
}

// The stored turn behind a turn.created event, with its evaluation as stored text.
void with_evaluation(feed::Event& e, std::string evaluation_json) {
  auto turn = std::make_shared<store::TurnRecord>(*e.turn);
  turn->evaluation_json = std::move(evaluation_json);
  e.turn = std::move(turn);
}

void with_decision(feed::Event& e, const nlohmann::json& decision) {
  with_evaluation(e, nlohmann::json{{"decision", decision}, {"fired", {}}}.dump());
}

class ConnectorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BotReply reply;
    reply.text = "answer";
    reply.confidence = 0.75;
    reply.intent = "order.status";
    bot_->replies = {reply};
    conversations_["c_1"] = conversation("c_1", "web", "de");
    conversations_["c_2"] = conversation("c_2", "app", "en");
  }

  static store::ConversationRecord conversation(const std::string& id, const std::string& channel,
                                                const std::string& language) {
    store::ConversationRecord c;
    c.id = id;
    c.channel = channel;
    c.language = language;
    c.state = "bot";
    return c;
  }

  std::unique_ptr<ConnectorService> make() {
    ConnectorDeps deps{poster_, [this](const std::string& id) -> Result<store::ConversationRecord> {
                         std::lock_guard lock(mu_);
                         ++lookups_;
                         auto it = conversations_.find(id);
                         if (it == conversations_.end()) return Status::not_found(id);
                         return it->second;
                       },
                       registry_, nullptr,
                       [](std::string_view language) { return "down:" + std::string(language); },
                       8192};
    return std::make_unique<ConnectorService>(
        std::map<std::string, std::shared_ptr<Bot>>{{"web", bot_}}, deps);
  }

  std::mutex mu_;
  std::map<std::string, store::ConversationRecord> conversations_;
  int lookups_ = 0;  // guarded by mu_
  FakePoster poster_;
  std::shared_ptr<FakeBot> bot_ = std::make_shared<FakeBot>();
  metrics::Registry registry_;
};

TEST_F(ConnectorServiceTest, PostsTheBotsReplyToAUserTurn) {
  auto service = make();

  service->on_event(user_turn("c_1", 4, "Wo ist mein Paket?"));
  service->drain_for_test();

  ASSERT_EQ(bot_->questions().size(), 1u);
  const BotQuestion asked = bot_->questions()[0];
  EXPECT_EQ(asked.text, "Wo ist mein Paket?");
  EXPECT_EQ(asked.language, "de");
  EXPECT_EQ(asked.channel, "web");
  EXPECT_EQ(asked.seq, 4);
  EXPECT_FALSE(asked.turn.contains("evaluation"));
  const auto turns = poster_.turns();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].conversation_id, "c_1");
  EXPECT_EQ(turns[0].role, "bot");
  EXPECT_EQ(turns[0].text, "answer #4");
  EXPECT_EQ(turns[0].client_turn_id, "bot-reply:4");
  EXPECT_EQ(turns[0].bot, (json{{"confidence", 0.75}, {"intent", "order.status"},
                                {"fallback", false}}));
  EXPECT_NE(registry_.render().find("handover_connector_replies_total{result=\"answered\"} 1"),
            std::string::npos);
}

TEST_F(ConnectorServiceTest, PostsSeveralRepliesInOrderWithDistinctIds) {
  BotReply second;
  second.text = "more";
  bot_->replies.push_back(second);
  auto service = make();

  service->on_event(user_turn("c_1", 2, "hi"));
  service->drain_for_test();

  const auto turns = poster_.turns();
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].client_turn_id, "bot-reply:2");
  EXPECT_EQ(turns[1].client_turn_id, "bot-reply:2:2");
  EXPECT_EQ(turns[1].text, "more #2");
  EXPECT_EQ(turns[1].bot, (json{{"fallback", false}}));
}

TEST_F(ConnectorServiceTest, IgnoresTurnsTheBotDoesNotHave) {
  auto service = make();

  service->on_event(user_turn("c_1", 1, "x", "queued"));
  service->on_event(user_turn("c_1", 2, "x", "agent"));
  service->on_event(user_turn("c_1", 3, "x", "bot", "bot"));
  service->on_event(user_turn("c_2", 1, "other channel"));
  service->on_event(user_turn("c_unknown", 1, "gone"));
  feed::Event accepted;
  accepted.type = feed::kHandoverAccepted;
  accepted.conversation_id = "c_1";
  service->on_event(accepted);
  service->drain_for_test();

  EXPECT_TRUE(bot_->questions().empty());
  EXPECT_TRUE(poster_.turns().empty());
}

// A conversation's channel never changes: once no bot serves it, its later turns are dropped
// without reading the conversation again (a bot that posts over REST sends many of those).
TEST_F(ConnectorServiceTest, ReadsAConversationWithoutABotOnlyOnce) {
  auto service = make();

  for (std::int64_t seq = 1; seq <= 5; ++seq) {
    service->on_event(user_turn("c_2", seq, "question " + std::to_string(seq)));
    service->drain_for_test();
  }
  service->on_event(user_turn("c_1", 6, "Wo ist mein Paket?"));
  service->drain_for_test();

  std::lock_guard lock(mu_);
  EXPECT_EQ(lookups_, 2) << "one read for c_2 on channel app, one for c_1 on web";
  ASSERT_EQ(bot_->questions().size(), 1u);
  EXPECT_EQ(bot_->questions()[0].conversation_id, "c_1");
}

TEST_F(ConnectorServiceTest, LeavesATurnTheTriggersEscalateToThePerson) {
  auto service = make();
  feed::Event escalating = user_turn("c_1", 5, "Ich will einen Menschen!");
  with_decision(escalating, {{"action", "escalate"}, {"rule", "r"}});
  feed::Event suggested = user_turn("c_1", 6, "Hallo");
  with_decision(suggested, {{"action", "suggest"}});

  service->on_event(escalating);
  service->on_event(suggested);
  service->drain_for_test();

  ASSERT_EQ(bot_->questions().size(), 1u);
  EXPECT_EQ(bot_->questions()[0].seq, 6);
}

TEST_F(ConnectorServiceTest, ReadsOnlyTheTopLevelDecisionOfAnEvaluation) {
  auto service = make();
  // The decision after other members, and "action" keys elsewhere that are not it.
  feed::Event late = user_turn("c_1", 5, "eins");
  with_evaluation(late, R"({"signals":{"action":"none"},"evidence":[{"action":"escalate"}],)"
                        R"("decision":{"rule":"r","action":"escalate"},"fired":[]})");
  feed::Event nested = user_turn("c_1", 6, "zwei");
  with_evaluation(nested, R"({"evidence":[{"decision":{"action":"escalate"}}],)"
                          R"("x":{"decision":{"action":"escalate"}},)"
                          R"("decision":{"action":"none"}})");
  feed::Event broken = user_turn("c_1", 7, "drei");
  with_evaluation(broken, R"({"decision":{"action":)");

  service->on_event(late);
  service->on_event(nested);
  service->on_event(broken);
  service->drain_for_test();

  std::vector<std::int64_t> asked;
  for (const auto& q : bot_->questions()) asked.push_back(q.seq);
  EXPECT_EQ(asked, (std::vector<std::int64_t>{6, 7}));
}

TEST_F(ConnectorServiceTest, DoesNotAskWhenAPersonTookOverBeforeTheWorkerStarted) {
  conversations_["c_1"].state = "agent";
  auto service = make();

  service->on_event(user_turn("c_1", 5, "hello?"));
  service->drain_for_test();

  EXPECT_TRUE(bot_->questions().empty());
  EXPECT_TRUE(poster_.turns().empty());
}

TEST_F(ConnectorServiceTest, DropsTheRestOfAnAnswerThatMeetsAPerson) {
  BotReply second;
  second.text = "more";
  bot_->replies.push_back(second);
  poster_.conflict_after = 0;
  auto service = make();

  service->on_event(user_turn("c_1", 2, "hi"));
  service->drain_for_test();

  EXPECT_EQ(poster_.turns().size(), 1u);  // the refused first reply; the second is not tried
  EXPECT_NE(registry_.render().find("handover_connector_replies_total{result=\"dropped\"} 1"),
            std::string::npos);
}

TEST_F(ConnectorServiceTest, StopsAfterAReplyThatEscalated) {
  BotReply second;
  second.text = "more";
  bot_->replies.push_back(second);
  poster_.state_after = "queued";
  auto service = make();

  service->on_event(user_turn("c_1", 2, "hi"));
  service->drain_for_test();

  EXPECT_EQ(poster_.turns().size(), 1u);
}

TEST_F(ConnectorServiceTest, TellsTheUserWhenTheBotIsDown) {
  bot_->down = true;
  auto service = make();

  service->on_event(user_turn("c_1", 7, "Hallo?"));
  service->drain_for_test();

  const auto turns = poster_.turns();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].role, "system");
  EXPECT_EQ(turns[0].text, "down:de");
  EXPECT_EQ(turns[0].bot, (json{{"unreachable", true}}));
  EXPECT_EQ(turns[0].metadata, (json{{"message", "bot_unavailable"}}));
  EXPECT_EQ(turns[0].client_turn_id, "bot-unavailable:7");
  EXPECT_NE(registry_.render().find("handover_connector_replies_total{result=\"unavailable\"} 1"),
            std::string::npos);
}

TEST_F(ConnectorServiceTest, AnswersOneConversationsTurnsInOrder) {
  auto service = make();

  for (int seq = 1; seq <= 20; ++seq) service->on_event(user_turn("c_1", seq, "q"));
  service->drain_for_test();

  const auto turns = poster_.turns();
  ASSERT_EQ(turns.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(turns[static_cast<std::size_t>(i)].client_turn_id,
              "bot-reply:" + std::to_string(i + 1));
  }
}

TEST(DefaultUnavailableText, GermanForGermanElseEnglish) {
  EXPECT_NE(default_unavailable_text("de").find("nicht erreichbar"), std::string::npos);
  EXPECT_NE(default_unavailable_text("de-CH").find("nicht erreichbar"), std::string::npos);
  EXPECT_NE(default_unavailable_text("fr").find("cannot be reached"), std::string::npos);
}

}  // namespace
}  // namespace handover::connector
