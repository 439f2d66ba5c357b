// The snapshot builder on conversations scored by the real trigger engine: every section,
// the summary in English and German, and the document against docs/snapshot.schema.json.
#include "handover/snapshot/snapshot.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "snapshot/snapshot_test_support.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;
using testing::ConversationBuilder;
using testing::schema_errors;

constexpr const char* kCustomer =
    R"({"id":"cust-7","name":"Dana Roe","tier":"gold","lifetime_value":2400,"locale":"en-GB"})";

// A customer whose parcel is lost: a failed lookup, an unsure bot, a fallback, then anger.
ConversationBuilder angry_conversation() {
  ConversationBuilder c("en", kCustomer);
  c.user("Hi!");
  c.user("My order 48213 never arrived and I need it for a wedding on Friday.");
  c.bot("Let me check the order.", {{"confidence", 0.9}, {"intent", "order_status"}},
        json::array({{{"name", "lookup_order"},
                      {"status", "failed"},
                      {"data", {{"error", "carrier timeout"}}}}}));
  c.user("Where is my parcel now?");
  c.bot("I am not sure I understood, maybe it is delayed.",
        {{"confidence", 0.3}, {"intent", "order_status"}});
  c.user("Can you refund the shipping costs?");
  c.bot(
      "Sorry, I did not get that.", {{"confidence", 0.1}, {"fallback", true}},
      json::array({{{"name", "create_ticket"}, {"status", "ok"}, {"data", {{"ticket", "T-9"}}}}}));
  c.user("This is useless, you stupid bot!!!");
  return c;
}

json build(const ConversationBuilder& c, SnapshotOptions options = {}) {
  return build_snapshot(c.input(), options);
}

TEST(Snapshot, ConversationWithActionsLowConfidenceAndAngerIsSchemaValid) {
  const ConversationBuilder c = angry_conversation();

  const json s = build(c);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["snapshot_version"], 2);
  EXPECT_EQ(s["conversation"]["id"], "c_test");
  EXPECT_EQ(s["conversation"]["language"], "en");
  EXPECT_EQ(s["conversation"]["channel"], "web");
  EXPECT_EQ(s["conversation"]["metadata"]["page"], "/orders");
  EXPECT_EQ(s["conversation"]["last_seq"], 8);
  EXPECT_EQ(s["history"].size(), 8u);
  EXPECT_TRUE(s["history_trimmed"].is_null());
}

TEST(Snapshot, CarriesTheCustomerProfileAndItsValue) {
  const json s = build(angry_conversation());

  EXPECT_EQ(s["customer"]["name"], "Dana Roe");
  EXPECT_EQ(s["customer"]["tier"], "gold");
  EXPECT_EQ(s["customer_value"]["tier"], "gold");
  EXPECT_EQ(s["customer_value"]["lifetime_value"], 2400);
  ASSERT_TRUE(s["customer_value"]["score"].is_number());
  EXPECT_GT(s["customer_value"]["score"].get<double>(), 0.0);
}

TEST(Snapshot, TriggerTraceNamesTheRuleItsEvidenceAndTheRuleSetVersion) {
  const json s = build(angry_conversation());

  const json& t = s["trigger"];
  EXPECT_EQ(t["source"], "rules");
  EXPECT_EQ(t["rule"], "insult");
  EXPECT_EQ(t["turn_seq"], 8);
  EXPECT_EQ(t["decision"]["action"], "escalate");
  EXPECT_EQ(t["rule_set"]["hash"], testing::product_rules()->version().hash);
  const auto insult = std::find_if(t["fired"].begin(), t["fired"].end(),
                                   [](const json& r) { return r["id"] == "insult"; });
  ASSERT_NE(insult, t["fired"].end()) << t.dump(2);
  ASSERT_FALSE((*insult)["evidence"].empty());
  EXPECT_EQ((*insult)["evidence"][0]["family"], "anger");
}

TEST(Snapshot, SentimentTimelineHasOnePointPerUserTurnEndingInAnger) {
  const json s = build(angry_conversation());

  const json& timeline = s["sentiment_timeline"];
  ASSERT_EQ(timeline.size(), 5u);
  EXPECT_EQ(timeline.front()["seq"], 1);
  EXPECT_EQ(timeline.back()["seq"], 8);
  EXPECT_TRUE(timeline.back()["insult"].get<bool>());
  EXPECT_LT(timeline.back()["score"].get<double>(), 0.0);
  EXPECT_GT(timeline.back()["anger"].get<double>(), timeline[1]["anger"].get<double>());
}

TEST(Snapshot, ConfidenceHistoryMarksTheUnsureBotTurns) {
  const json s = build(angry_conversation());

  const json& history = s["confidence_history"];
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0]["seq"], 3);
  EXPECT_EQ(history[0]["confidence"], 0.9);
  EXPECT_FALSE(history[0]["unsure"].get<bool>());
  EXPECT_EQ(history[1]["confidence"], 0.3);
  EXPECT_TRUE(history[1]["unsure"].get<bool>());
  EXPECT_TRUE(history[2]["fallback"].get<bool>());
  EXPECT_TRUE(history[2]["unsure"].get<bool>());
  EXPECT_TRUE(history[2]["intent"].is_null());
}

TEST(Snapshot, BotActionsKeepTheirStatusAndResult) {
  const json s = build(angry_conversation());

  const json& actions = s["bot_actions"];
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0], (json{{"seq", 3},
                              {"name", "lookup_order"},
                              {"status", "failed"},
                              {"data", {{"error", "carrier timeout"}}}}));
  EXPECT_EQ(actions[1]["name"], "create_ticket");
  EXPECT_EQ(actions[1]["data"]["ticket"], "T-9");
}

TEST(Snapshot, LargeActionDataIsLeftOutAndMarked) {
  ConversationBuilder c;
  c.user("Please look up my invoice number 5521 from March.");
  c.bot("Here it is.", {{"confidence", 0.95}},
        json::array({{{"name", "fetch_invoice"},
                      {"status", "ok"},
                      {"data", {{"pdf", std::string(5000, 'x')}}}}}));

  const json s = build(c);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_TRUE(s["bot_actions"][0]["data"].is_null());
  EXPECT_EQ(s["bot_actions"][0]["data_omitted"], true);
}

TEST(Snapshot, EnglishSummaryGivesConcernWhatTheBotTriedAndOpenQuestions) {
  const json s = build(angry_conversation());

  const json& summary = s["summary"];
  EXPECT_EQ(summary["language"], "en");
  ASSERT_FALSE(summary["main_concern"].empty());
  EXPECT_EQ(summary["main_concern"][0]["seq"], 2);  // "Hi!" is no concern
  EXPECT_EQ(summary["main_concern"][0]["text"],
            "My order 48213 never arrived and I need it for a wedding on Friday.");
  EXPECT_EQ(summary["bot_tried"]["intents"],
            (json::array({{{"intent", "order_status"}, {"turns", 2}}})));
  EXPECT_EQ(summary["bot_tried"]["actions"][0],
            (json{{"name", "lookup_order"}, {"status", "failed"}, {"count", 1}}));
  EXPECT_EQ(summary["bot_tried"]["fallbacks"], 1);
  EXPECT_EQ(summary["bot_tried"]["unsure_answers"], 2);
  std::vector<std::string> open;
  for (const auto& q : summary["open_questions"]) open.push_back(q["text"]);
  EXPECT_EQ(open, (std::vector<std::string>{"Where is my parcel now?",
                                            "Can you refund the shipping costs?"}));
  const std::string text = summary["text"];
  EXPECT_TRUE(text.starts_with("Main concern: My order 48213")) << text;
  EXPECT_NE(text.find("\nThe bot tried: intents order_status (2); actions lookup_order (failed), "
                      "create_ticket (ok); 1 fallbacks; 2 unsure answers\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nOpen questions: Where is my parcel now? | Can you refund"),
            std::string::npos)
      << text;
}

TEST(Snapshot, GermanSummaryIsLabelledInGerman) {
  ConversationBuilder c("de");
  c.user("Hallo");
  c.user("Mein Paket mit der Bestellnummer 77812 ist nicht angekommen.");
  c.bot("Ich prüfe die Sendung.", {{"confidence", 0.85}, {"intent", "sendung_pruefen"}},
        json::array({{{"name", "track_parcel"}, {"status", "not_found"}}}));
  c.user("Wann kommt das Paket endlich?");
  c.bot("Das weiß ich leider nicht genau.", {{"confidence", 0.2}});

  const json s = build(c);

  EXPECT_EQ(schema_errors(s), "");
  const json& summary = s["summary"];
  EXPECT_EQ(summary["language"], "de");
  EXPECT_EQ(summary["main_concern"][0]["text"],
            "Mein Paket mit der Bestellnummer 77812 ist nicht angekommen.");
  ASSERT_EQ(summary["open_questions"].size(), 1u);
  EXPECT_EQ(summary["open_questions"][0]["text"], "Wann kommt das Paket endlich?");
  const std::string text = summary["text"];
  EXPECT_TRUE(text.starts_with("Anliegen: Mein Paket")) << text;
  EXPECT_NE(text.find("\nDer Bot hat versucht: Intents sendung_pruefen; Aktionen track_parcel "
                      "(not_found); 1 unsichere Antworten\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nOffene Fragen: Wann kommt das Paket endlich?"), std::string::npos) << text;
}

TEST(Snapshot, AQuestionFollowedByASureAnswerOrAnAgentIsNotOpen) {
  struct Case {
    const char* what;
    json bot;  // the answer to the question; null: an agent answers
    bool open;
  };
  const Case cases[] = {
      {"sure bot answer", {{"confidence", 0.95}}, false},
      {"bot without a confidence", json::object(), false},
      {"unsure bot answer", {{"confidence", 0.2}}, true},
      {"fallback", {{"fallback", true}}, true},
      {"bot proposes a handover", {{"confidence", 0.9}, {"handover", {{"reason", "x"}}}}, true},
      {"agent answer", nullptr, false},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.what);
    ConversationBuilder c;
    c.user("How long does a refund to my credit card take?");
    if (tc.bot.is_null()) {
      c.agent("About five days.", "ana");
    } else {
      c.bot("Refunds take five working days.", tc.bot);
    }

    const json s = build(c);

    EXPECT_EQ(s["summary"]["open_questions"].size(), tc.open ? 1u : 0u);
  }
}

TEST(Snapshot, AQuestionAtTheEndIsOpenAndEmptyPartsAreSaidSo) {
  ConversationBuilder c;
  c.user("ok");
  c.user("what now");

  const json s = build(c);

  EXPECT_EQ(s["summary"]["open_questions"][0]["text"], "what now");
  EXPECT_TRUE(s["summary"]["main_concern"].empty());
  EXPECT_EQ(s["summary"]["text"],
            "Main concern: none\nThe bot tried: nothing recorded\nOpen questions: what now");
}

TEST(Snapshot, MainConcernAddsTheBestScoringSentencesButNoRepeats) {
  ConversationBuilder c;
  c.user("Hello there, I have a question about my account settings.");
  c.user("Thanks.");
  c.user(
      "I was charged twice for invoice 99812 and I want my money back or I will "
      "contact my lawyer.");
  c.user("I was charged twice for invoice 99812 and want my money back.");

  const json s = build(c);

  const json& concern = s["summary"]["main_concern"];
  ASSERT_EQ(concern.size(), 2u) << concern.dump(2);
  EXPECT_EQ(concern[0]["seq"], 1);
  EXPECT_EQ(concern[1]["seq"], 3);
}

TEST(Snapshot, RolesPassThroughIntoTheHistory) {
  ConversationBuilder c;
  c.user("My router keeps dropping the connection every evening.");
  c.system("Customer was moved to the priority line.");
  c.agent("I will check the line for you.", "ana");

  const json s = build(c);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["history"][1]["role"], "system");
  EXPECT_EQ(s["history"][2]["role"], "agent");
  EXPECT_EQ(s["history"][2]["agent_id"], "ana");
  EXPECT_TRUE(s["sentiment_timeline"].size() == 1u);
  EXPECT_TRUE(s["confidence_history"].empty());
}

TEST(Snapshot, AnApiRequestHasNoRuleSetAndKeepsTheReason) {
  ConversationBuilder c;
  c.user("I would like to talk about a custom contract for my company.");
  SnapshotInput in = c.input();
  in.trigger = TriggerInput{"api", "", "sales lead", json::array()};

  const json s = build_snapshot(in, {});

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_EQ(s["trigger"]["source"], "api");
  EXPECT_EQ(s["trigger"]["reason"], "sales lead");
  EXPECT_TRUE(s["trigger"]["rule"].is_null());
  EXPECT_TRUE(s["trigger"]["rule_set"].is_null());
}

TEST(Snapshot, AConversationWithoutTurnsOrEvaluationsIsStillValid) {
  store::ConversationRecord conversation;
  conversation.id = "c_empty";
  conversation.language = "und";
  SnapshotInput in;
  in.conversation = conversation;
  in.trigger = TriggerInput{"api", "", "requested", json::array()};

  const json s = build_snapshot(in, {});

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_TRUE(s["history"].empty());
  EXPECT_EQ(s["summary"]["language"], "en");
}

TEST(Snapshot, UnreadableStoredJsonIsLeftOut) {
  ConversationBuilder c;
  c.user("Why was my card declined at checkout today?");
  c.turns().back().evaluation_json = "{not json";
  c.bot("Let me see.", {{"confidence", 0.9}});
  c.turns().back().bot_json = "[1,2]";
  c.turns().back().actions_json = "{\"name\":\"x\"}";

  const json s = build(c);

  EXPECT_EQ(schema_errors(s), "");
  EXPECT_TRUE(s["sentiment_timeline"].empty());
  EXPECT_TRUE(s["confidence_history"][0]["confidence"].is_null());
  EXPECT_TRUE(s["bot_actions"].empty());
}

}  // namespace
}  // namespace handover::snapshot
