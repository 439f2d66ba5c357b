#include "stored_evaluation.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "snapshot_test_support.hpp"

namespace handover::snapshot {
namespace {

using nlohmann::json;

// What the reader must return for a well-formed evaluation: the same members picked from the
// whole parsed document.
json expected_from(const json& whole) {
  json out = json::object();
  if (whole.contains("evidence")) out["evidence"] = whole["evidence"];
  if (whole.contains("signals")) {
    const json& signals = whole["signals"];
    if (!signals.is_object()) {
      out["signals"] = signals;
      return out;
    }
    out["signals"] = json::object();
    for (const char* family : {"sentiment", "anger", "uncertainty", "value"}) {
      if (signals.contains(family)) out["signals"][family] = signals[family];
    }
  }
  return out;
}

TEST(StoredEvaluationTest, KeepsTheSignalFamiliesAndEvidenceOfEngineEvaluations) {
  testing::ConversationBuilder chat("de");
  chat.user("Hallo, meine Bestellung 48213 ist nie angekommen \"sofort\" {bitte} [jetzt]");
  chat.bot("Das tut mir leid.", json{{"confidence", 0.31}, {"intent", "order_status"}});
  chat.user("Das ist eine Frechheit!!! Ich will sofort einen Menschen sprechen, Sie Idioten");
  chat.bot("Ich bin mir nicht sicher.", json{{"confidence", 0.2}, {"fallback", true}});
  chat.user("I want to cancel my subscription and get a refund of 450 EUR, this is useless 😡");
  int with_evidence = 0;
  for (const auto& turn : chat.turns()) {
    ASSERT_FALSE(turn.evaluation_json.empty());
    const json whole = json::parse(turn.evaluation_json);
    ASSERT_TRUE(whole["signals"].contains("anger")) << turn.evaluation_json;
    ASSERT_TRUE(whole["signals"].contains("complexity")) << turn.evaluation_json;
    const json read = read_stored_evaluation(turn.evaluation_json);
    EXPECT_EQ(read, expected_from(whole)) << turn.evaluation_json;
    EXPECT_FALSE(read["signals"].contains("complexity"));
    EXPECT_FALSE(read.contains("decision"));
    // The same document with whitespace between every token reads the same.
    EXPECT_EQ(read_stored_evaluation(whole.dump(2)), read);
    if (!read["evidence"].empty()) ++with_evidence;
  }
  EXPECT_GT(with_evidence, 0) << "the sample turns should leave evidence to compare";
}

TEST(StoredEvaluationTest, SkipsStringsHoldingBracketsQuotesAndEscapes) {
  const std::string text =
      R"({"fired":[{"rule":"a}b","why":"say \"]\" or \\","n":[1,[2,{"x":"{"}]]}],)"
      R"("signals":{"complexity":{"note":"}}}"},"anger":{"score":0.5,"insult":true},)"
      R"("sentiment":{"score":-0.25,"scored":true}},"evidence":[{"text":"a \u00e4 \"b\""}],)"
      R"("decision":{"action":"escalate"}})";
  const json read = read_stored_evaluation(text);
  EXPECT_EQ(read, expected_from(json::parse(text)));
  EXPECT_EQ(read["signals"]["anger"]["score"], 0.5);
  EXPECT_EQ(read["evidence"][0]["text"], "a ä \"b\"");
}

TEST(StoredEvaluationTest, MissingMembersAreLeftOut) {
  EXPECT_EQ(read_stored_evaluation("{}"), json::object());
  EXPECT_EQ(read_stored_evaluation(R"({"signals":{}})"), (json{{"signals", json::object()}}));
  EXPECT_EQ(read_stored_evaluation(R"({"decision":{"action":"none"},"n":-1.5e3,"b":null})"),
            json::object());
  EXPECT_EQ(read_stored_evaluation(R"({"signals":{"anger":{"score":1}}})"),
            (json{{"signals", {{"anger", {{"score", 1}}}}}}));
}

TEST(StoredEvaluationTest, EmptyOrMalformedTextReadsAsNull) {
  for (const char* text : {"", "[]", "3", "\"x\"", "null", "{", "{\"signals\":", "{\"a\":1",
                           "{\"a\":1}}", "{\"a\" 1}", "{\"a\":[1,2}", "{\"a\":\"open}",
                           "{\"evidence\":[1,}", "{\"signals\":{\"anger\":{\"score\":}}}",
                           "{\"a\":1,}", "{\"a\":}", "{\"a\":1} x"}) {
    EXPECT_TRUE(read_stored_evaluation(text).is_null()) << text;
  }
}

}  // namespace
}  // namespace handover::snapshot
