// Loading the rules file: the product file, and every kind of error with its location.
#include "handover/triggers/rule_set.hpp"

#include <sys/stat.h>

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
      {"priority too large",
       rules_file(rule_prefix + "    when: request.human\n    priority: 2147483648\n"),
       ":10:15: rule 'r1': priority must be a whole number from -2147483648 to 2147483647"},
      {"priority a fraction",
       rules_file(rule_prefix + "    when: request.human\n    priority: 1.5\n"),
       "rule 'r1': priority must be a whole number"},
      {"second document", rules_file(rule_prefix + "    when: request.human\n---\nrules: []\n"),
       "only one YAML document is allowed"},
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
      {"skill not a skill name",
       rules_file(std::string(kOneRule) + "    skills: [senior, Tier2]\n"),
       ":13:22: rule 'request': expected a skill name: a-z, 0-9, '_', '-', '.' (at most 64), "
       "not 'Tier2'"},
      {"missing queue", rules_file(rule_prefix + "    when: request.human\n"),
       ":7:5: rule 'r1': queue is required"},
      {"empty queue", rules_file(rule_prefix + "    when: request.human\n    queue: \"\"\n"),
       ":10:12: rule 'r1': queue must not be empty"},
      {"missing when with its rule's position",
       rules_file(rule_prefix + "    queue: general\n"), ":7:5: rule 'r1': when is required"},
      {"lexer error said once",
       rules_file(rule_prefix + "    when: request.human & anger.insult\n"),
       ":9:25: rule 'r1': unexpected character '&'"},
      {"unclosed parenthesis at its own column",
       rules_file(rule_prefix + "    when: request.human or (turns.user > 2\n"),
       ":9:28: rule 'r1': expected ')' to close this '('"},
      {"error in a literal block",
       rules_file(rule_prefix + "    when: |\n      request.human or\n      turns.usr > 2\n"),
       ":11:7: rule 'r1': unknown field 'turns.usr'"},
      {"unknown language at its name",
       "version: 1\nlexicons:\n  directory: " + lexicon_dir().string() +
           "\n  languages: [en, xx]\n  emoji: emoji_utf8_lexicon.txt\nrules: []\n",
       ":4:19: unknown language 'xx': no lexicon directory"},
      {"expression too long",
       rules_file(rule_prefix + "    when: request.human" + [] {
         std::string chain;
         for (int i = 0; i < 1'000; ++i) chain += " and request.human";
         return chain;
       }() + "\n"),
       "rule 'r1': expression too long"},
      {"missing lexicons",
       "version: 1\nlexicons:\n  directory: /nonexistent\n  languages: [en]\nrules: []\n",
       "lexicons.directory: /nonexistent is not a directory"},
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

TEST(RuleSet, ACueSectionHeaderWithoutItsBracketFailsTheLoad) {
  TempDir dir;
  std::filesystem::copy(lexicon_dir(), dir.path() / "lexicons",
                        std::filesystem::copy_options::recursive);
  std::ofstream(dir.path() / "lexicons" / "de" / "cues.txt", std::ios::app)
      << "\n[insult\ntrottel\n";
  dir.write("triggers.yaml", "version: 1\nlexicons:\n  directory: " +
                                 (dir.path() / "lexicons").string() +
                                 "\n  languages: [en, de]\nrules: []\n");

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  const std::string& message = loaded.status().message();
  EXPECT_NE(message.find("de/cues.txt:"), std::string::npos) << message;
  EXPECT_NE(message.find("expected a section header '[category]', got '[insult'"),
            std::string::npos)
      << message;
}

TEST(RuleSet, ErrorsQuotingLatin1BytesAreValidUtf8) {
  TempDir dir;
  dir.write("triggers.yaml", "versi\xf6n: 1\n" + rules_file(kOneRule).substr(11));

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("unknown key 'versi\\xf6n'"), std::string::npos)
      << loaded.status().message();
}

TEST(RuleSet, IgnoresAByteOrderMark) {
  TempDir dir;
  dir.write("triggers.yaml", "\xEF\xBB\xBF" + rules_file(kOneRule));
  dir.write("bad.yaml", "\xEF\xBB\xBF" + rules_file("  - id: r1\n    when: nope\n"));

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);
  auto bad = load_rule_set(dir.path() / "bad.yaml", 0);

  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(loaded.value()->rules().size(), 1U);
  ASSERT_FALSE(bad.is_ok());
  // Positions on the first lines count from after the mark, as an editor shows them.
  EXPECT_NE(bad.status().message().find(":8:11: rule 'r1': unknown field 'nope'"),
            std::string::npos)
      << bad.status().message();
}

TEST(RuleSet, RefusesAFifoAndAFileAboveTheSizeLimit) {
  TempDir dir;
  ASSERT_EQ(mkfifo((dir.path() / "fifo.yaml").c_str(), 0600), 0);
  dir.write("big.yaml", rules_file(kOneRule) + "# " + std::string(kMaxRulesFileBytes, 'x'));

  auto fifo = load_rule_set(dir.path() / "fifo.yaml", 0);
  auto big = load_rule_set(dir.path() / "big.yaml", 0);

  ASSERT_FALSE(fifo.is_ok());
  EXPECT_NE(fifo.status().message().find("fifo.yaml: cannot read the rules file: is a FIFO"),
            std::string::npos)
      << fifo.status().message();
  ASSERT_FALSE(big.is_ok());
  EXPECT_NE(big.status().message().find("larger than the limit of 4194304 bytes"),
            std::string::npos)
      << big.status().message();
}

TEST(RuleSet, WarnsWhenNoRuleCanAct) {
  TempDir dir;
  dir.write("empty.yaml", rules_file("  []\n"));
  dir.write("shadow.yaml", rules_file(std::string(kOneRule) + "    mode: shadow\n"));
  dir.write("active.yaml", rules_file(kOneRule));

  auto empty = load_rule_set(dir.path() / "empty.yaml", 0);
  auto shadow = load_rule_set(dir.path() / "shadow.yaml", 0);
  auto active = load_rule_set(dir.path() / "active.yaml", 0);

  ASSERT_TRUE(empty.is_ok() && shadow.is_ok() && active.is_ok());
  ASSERT_EQ(empty.value()->warnings().size(), 1U);
  EXPECT_NE(empty.value()->warnings()[0].find("empty.yaml:7:3: no active rules"),
            std::string::npos)
      << empty.value()->warnings()[0];
  EXPECT_EQ(shadow.value()->warnings().size(), 1U);
  EXPECT_TRUE(active.value()->warnings().empty());
}

TEST(RuleSet, KeepsWhereEachRuleNamesItsQueue) {
  TempDir dir;
  dir.write("triggers.yaml", rules_file(kOneRule));

  auto loaded = load_rule_set(dir.path() / "triggers.yaml", 0);

  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(loaded.value()->rules()[0].queue_location,
            (dir.path() / "triggers.yaml").string() + ":12:12");
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
