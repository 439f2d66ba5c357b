#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "handover/replay/corpus.hpp"
#include "handover/replay/replayer.hpp"
#include "handover/replay/sweep.hpp"
#include "handover/triggers/rule_set.hpp"

namespace handover::replay {
namespace {

std::filesystem::path source_dir() { return HANDOVER_SOURCE_DIR; }

std::shared_ptr<const triggers::RuleSet> rules_from(const std::filesystem::path& path) {
  auto loaded = triggers::load_rule_set(path, 0);
  EXPECT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  return loaded.is_ok() ? *loaded : nullptr;
}

std::shared_ptr<const triggers::RuleSet> product_rules() {
  static const auto rules = rules_from(source_dir() / "config" / "triggers.yaml");
  return rules;
}

// A small labelled corpus with known answers under the product rules.
constexpr const char* kCorpus =
    R"({"id":"ask","turns":[{"role":"user","text":"Hello"},{"role":"bot","text":"Hi!"},)"
    R"({"role":"user","text":"I want to talk to a real person"}],"labels":{"needs_human":true,)"
    R"("needs_human_turn":3}})"
    "\n"
    R"({"id":"lawyer","turns":[{"role":"user","text":"My lawyer will sue you in court."},)"
    R"({"role":"bot","text":"I see."},{"role":"user","text":"So?"}],)"
    R"("labels":{"needs_human":true,"needs_human_turn":3}})"
    "\n"
    R"({"id":"fine","turns":[{"role":"user","text":"What are your opening hours?"},)"
    R"({"role":"bot","text":"9 to 5.","bot":{"confidence":0.95}},)"
    R"({"role":"user","text":"Great, thanks!"}],"labels":{"needs_human":false}})"
    "\n"
    R"({"id":"missed","turns":[{"role":"user","text":"The parcel is late."},)"
    R"({"role":"bot","text":"It arrives tomorrow.","bot":{"confidence":0.9}},)"
    R"({"role":"user","text":"ok","needs_human":true}]})"
    "\n"
    R"({"id":"struggle","turns":[{"role":"user","text":"My invoice"},)"
    R"({"role":"bot","text":"Sorry?","bot":{"confidence":0.2,"fallback":true}},)"
    R"({"role":"user","text":"The invoice amount"},)"
    R"({"role":"bot","text":"Sorry?","bot":{"confidence":0.2,"fallback":true}},)"
    R"({"role":"user","text":"Amount on the invoice"},)"
    R"({"role":"bot","text":"Sorry?","bot":{"confidence":0.2,"fallback":true}}]})"
    "\n";

std::vector<ReplayConversation> read_all(const std::string& text, std::vector<LineError>* errors,
                                         const CorpusOptions& options = {}) {
  std::istringstream in(text);
  std::vector<ReplayConversation> out;
  read_corpus(
      in, options, [&](ReplayConversation&& c) { out.push_back(std::move(c)); },
      [&](const LineError& e) {
        if (errors) errors->push_back(e);
      });
  return out;
}

std::map<std::string, Outcome> replay_all(const std::vector<ReplayConversation>& corpus,
                                          std::shared_ptr<const triggers::RuleSet> rules,
                                          Summary* summary = nullptr) {
  const Replayer replayer(std::move(rules));
  std::map<std::string, Outcome> out;
  for (const auto& c : corpus) {
    Outcome o = replayer.run(c);
    if (summary) summary->add(o);
    out[o.id] = std::move(o);
  }
  return out;
}

TEST(Corpus, ReadsTurnsBotMetadataAndLabels) {
  const auto corpus = read_all(kCorpus, nullptr);

  ASSERT_EQ(corpus.size(), 5U);
  EXPECT_EQ(corpus[0].id, "ask");
  EXPECT_EQ(corpus[0].line, 1U);
  ASSERT_EQ(corpus[0].turns.size(), 3U);
  EXPECT_EQ(corpus[0].turns[2].role, "user");
  ASSERT_TRUE(corpus[0].label.has_value());
  EXPECT_EQ(corpus[0].label->turn, 3);
  EXPECT_EQ(corpus[2].turns[1].bot_confidence, 0.95);
  EXPECT_FALSE(corpus[2].label->needs_human);
  ASSERT_TRUE(corpus[3].label.has_value());  // from the turn's needs_human mark
  EXPECT_EQ(corpus[3].label->turn, 3);
  EXPECT_FALSE(corpus[4].label.has_value());
  EXPECT_TRUE(corpus[4].turns[1].bot_fallback);
}

TEST(Corpus, ReportsBadLinesWithTheirNumberAndKeepsTheRest) {
  const std::string huge(2000, 'x');
  const std::string text =
      R"({"id":"a","turns":[{"role":"user","text":"hi"}]})"
      "\n"
      R"({"id":"b","turns":[{"role":"user","text":"broken"})"
      "\n\n"
      R"({"id":"c","turns":[{"role":"customer","text":"hi"}]})"
      "\n"
      R"({"id":"d","turns":[{"role":"user","text":")" +
      huge + R"("}]})" + "\n" +
      R"({"id":"e","turns":[{"role":"bot","text":"x","bot":{"confidence":3}}]})" + "\n" +
      R"({"id":"f","turns":"none"})" + "\n" + R"([1,2])" + "\n" +
      R"({"id":"g","turns":[{"role":"user","text":"last"}]})";
  CorpusOptions options;
  options.max_line_bytes = 1000;
  std::vector<LineError> errors;

  const auto corpus = read_all(text, &errors, options);

  ASSERT_EQ(corpus.size(), 2U);
  EXPECT_EQ(corpus[0].id, "a");
  EXPECT_EQ(corpus[1].id, "g");
  EXPECT_EQ(corpus[1].line, 9U);
  ASSERT_EQ(errors.size(), 6U);
  const std::pair<std::size_t, const char*> expected[] = {
      {2, "not valid JSON"},
      {4, "/turns/0/role: unknown role 'customer'"},
      {5, "longer than 1000"},
      {6, "/turns/0/bot/confidence"},
      {7, "/turns: expected an array"},
      {8, "expected a JSON object"}};
  for (std::size_t i = 0; i < errors.size(); ++i) {
    SCOPED_TRACE(errors[i].message);
    EXPECT_EQ(errors[i].line, expected[i].first);
    EXPECT_NE(errors[i].message.find(expected[i].second), std::string::npos);
  }
}

TEST(Corpus, MapsActsAgentsAndTierLabelsWhenAsked) {
  const std::string line =
      R"({"id":"x","turns":[{"role":"agent","text":"Hi"},)"
      R"({"role":"agent","text":"Account pulled up","action":true},)"
      R"({"role":"bot","text":"I could not book it","acts":["NOTIFY_FAILURE"]}],)"
      R"("labels":{"member_level":"gold"}})";
  CorpusOptions options;
  options.agent_as_bot = true;
  options.label_act = "NOTIFY_FAILURE";
  options.tier_label = "member_level";

  auto parsed = parse_conversation(line, 1, options);
  auto other = parse_conversation(R"({"turns":[{"role":"user","text":"hi"}]})", 7, options);

  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_EQ(parsed->turns[0].role, "bot");
  EXPECT_EQ(parsed->turns[1].role, "system");
  EXPECT_EQ(parsed->customer_tier, "gold");
  ASSERT_TRUE(parsed->label.has_value());
  EXPECT_EQ(parsed->label->turn, 3);
  ASSERT_TRUE(other.is_ok());
  EXPECT_EQ(other->id, "line-7");
  ASSERT_TRUE(other->label.has_value());
  EXPECT_FALSE(other->label->needs_human);
}

TEST(Corpus, ReadsLabelFilesKeyedById) {
  std::istringstream in(
      "{\"id\":\"a\",\"needs_human\":true,\"turn\":4}\n{\"id\":\"b\"}\n"
      "{\"id\":\"c\",\"needs_human\":false}\n");
  std::vector<LineError> errors;

  const auto labels = read_labels(in, [&](const LineError& e) { errors.push_back(e); });

  ASSERT_EQ(labels.size(), 2U);
  EXPECT_EQ(labels.at("a").turn, 4);
  EXPECT_FALSE(labels.at("c").needs_human);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].line, 2U);
}

TEST(Replayer, EscalatesAtTheKnownTurnsWithTheProductRules) {
  const auto corpus = read_all(kCorpus, nullptr);

  const auto outcomes = replay_all(corpus, product_rules());

  struct Expected {
    const char* id;
    int turn;
    const char* rule;
  };
  const Expected expected[] = {{"ask", 3, "explicit-request"},
                               {"lawyer", 1, "legal-threat"},
                               {"fine", 0, ""},
                               {"missed", 0, ""},
                               {"struggle", 6, "bot-lost"}};
  for (const auto& e : expected) {
    SCOPED_TRACE(e.id);
    const Outcome& o = outcomes.at(e.id);
    EXPECT_EQ(o.escalated_turn, e.turn);
    EXPECT_EQ(o.escalated_rule, e.rule);
  }
  EXPECT_EQ(outcomes.at("struggle").first_suggest_turn, 4);
  EXPECT_EQ(outcomes.at("struggle").first_suggest_rule, "bot-struggling");
}

TEST(Replayer, StopsAtTheEscalation) {
  const auto corpus = read_all(
      R"({"id":"x","turns":[{"role":"user","text":"agent please"},{"role":"bot","text":"ok"},)"
      R"({"role":"user","text":"hello?"}]})",
      nullptr);

  const auto outcomes = replay_all(corpus, product_rules());

  EXPECT_EQ(outcomes.at("x").escalated_turn, 1);
  EXPECT_EQ(outcomes.at("x").turns, 1U);
}

TEST(Summary, MeasuresPrecisionRecallAndTiming) {
  const auto corpus = read_all(kCorpus, nullptr);
  Summary summary;

  replay_all(corpus, product_rules(), &summary);

  EXPECT_EQ(summary.conversations(), 5U);
  EXPECT_EQ(summary.escalated(), 3U);
  EXPECT_DOUBLE_EQ(summary.handover_rate(), 0.6);
  EXPECT_EQ(summary.escalations_by_rule().at("bot-lost"), 1U);
  EXPECT_EQ(summary.escalations_by_turn().at(1), 1U);
  // Labelled: ask (tp), lawyer (tp), fine (tn), missed (fn); struggle is unlabelled.
  const Confusion& c = summary.confusion();
  EXPECT_EQ(c.tp, 2U);
  EXPECT_EQ(c.fp, 0U);
  EXPECT_EQ(c.fn, 1U);
  EXPECT_EQ(c.tn, 1U);
  EXPECT_DOUBLE_EQ(c.precision(), 1.0);
  EXPECT_DOUBLE_EQ(c.recall(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.f1(), 0.8);
  // ask on its labelled turn; lawyer two turns before its labelled turn 3.
  EXPECT_EQ(summary.timing().on_time, 1U);
  EXPECT_EQ(summary.timing().early, 1U);
  EXPECT_EQ(summary.timing().late, 0U);
  EXPECT_DOUBLE_EQ(summary.timing().mean(), -1.0);
}

TEST(Summary, CountsSuggestionsAsHandoversWhenAsked) {
  const auto corpus = read_all(kCorpus, nullptr);
  Summary with(true), without(false);

  replay_all(corpus, product_rules(), &with);
  replay_all(corpus, product_rules(), &without);

  EXPECT_EQ(with.suggested(), 1U);
  EXPECT_DOUBLE_EQ(with.handover_rate(), without.handover_rate());  // struggle escalates too
  EXPECT_EQ(with.confusion().tp, without.confusion().tp);
}

TEST(Compare, ListsTheConversationsWhoseOutcomeChanges) {
  const auto corpus = read_all(kCorpus, nullptr);
  const auto eager = rules_from(source_dir() / "examples" / "triggers-eager.yaml");

  const auto before = replay_all(corpus, product_rules());
  const auto after = replay_all(corpus, eager);

  std::vector<Change> changes;
  for (const auto& [id, outcome] : before) {
    if (auto change = compare_outcomes(outcome, after.at(id))) changes.push_back(*change);
  }
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].before.id, "struggle");
  EXPECT_EQ(changes[0].kind, "earlier");
  EXPECT_EQ(changes[0].after.escalated_turn, 4);
  EXPECT_EQ(changes[0].after.escalated_rule, "bot-struggling");
}

TEST(Compare, NamesEveryKindOfChange) {
  Outcome none, at3, at5, other3;
  at3.escalated_turn = 3;
  at3.escalated_rule = "a";
  at5.escalated_turn = 5;
  at5.escalated_rule = "a";
  other3.escalated_turn = 3;
  other3.escalated_rule = "b";

  EXPECT_FALSE(compare_outcomes(at3, at3).has_value());
  EXPECT_EQ(compare_outcomes(none, at3)->kind, "now_escalates");
  EXPECT_EQ(compare_outcomes(at3, none)->kind, "no_longer_escalates");
  EXPECT_EQ(compare_outcomes(at5, at3)->kind, "earlier");
  EXPECT_EQ(compare_outcomes(at3, at5)->kind, "later");
  EXPECT_EQ(compare_outcomes(at3, other3)->kind, "other_rule");
}

TEST(Sweep, ParsesSpecsAndRefusesBadOnes) {
  auto spec = parse_sweep_spec("angry-conversation.sentiment.mean=-0.8:-0.2:0.2");

  ASSERT_TRUE(spec.is_ok());
  EXPECT_EQ(spec->target, "angry-conversation");
  EXPECT_EQ(spec->field, "sentiment.mean");
  const auto values = spec->values();
  ASSERT_EQ(values.size(), 4U);
  EXPECT_NEAR(values[3], -0.2, 1e-12);
  for (const char* bad : {"angry=1:2:1", "x.y=1:2", "x.y=1:2:0", "x.y=2:1:1", "x.y=a:2:1",
                          "x.y=0:1000:1", ".y=1:2:1"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_sweep_spec(bad).is_ok());
  }
}

TEST(Sweep, ReplacesOnlyTheNamedThreshold) {
  const std::string content =
      "settings:\n  low_confidence: 0.5   # note\nrules:\n"
      "  - id: a\n    when: 'sentiment.mean <= -0.5 and turns.user >= 2'  # keep\n"
      "  - id: b\n    when: sentiment.mean <= -0.5\n";
  SweepSpec rule{"a", "sentiment.mean", 0, 0, 0};
  SweepSpec setting{"settings", "low_confidence", 0, 0, 0};
  SweepSpec missing{"a", "anger.score", 0, 0, 0};

  auto edited = apply_threshold(content, rule, -0.25);
  auto edited_setting = apply_threshold(content, setting, 0.3);

  ASSERT_TRUE(edited.is_ok()) << edited.status().message();
  EXPECT_NE(edited->find("'sentiment.mean <= -0.25 and turns.user >= 2'  # keep"),
            std::string::npos);
  EXPECT_NE(edited->find("when: sentiment.mean <= -0.5\n"), std::string::npos);  // rule b
  ASSERT_TRUE(edited_setting.is_ok());
  EXPECT_NE(edited_setting->find("low_confidence: 0.3   # note"), std::string::npos);
  EXPECT_FALSE(apply_threshold(content, missing, 1).is_ok());
  EXPECT_FALSE(apply_threshold(content, SweepSpec{"zzz", "x", 0, 0, 0}, 1).is_ok());
}

TEST(Sweep, EditsARulesFileThatStartsWithAByteOrderMark) {
  const std::string bom = "\xEF\xBB\xBF";
  const std::string content = bom +
                              "settings:\n  low_confidence: 0.5\nrules:\n"
                              "  - id: a\n    when: sentiment.mean <= -0.5\n";
  SweepSpec rule{"a", "sentiment.mean", 0, 0, 0};
  SweepSpec setting{"settings", "low_confidence", 0, 0, 0};

  auto edited = apply_threshold(content, rule, -0.25);
  auto edited_setting = apply_threshold(content, setting, 0.3);

  ASSERT_TRUE(edited.is_ok()) << edited.status().message();
  EXPECT_EQ(*edited, bom +
                         "settings:\n  low_confidence: 0.5\nrules:\n"
                         "  - id: a\n    when: sentiment.mean <= -0.25\n");
  ASSERT_TRUE(edited_setting.is_ok()) << edited_setting.status().message();
  EXPECT_EQ(*edited_setting, bom +
                                 "settings:\n  low_confidence: 0.3\nrules:\n"
                                 "  - id: a\n    when: sentiment.mean <= -0.5\n");
}

TEST(Sweep, LowerThresholdsHandOverMoreAngryConversations) {
  std::ifstream in(source_dir() / "examples" / "conversations.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  const auto corpus = read_all(text.str(), nullptr);
  std::ifstream rules_in(source_dir() / "config" / "triggers.yaml");
  std::stringstream rules_text;
  rules_text << rules_in.rdbuf();
  const SweepSpec spec{"angry-conversation", "sentiment.mean", -0.9, -0.1, 0.4};

  std::vector<std::size_t> escalated;
  for (double value : spec.values()) {
    auto content = apply_threshold(rules_text.str(), spec, value);
    ASSERT_TRUE(content.is_ok());
    auto rules =
        triggers::load_rule_set_text(source_dir() / "config" / "triggers.yaml", *content, 0);
    ASSERT_TRUE(rules.is_ok()) << rules.status().message();
    Summary summary;
    replay_all(corpus, *rules, &summary);
    escalated.push_back(summary.escalated());
  }

  ASSERT_EQ(escalated.size(), 3U);
  EXPECT_LE(escalated[0], escalated[1]);
  EXPECT_LE(escalated[1], escalated[2]);
  EXPECT_LT(escalated[0], escalated[2]);
}

TEST(Sweep, DrawsOneLinePerSeriesAndATableInHtml) {
  const SweepSpec spec{"r", "x", 0, 1, 0.5};
  const std::vector<SweepPoint> labelled = {
      {0, 1, 0.1, 0.5, 0.2, 0.3}, {0.5, 2, 0.2, 0.6, 0.4, 0.5}, {1, 3, 0.3, 0.7, 0.6, 0.65}};
  const std::vector<SweepPoint> unlabelled = {{0, 1, 0.1, {}, {}, {}}, {1, 2, 0.2, {}, {}, {}}};

  const std::string svg = sweep_svg(spec, labelled);
  const std::string bare = sweep_svg(spec, unlabelled);
  const std::string html = sweep_html(spec, labelled);

  const auto count = [](const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(svg, "<path "), 3U);
  EXPECT_EQ(count(bare, "<path "), 1U);
  EXPECT_EQ(count(html, "<tr>"), 4U);
  EXPECT_NE(html.find("<td>0.5</td><td>2</td><td>20.0%</td>"), std::string::npos);
}

}  // namespace
}  // namespace handover::replay
