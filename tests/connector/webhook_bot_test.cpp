// Webhook bots: the request bodies, reading handover and Rasa replies, the retry schedule.
#include "webhook_bot.hpp"

#include <gtest/gtest.h>

namespace handover::connector {
namespace {

using nlohmann::json;

BotQuestion question() {
  BotQuestion q;
  q.conversation_id = "c_1";
  q.channel = "web";
  q.language = "de";
  q.seq = 3;
  q.text = "Wo ist mein Paket?";
  q.turn = {{"seq", 3}, {"role", "user"}, {"text", q.text}};
  return q;
}

TEST(BotRequestBody, HandoverFormatCarriesTheTurn) {
  const json body = json::parse(bot_request_body(BotFormat::kHandover, question()));

  EXPECT_EQ(body["conversation_id"], "c_1");
  EXPECT_EQ(body["sender"], "c_1");
  EXPECT_EQ(body["message"], "Wo ist mein Paket?");
  EXPECT_EQ(body["language"], "de");
  EXPECT_EQ(body["channel"], "web");
  EXPECT_EQ(body["turn"]["seq"], 3);
}

TEST(BotRequestBody, RasaFormatIsSenderAndMessage) {
  const json body = json::parse(bot_request_body(BotFormat::kRasa, question()));

  EXPECT_EQ(body["sender"], "c_1");
  EXPECT_EQ(body["message"], "Wo ist mein Paket?");
  EXPECT_EQ(body["metadata"]["language"], "de");
  EXPECT_FALSE(body.contains("turn"));
}

TEST(BotRequestBody, BothFormatsSayWhenThePersonShouldBeOffered) {
  BotQuestion q = question();
  EXPECT_EQ(json::parse(bot_request_body(BotFormat::kHandover, q))["suggest_handover"], false);
  q.suggest_handover = true;
  EXPECT_EQ(json::parse(bot_request_body(BotFormat::kHandover, q))["suggest_handover"], true);
  EXPECT_EQ(json::parse(bot_request_body(BotFormat::kRasa, q))["metadata"]["suggest_handover"],
            true);
}

TEST(ParseBotReply, ReadsHandoverReplies) {
  auto replies = parse_bot_reply(BotFormat::kHandover,
                                 R"({"replies": [{"text": "Hier", "confidence": 0.8,
                                     "intent": "order.status", "actions": [{"name": "x"}]},
                                     {"text": "Noch etwas?", "fallback": true}]})",
                                 100);

  ASSERT_TRUE(replies.is_ok()) << replies.status().message();
  ASSERT_EQ(replies->size(), 2u);
  EXPECT_EQ((*replies)[0].text, "Hier");
  EXPECT_DOUBLE_EQ((*replies)[0].confidence.value(), 0.8);
  EXPECT_EQ((*replies)[0].intent, "order.status");
  EXPECT_EQ((*replies)[0].actions.at(0).at("name"), "x");
  EXPECT_FALSE((*replies)[0].fallback);
  EXPECT_FALSE((*replies)[1].confidence.has_value());
  EXPECT_TRUE((*replies)[1].fallback);
}

TEST(ParseBotReply, ReadsRasaTextMessagesAndSkipsTheRest) {
  auto replies = parse_bot_reply(BotFormat::kRasa,
                                 R"([{"recipient_id": "c_1", "text": "Hi!"},
                                     {"recipient_id": "c_1", "image": "http://x/y.png"},
                                     {"recipient_id": "c_1", "text": "   "},
                                     {"recipient_id": "c_1", "text": "How can I help?"}])",
                                 100);

  ASSERT_TRUE(replies.is_ok()) << replies.status().message();
  ASSERT_EQ(replies->size(), 2u);
  EXPECT_EQ((*replies)[0].text, "Hi!");
  EXPECT_EQ((*replies)[1].text, "How can I help?");
  EXPECT_FALSE((*replies)[0].confidence.has_value());
}

TEST(ParseBotReply, EmptyRasaListIsNoReply) {
  auto replies = parse_bot_reply(BotFormat::kRasa, "[]", 100);

  ASSERT_TRUE(replies.is_ok());
  EXPECT_TRUE(replies->empty());
}

struct BadReply {
  BotFormat format;
  std::string body;
  std::string why;
};

TEST(ParseBotReply, RefusesMalformedReplies) {
  const BadReply cases[] = {
      {BotFormat::kHandover, "not json", "is not JSON"},
      {BotFormat::kHandover, "[]", "\"replies\" list"},
      {BotFormat::kHandover, R"({"replies": {}})", "\"replies\" list"},
      {BotFormat::kHandover, R"({"replies": [{"confidence": 1}]})", "replies[0] has no text"},
      {BotFormat::kHandover, R"({"replies": [{"text": ""}]})", "replies[0] has no text"},
      {BotFormat::kHandover, R"({"replies": [{"text": " \t\n "}]})", "replies[0] has no text"},
      {BotFormat::kHandover, R"({"replies": [{"text": "a", "confidence": 1.5}]})",
       "replies[0].confidence"},
      {BotFormat::kHandover, R"({"replies": [{"text": "a", "confidence": "high"}]})",
       "replies[0].confidence"},
      {BotFormat::kHandover, R"({"replies": [{"text": "0123456789abc"}]})", "too long"},
      {BotFormat::kRasa, R"({"text": "hi"})", "not a list"},
      {BotFormat::kRasa, R"(["hi"])", "not an object"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);

    auto replies = parse_bot_reply(c.format, c.body, 10);

    ASSERT_FALSE(replies.is_ok());
    EXPECT_EQ(replies.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(replies.status().message().find(c.why), std::string::npos)
        << replies.status().message();
  }
}

TEST(BotRetryDelay, DoublesUpToThirtySeconds) {
  EXPECT_EQ(bot_retry_delay_ms(500, 1), 500);
  EXPECT_EQ(bot_retry_delay_ms(500, 2), 1000);
  EXPECT_EQ(bot_retry_delay_ms(500, 3), 2000);
  EXPECT_EQ(bot_retry_delay_ms(500, 10), 30'000);
  EXPECT_EQ(bot_retry_delay_ms(20'000, 2), 30'000);
}

}  // namespace
}  // namespace handover::connector
