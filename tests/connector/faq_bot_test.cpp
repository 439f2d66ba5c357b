// The built-in FAQ bot: matching German and English questions, falling back, choosing the
// answer's language, and rejecting malformed files.
#include "handover/connector/faq_bot.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace handover::connector {
namespace {

const std::string kDemoBot = std::string(HANDOVER_SOURCE_DIR) + "/config/demo-bot.yaml";

std::unique_ptr<FaqBot> demo_bot() {
  auto bot = FaqBot::load(kDemoBot);
  EXPECT_TRUE(bot.is_ok()) << bot.status().message();
  return bot ? std::move(bot).value() : nullptr;
}

TEST(FaqTokens, FoldsUmlautsCaseAndEndings) {
  EXPECT_EQ(faq_tokens("Rücksendungen für Bestellungen!"),
            (std::vector<std::string>{"ruecksendung", "fuer", "bestellung"}));
  EXPECT_EQ(faq_tokens("Where are my ORDERS? Shipping costs"),
            (std::vector<std::string>{"wher", "are", "my", "order", "shipp", "cost"}));
  EXPECT_EQ(faq_tokens("Straße Größe"), (std::vector<std::string>{"strass", "groess"}));
}

struct MatchCase {
  std::string text;
  std::string language;
  std::string intent;
};

TEST(FaqBot, AnswersParaphrasedQuestionsInBothLanguages) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);
  const MatchCase cases[] = {
      {"Wo bleibt meine Bestellung?", "de", "order.status"},
      {"where is my order", "en", "order.status"},
      {"Was kosten Versandkosten nach Hause?", "de", "shipping.cost"},
      {"how much does shipping cost", "en", "shipping.cost"},
      {"Ich möchte einen Artikel zurückschicken", "de", "returns.how"},
      {"How do I return this item?", "en", "returns.how"},
      {"Kann ich mit PayPal zahlen?", "de", "payment.methods"},
      {"I forgot my password", "en", "account.password"},
      {"Wie lange dauert die Lieferzeit?", "de", "shipping.time"},
      {"When do I get my refund?", "en", "returns.refund"},
      {"Hallo", "de", "greeting"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);

    const BotReply reply = bot->answer(c.text, c.language);

    EXPECT_EQ(reply.intent, c.intent);
    EXPECT_FALSE(reply.fallback);
    ASSERT_TRUE(reply.confidence.has_value());
    EXPECT_GE(*reply.confidence, bot->threshold());
    EXPECT_LE(*reply.confidence, 1.0);
  }
}

TEST(FaqBot, AnswersInTheConversationLanguage) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);

  const BotReply german = bot->answer("Versandkosten", "de-AT");
  const BotReply english = bot->answer("Versandkosten", "en");

  EXPECT_EQ(german.intent, "shipping.cost");
  EXPECT_EQ(english.intent, "shipping.cost");
  EXPECT_NE(german.text.find("kostenlos"), std::string::npos);
  EXPECT_NE(english.text.find("free"), std::string::npos);
}

TEST(FaqBot, GuessesTheLanguageFromStopWordsWhenUnknown) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);

  const BotReply german = bot->answer("Wie kann ich meine Bestellung stornieren?", "und");
  const BotReply english = bot->answer("How can I cancel my order?", "fr");

  EXPECT_EQ(german.intent, "order.cancel");
  EXPECT_NE(german.text.find("stornieren"), std::string::npos);
  EXPECT_EQ(english.intent, "order.cancel");
  EXPECT_NE(english.text.find("cancel"), std::string::npos);
}

TEST(FaqBot, FallsBackWithLowConfidenceWhenNothingMatches) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);
  const MatchCase cases[] = {
      {"Mein Hamster frisst keine Karotten mehr", "de", ""},
      {"What is the meaning of life, universe and everything?", "en", ""},
      {"???", "en", ""},
      {"", "de", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);

    const BotReply reply = bot->answer(c.text, c.language);

    EXPECT_TRUE(reply.fallback);
    EXPECT_TRUE(reply.intent.empty());
    ASSERT_TRUE(reply.confidence.has_value());
    EXPECT_LT(*reply.confidence, bot->threshold());
    const std::string marker = c.language == "de" ? "nicht verstanden" : "did not understand";
    EXPECT_NE(reply.text.find(marker), std::string::npos) << reply.text;
  }
}

TEST(FaqBot, PassesEntryActionsOn) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);

  const BotReply reply = bot->answer("Retoure anmelden", "de");

  EXPECT_EQ(reply.intent, "returns.how");
  ASSERT_TRUE(reply.actions.is_array());
  EXPECT_EQ(reply.actions.at(0).at("name"), "show_return_form");
}

TEST(FaqBot, AskAnswersWithOneReply) {
  auto bot = demo_bot();
  ASSERT_NE(bot, nullptr);
  BotQuestion question;
  question.text = "Öffnungszeiten";
  question.language = "de";
  std::vector<BotReply> replies;

  bot->ask(question, [&](Result<std::vector<BotReply>> r) { replies = std::move(r).value(); });

  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].intent, "opening_hours");
}

class FaqFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("faq-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
              ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml"))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }

  Status load(const std::string& text) {
    std::ofstream(path_) << text;
    auto bot = FaqBot::load(path_);
    return bot ? Status::ok() : bot.status();
  }

  std::string path_;
};

TEST_F(FaqFileTest, ReportsEveryProblemWithItsPosition) {
  const Status status = load(
      "version: 1\n"
      "fallback: {de: Hm}\n"
      "colour: blue\n"
      "entries:\n"
      "  - intent: Bad Intent\n"
      "    questions: {en: [hi]}\n"
      "    answer: {de: a, en: b}\n"
      "  - intent: same\n"
      "    questions: {}\n"
      "    answer: {de: a, en: b}\n"
      "  - intent: same\n"
      "    questions: {de: [x]}\n"
      "    answer: {de: a, en: b}\n");

  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  const std::string& m = status.message();
  EXPECT_NE(m.find(path_ + ":2:11: missing required key (key 'fallback.en')"), std::string::npos)
      << m;
  EXPECT_NE(m.find(path_ + ":3:1: unknown key (key 'colour')"), std::string::npos) << m;
  EXPECT_NE(m.find(":5:13: expected an intent of at most 64"), std::string::npos) << m;
  EXPECT_NE(m.find(":9:5: expected at least one question"), std::string::npos) << m;
  EXPECT_NE(m.find(":11:5: duplicate intent, first used at line 8"), std::string::npos) << m;
}

TEST_F(FaqFileTest, NeedsEntriesAndAVersion) {
  const Status status = load("fallback: {de: a, en: b}\n");

  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'version'"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("'entries'"), std::string::npos) << status.message();
}

TEST_F(FaqFileTest, MissingFileIsReported) {
  auto bot = FaqBot::load(path_ + ".absent");

  ASSERT_FALSE(bot.is_ok());
  EXPECT_NE(bot.status().message().find("not found"), std::string::npos);
}

}  // namespace
}  // namespace handover::connector
