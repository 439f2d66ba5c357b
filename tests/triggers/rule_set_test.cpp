// Loading the rules file: the product file, and every kind of error with its location.
#include "handover/triggers/rule_set.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "trigger_test_support.hpp"

namespace handover::triggers {
namespace {

using testing::kOneRule;
using testing::lexicon_dir;
using testing::rules_file;
using testing::TempDir;

TEST(RuleSet, LoadsTheProductRules) {
  const auto rules = testing::product_rules();

  ASSERT_NE(rules, nullptr);
  EXPECT_GE(rules->rules().size(), 20U);
  EXPECT_EQ(rules->version().hash.size(), 16U);
  EXPECT_TRUE(check_rules_file(testing::source_dir() / "config" / "triggers.yaml").is_ok());
}

TEST(RuleSet, SameContentGivesTheSameHash) {
  TempDir dir;
  dir.write("a.yaml", rules_file(kOneRule));
  dir.write("b.yaml", rules_file(kOneRule));
  dir.write("c.yaml", rules_file(std::string(kOneRule) + "    cooldown: 30s\n"));

  auto a = load_rule_set(dir.path() / "a.yaml", 1);
  auto b = load_rule_set(dir.path() / "b.yaml", 2);
  auto c = load_rule_set(dir.path() / "c.yaml", 3);

  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  EXPECT_EQ(a.value()->version().hash, b.value()->version().hash);
  EXPECT_NE(a.value()->version().hash, c.value()->version().hash);
  EXPECT_EQ(c.value()->rules()[0].cooldown_ms, 30'000);
  EXPECT_EQ(b.value()->version().loaded_at_ms, 2);
}

TEST(RuleSet, LoadsRulesFromTextWithLexiconsBesideTheNamedPath) {
  TempDir dir;
  const std::string content = rules_file(kOneRule);
  dir.write("a.yaml", content);

  auto from_file = load_rule_set(dir.path() / "a.yaml", 1);
  auto from_text = load_rule_set_text(dir.path() / "a.yaml", content, 1);
  auto broken = load_rule_set_text(dir.path() / "a.yaml", content + "  - id: [\n", 1);

  ASSERT_TRUE(from_file.is_ok() && from_text.is_ok());
  EXPECT_EQ(from_text.value()->version().hash, from_file.value()->version().hash);
  EXPECT_EQ(from_text.value()->rules().size(), 1U);
  ASSERT_FALSE(broken.is_ok());
  EXPECT_NE(broken.status().message().find("a.yaml:"), std::string::npos);
}

struct ErrorCase {
  std::string_view name;
  std::string content;
  std::string_view expected;  // "line:column: message part" or a message part
};

TEST(RuleSet, ReportsErrorsWithRuleIdAndLocation) {
  const std::string rule_prefix = "  - id: r1\n    action: suggest\n";
  const ErrorCase cases[] = {
      {"unknown field", rules_file(rule_prefix + "    when: sentiment.maen < 0\n"),
       ":9:11: rule 'r1': unknown field 'sentiment.maen'"},
      {"quoted when", rules_file(rule_prefix + "    when: 'turns.user >= \"2\"'\n"),
       ":9:23: rule 'r1': cannot compare a number with a string"},
      {"duplicate rule id", rules_file(std::string(kOneRule) + std::string(kOneRule)),
       ":13:5: rule 'request': duplicate rule id (first defined at"},
      {"duplicate yaml key",
       rules_file(rule_prefix + "    when: request.human\n    when: anger.insult\n"),
       ":10:5: rule 'r1': duplicate key 'when'"},
      {"unknown rule key", rules_file(rule_prefix + "    when: request.human\n    queu: x\n"),
       ":10:5: rule 'r1': unknown key 'queu'"},
      {"bad action", rules_file("  - id: r1\n    action: page\n    when: request.human\n"),
       ":8:13: rule 'r1': action must be escalate or suggest"},
      {"bad mode", rules_file(rule_prefix + "    when: request.human\n    mode: dark\n"),
       "rule 'r1': mode must be active or shadow"},
      {"bad cooldown", rules_file(rule_prefix + "    when: request.human\n    cooldown: soon\n"),
       "rule 'r1': cooldown must be"},
      {"endless cooldown",
       rules_file(rule_prefix + "    when: request.human\n    cooldown: 9999999999999h\n"),
       ":10:15: rule 'r1': cooldown must be at most 366 days"},
      {"threshold above one",
       "version: 1\nlexicons:\n  directory: " + lexicon_dir().string() +
           "\n  languages: [en, de]\n  emoji: emoji_utf8_lexicon.txt\n"
           "settings:\n  low_confidence: 5\nrules: []\n",
       ":7:19: settings.low_confidence must be from 0 to 1"},
      {"threshold not a number",
       "version: 1\nlexicons:\n  directory: " + lexicon_dir().string() +
           "\n  languages: [en, de]\n  emoji: emoji_utf8_lexicon.txt\n"
           "settings:\n  near_duplicate: .nan\nrules: []\n",
       "settings.near_duplicate must be from 0 to 1"},
      {"id not UTF-8",
       rules_file("  - id: \"ins\xc3ult\"\n    action: suggest\n    when: request.human\n"),
       ":7:9: a rule id must be valid UTF-8"},
      {"description not UTF-8",
       rules_file(rule_prefix + "    when: request.human\n    description: \"\xff\xfe\"\n"),
       "rule 'r1': description is not valid UTF-8"},
      {"negative word count",
       "version: 1\nlexicons:\n  directory: " + lexicon_dir().string() +
           "\n  languages: [en, de]\n  emoji: emoji_utf8_lexicon.txt\n"
           "settings:\n  answer_words: -3\nrules: []\n",
       "settings.answer_words must be from 0 to 1000"},
      {"missing when", rules_file(rule_prefix), "rule 'r1': when is required"},
      {"fractional priority",
       rules_file(rule_prefix + "    when: request.human\n    priority: 1.5\n"),
       ":10:15: rule 'r1': priority must be a whole number"},
      {"missing id", rules_file("  - action: suggest\n    when: request.human\n"),
       "id is required"},
      {"invalid yaml", "version: 1\nrules: [\n", "invalid YAML"},
      {"wrong version", "version: 2\n", ":1:10: unsupported version 2"},
      {"unknown top key", rules_file(kOneRule) + "extra: 1\n", "unknown key 'extra'"},
      {"missing lexicons",
       "version: 1\nlexicons:\n  directory: /nonexistent\n  languages: [en]\nrules: []\n",
       "cannot read the sentiment lexicon"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    dir.write("triggers.yaml", c.content);

    auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);
    const Status checked = check_rules_file(dir.path() / "triggers.yaml");

    ASSERT_FALSE(loaded.is_ok());
    EXPECT_NE(loaded.status().message().find(c.expected), std::string::npos)
        << loaded.status().message();
    EXPECT_EQ(checked.message(), loaded.status().message());
  }
}

// A misspelt [category] would load as a category no signal reads and quietly switch its
// cues off.
TEST(RuleSet, AnUnknownCueCategoryFailsTheLoad) {
  TempDir dir;
  std::filesystem::copy(lexicon_dir(), dir.path() / "lexicons",
                        std::filesystem::copy_options::recursive);
  std::ofstream(dir.path() / "lexicons" / "en" / "cues.txt", std::ios::app)
      << "\n[request_phrases]\nget me a person\n[topic.returns]\nrefund label\n";
  dir.write("triggers.yaml", "version: 1\nlexicons:\n  directory: " +
                                 (dir.path() / "lexicons").string() +
                                 "\n  languages: [en, de]\nrules: []\n");

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  const std::string& message = loaded.status().message();
  EXPECT_NE(message.find("cues.txt:"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown category [request_phrases]"), std::string::npos) << message;
  EXPECT_EQ(message.find("topic.returns"), std::string::npos) << message;  // topics are free
}

TEST(RuleSet, ACueLineThatIsNotUtf8FailsTheLoad) {
  TempDir dir;
  std::filesystem::copy(lexicon_dir(), dir.path() / "lexicons",
                        std::filesystem::copy_options::recursive);
  std::ofstream(dir.path() / "lexicons" / "en" / "cues.txt", std::ios::app | std::ios::binary)
      << "\n[insult]\n" << std::string("\xff\xfe\0bad", 6) << "\n";
  dir.write("triggers.yaml", "version: 1\nlexicons:\n  directory: " +
                                 (dir.path() / "lexicons").string() +
                                 "\n  languages: [en, de]\nrules: []\n");

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("not UTF-8 text"), std::string::npos)
      << loaded.status().message();
}

TEST(RuleSet, MissingFileIsNotFound) {
  auto loaded = load_rule_set("/nonexistent/triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

TEST(RuleSet, ReportsEveryErrorAtOnce) {
  TempDir dir;
  dir.write("triggers.yaml", rules_file("  - id: a\n    action: suggest\n    when: foo\n"
                                        "  - id: b\n    action: suggest\n    when: bar\n"));

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("rule 'a'"), std::string::npos);
  EXPECT_NE(loaded.status().message().find("rule 'b'"), std::string::npos);
}

}  // namespace
}  // namespace handover::triggers
